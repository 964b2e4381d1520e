"""Host keys: which known_hosts files apply, how a key is judged, and how trust is recorded.

Verification is always on. The files are the inventory's `known_hosts` list plus the user's
`~/.ssh/known_hosts`; they are re-read at every connection so that `drove-tui hosts trust`
takes effect without a restart. An unknown key is refused unless the host's policy is
`accept-new` (then it is recorded); a key that differs from a recorded one is always refused.
There is deliberately no code path that hands asyncssh `known_hosts=None`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncssh

from drove_tui.cluster.transport import SSH_ERROR, HostKeyChanged, HostKeyUnknown, Unreachable

if TYPE_CHECKING:
    from drove_tui.models.inventory import HostConfig


def user_known_hosts() -> Path:
    """The user's own known_hosts file (~/.ssh/known_hosts, honouring $HOME)."""
    return Path.home() / ".ssh" / "known_hosts"


def known_hosts_files(host: HostConfig, user_file: Path | None = None) -> list[Path]:
    """Every known_hosts file that applies to `host`: the inventory's, then the user's."""
    files = [Path(p).expanduser() for p in host.known_hosts]
    files.append(user_file if user_file is not None else user_known_hosts())
    return files


def trust_file(host: HostConfig, user_file: Path | None = None) -> Path:
    """Where a newly trusted key is recorded: the inventory's first file, else the user's."""
    return known_hosts_files(host, user_file)[0]


def load_known_hosts(files: list[Path]) -> asyncssh.SSHKnownHosts:
    """All entries of the files that exist, as one asyncssh object (never None)."""
    known = asyncssh.SSHKnownHosts()
    for path in files:
        if path.is_file():
            known.load(path.read_text(encoding="utf-8", errors="replace"))
    return known


def lookup_name(address: str, port: int) -> str:
    """How OpenSSH names the host in known_hosts: `addr`, or `[addr]:port` off port 22."""
    return address if port == 22 else f"[{address}]:{port}"


def fingerprint(key: asyncssh.SSHKey) -> str:
    """The SHA256 fingerprint OpenSSH shows, e.g. `SHA256:abc...`."""
    fp: str = key.get_fingerprint("sha256")
    return fp


def recorded_keys(known: asyncssh.SSHKnownHosts, address: str, port: int) -> list[asyncssh.SSHKey]:
    """The keys recorded for address:port (port 22 entries carry no port, as in OpenSSH)."""
    result: Any = asyncssh.match_known_hosts(known, address, address, port if port != 22 else None)
    # The same line matches as host name and as address: keep each key once.
    unique = {fingerprint(key): key for key in result[0]}
    return list(unique.values())


def record_key(path: Path, address: str, port: int, key: asyncssh.SSHKey) -> None:
    """Append one known_hosts line for address:port; create the file 0600 if needed."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = f"{lookup_name(address, port)} {key.export_public_key('openssh').decode().strip()}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(line)


def unknown_message(host: HostConfig, fp: str) -> str:
    """The sentence shown when a host's key is in no known_hosts file."""
    return (
        f"{host.name} ({host.address}:{host.port}): host key unknown ({fp}); check that "
        f"fingerprint with the host's owner, then run `drove-tui hosts trust {host.name}` "
        "(or set host_key_policy: accept-new in the inventory)"
    )


def changed_message(host: HostConfig, fp: str, files: list[Path]) -> str:
    """The sentence shown when a host's key differs from the recorded one."""
    where = ", ".join(str(f) for f in files if f.is_file()) or "known_hosts"
    return (
        f"{host.name} ({host.address}:{host.port}): HOST KEY CHANGED, now {fp}; this may be "
        f"an attack (man in the middle) or a reinstalled host. Refusing to connect. If the "
        f"change is expected, remove the old entry from {where} and run "
        f"`drove-tui hosts trust {host.name}`"
    )


def changed_error(host: HostConfig, fp: str, files: list[Path]) -> HostKeyChanged:
    """The error for a host whose key differs from the recorded one."""
    return HostKeyChanged(host.name, changed_message(host, fp, files), fp)


async def fetch_host_key(
    host: HostConfig,
    tunnel: Callable[[], Awaitable[asyncssh.SSHClientConnection]] | None = None,
) -> asyncssh.SSHKey:
    """The key `host` presents, unverified: only for showing it before the user trusts it."""
    where = f"{host.name} ({host.address}:{host.port})"
    try:
        async with asyncio.timeout(host.connect_timeout):
            via: Any = () if tunnel is None else await tunnel()
            key = await asyncssh.get_server_host_key(host.address, host.port, tunnel=via)
    except TimeoutError:
        raise Unreachable(
            host.name, SSH_ERROR, f"{where}: no answer within {host.connect_timeout:g} s"
        ) from None
    except (OSError, asyncssh.Error) as err:
        raise Unreachable(host.name, SSH_ERROR, f"{where}: cannot get its key: {err}") from None
    if key is None:
        raise Unreachable(host.name, SSH_ERROR, f"{where}: presented no host key")
    return key


@dataclass
class HostKeyCheck:
    """Judges the key a host presents during one connection attempt.

    asyncssh accepts a key found in `known` by itself and asks `validate` only about keys it
    did not find; `refusal` then tells the caller why the handshake was refused.
    """

    host: HostConfig
    files: list[Path]
    known: asyncssh.SSHKnownHosts = field(init=False)
    refusal: HostKeyUnknown | HostKeyChanged | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.known = load_known_hosts(self.files)

    def validate(self, key: asyncssh.SSHKey) -> bool:
        """True when `key` may be used for this host (only new keys under accept-new)."""
        fp = fingerprint(key)
        recorded = recorded_keys(self.known, self.host.address, self.host.port)
        if recorded:
            self.refusal = changed_error(self.host, fp, self.files)
            return False
        if self.host.host_key_policy == "accept-new":
            record_key(self.files[0], self.host.address, self.host.port, key)
            return True
        self.refusal = HostKeyUnknown(self.host.name, unknown_message(self.host, fp), fp)
        return False
