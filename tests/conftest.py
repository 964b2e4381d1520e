"""Shared fixtures: the real sandbox cluster (scripts/sandbox) for integration and TUI tests.

The sandbox is brought up once per session with 4 hosts and left running afterwards, so the
next run (and the benchmarks, and the demo) start warm. It honours DROVE_SANDBOX_DIR,
DROVE_SANDBOX_SUBNET and DROVE_SANDBOX_REGISTRY_PORT, so several people can each run their own.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SANDBOX_SCRIPT = REPO / "scripts" / "sandbox"
SANDBOX_HOSTS = 4
# `drove-tui --run` in tests runs in its own process, as it did before the warm server
# existed: tests that kill or signal that process mean the process that drives the task.
# tests/integration/test_warm_run.py turns the warm server on for itself.
os.environ["DROVE_TUI_WARM"] = "0"

# Folders whose tests talk to real hosts; they get the `sandbox` marker automatically.
SANDBOX_FOLDERS = ("integration", "tui")


def sandbox_script(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run scripts/sandbox with this process's environment (so its DROVE_SANDBOX_* apply)."""
    return subprocess.run(
        [sys.executable, str(SANDBOX_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Sandbox:
    """A running sandbox: where its files are and how to break and repair its hosts."""

    dir: Path
    hosts: list[str]
    addresses: dict[str, str]
    image: str
    registry: str
    inventory_path: Path = field(init=False)
    ssh_config: Path = field(init=False)
    known_hosts: Path = field(init=False)
    identity_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.inventory_path = self.dir / "inventory.yaml"
        self.ssh_config = self.dir / "ssh_config"
        self.known_hosts = self.dir / "known_hosts"
        self.identity_file = self.dir / "id_ed25519"

    def script(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run scripts/sandbox (this sandbox's environment) with args."""
        return sandbox_script(*args)

    def _control(self, *args: str) -> None:
        res = sandbox_script(*args, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"scripts/sandbox {' '.join(args)} failed: {res.stderr.strip()}")

    def stop(self, host: str, what: str) -> None:
        """Stop host's `sshd` or `docker` (new connections are refused / docker is down)."""
        self._control("stop", host, what)

    def start(self, host: str, what: str) -> None:
        """Start host's `sshd` or `docker` again (waits until it answers)."""
        self._control("start", host, what)

    def restart(self, host: str, what: str) -> None:
        """Stop then start host's `sshd` or `docker`."""
        self._control("restart", host, what)

    def cut(self, host: str) -> None:
        """Drop all TCP to and from host's sshd: connects and open sessions hang."""
        self._control("cut", host)

    def heal(self, host: str) -> None:
        """Undo cut(host)."""
        self._control("heal", host)

    def run_ssh(
        self, host: str, *argv: str, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run argv on host with plain OpenSSH (independent of drove-tui's own SSH code).

        Each argument is quoted, because ssh joins them into one remote shell line.
        """
        return subprocess.run(
            [
                "ssh",
                "-F",
                str(self.ssh_config),
                "-o",
                "ConnectTimeout=10",
                host,
                shlex.join(argv),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            check=False,
        )


@pytest.fixture(scope="session")
def sandbox() -> Sandbox:
    """The real sandbox with 4 hosts, brought up (or repaired) once per session.

    Not torn down at the end: the next session starts warm. Tests that break a host put it
    back in a `finally`.
    """
    res = sandbox_script("up", str(SANDBOX_HOSTS))
    if res.returncode != 0:
        pytest.fail(f"scripts/sandbox up {SANDBOX_HOSTS} failed:\n{res.stderr}{res.stdout}")
    root = Path(os.environ.get("DROVE_SANDBOX_DIR", "/var/tmp/drove-sandbox")).absolute()
    state = json.loads((root / "state.json").read_text())
    port = state["registry_port"]
    return Sandbox(
        dir=root,
        hosts=sorted(state["addresses"], key=lambda name: int(name.removeprefix("host"))),
        addresses=dict(state["addresses"]),
        image=state["image"],
        registry=f"127.0.0.1:{port}",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration and tests/tui as needing the sandbox."""
    tests_dir = REPO / "tests"
    for item in items:
        parts = (
            item.path.relative_to(tests_dir).parts if item.path.is_relative_to(tests_dir) else ()
        )
        if parts and parts[0] in SANDBOX_FOLDERS:
            item.add_marker(pytest.mark.sandbox)
