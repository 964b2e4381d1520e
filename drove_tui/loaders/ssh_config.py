"""Just enough of OpenSSH's client config to fill in what an inventory leaves out.

Read: HostName, Port, User, IdentityFile, ProxyJump, in `Host` blocks (globs, `!negation`).
As in ssh, the first value found for a keyword wins. `Match` blocks are skipped (their
conditions need a live connection) and `Include` is not followed; docs/inventory.md says so.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from drove_tui.errors import InvalidInput

_KEYWORD = re.compile(r"([A-Za-z]+)(?:\s*=\s*|\s+)(.*)")
KEYWORDS = {
    "hostname": "address",
    "port": "port",
    "user": "user",
    "identityfile": "identity_file",
    "proxyjump": "proxy_jump",
}


@dataclass
class _Block:
    patterns: list[str]
    options: list[tuple[str, str]] = field(default_factory=list)

    def matches(self, host: str) -> bool:
        positive = False
        for pattern in self.patterns:
            if pattern.startswith("!"):
                if fnmatch.fnmatchcase(host, pattern[1:]):
                    return False
            elif fnmatch.fnmatchcase(host, pattern):
                positive = True
        return positive


@dataclass
class SshConfig:
    """A parsed ssh client config; `lookup(host)` gives HostConfig field values."""

    source: str
    blocks: list[_Block] = field(default_factory=list)

    def lookup(self, host: str) -> dict[str, str | int]:
        """Values for `host` keyed by HostConfig field name (address, port, user, ...)."""
        found: dict[str, str | int] = {}
        for block in self.blocks:
            if not block.matches(host):
                continue
            for keyword, value in block.options:
                name = KEYWORDS[keyword]
                if name not in found:
                    found[name] = self._value(name, value, host)
        return found

    def _value(self, name: str, value: str, host: str) -> str | int:
        if name == "port":
            if not value.isdigit() or not 0 < int(value) < 65536:
                raise InvalidInput(f"{self.source}: Port {value!r} for {host} is not a port")
            return int(value)
        if name == "identity_file":
            value = value.replace("%h", host).replace("%d", str(Path.home()))
            return str(Path(value.replace("%%", "%")).expanduser())
        if name == "address":
            return value.replace("%h", host).replace("%%", "%")
        return value


def parse_ssh_config(text: str, source: str) -> SshConfig:
    """Parse the text of an ssh client config."""
    config = SshConfig(source)
    # Options before any Host line apply to every host.
    first = _Block(["*"])
    config.blocks.append(first)
    current: _Block | None = first
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # "Keyword value" or "Keyword=value"; an "=" inside the value is part of it.
        match = _KEYWORD.match(line)
        if match is None:
            continue
        keyword, rest = match.group(1).lower(), match.group(2)
        try:
            values = shlex.split(rest, comments=True)
        except ValueError:
            raise InvalidInput(f"{source}:{number}: unbalanced quotes in {raw.strip()!r}") from None
        if keyword == "host":
            current = _Block(values)
            config.blocks.append(current)
        elif keyword == "match":
            current = None  # conditions we cannot evaluate: skip the block
        elif current is not None and keyword in KEYWORDS and values:
            current.options.append((keyword, values[0]))
    return config


def load_ssh_config(path: Path | None = None) -> SshConfig:
    """The user's ssh config (default ~/.ssh/config); an absent file is an empty config."""
    path = path or Path.home() / ".ssh" / "config"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return SshConfig(str(path))
    except OSError as err:
        raise InvalidInput(f"{path}: cannot read the ssh config ({err.strerror})") from None
    return parse_ssh_config(text, str(path))
