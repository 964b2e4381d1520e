"""Host keys on the real sandbox: unknown and changed keys are refused with a message that
says what to do, and `hosts trust` lets the first through but never the second."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh
import pytest

from drove_tui.cluster.command import Command
from drove_tui.cluster.hostkeys import fingerprint
from drove_tui.cluster.pool import Cluster
from drove_tui.cluster.transport import HostKeyChanged, HostKeyUnknown
from drove_tui.loaders.inventory_file import load_inventory

if TYPE_CHECKING:  # the fixture provides it; importing conftest at run time is fragile
    from conftest import Sandbox


def _sandbox_key(sandbox: Sandbox, name: str) -> str:
    """`type base64` of host `name`'s key, as the sandbox's known_hosts records it."""
    address = sandbox.addresses[name]
    for line in sandbox.known_hosts.read_text().splitlines():
        if line.startswith(f"[{address}]:"):
            return " ".join(line.split()[1:3])
    raise AssertionError(f"{name} not in {sandbox.known_hosts}")


def _fp(key_line: str) -> str:
    return fingerprint(asyncssh.import_public_key(key_line))


def _inventory(sandbox: Sandbox, tmp_path: Path, known: str, policy: str = "strict") -> Path:
    """An inventory of host1 whose only known_hosts file is tmp_path/known_hosts."""
    kh = tmp_path / "known_hosts"
    kh.write_text(known)
    inv = tmp_path / "inventory.yaml"
    host = {
        "name": "host1",
        "address": sandbox.addresses["host1"],
        "port": 2222,
        "user": "drove",
        "identity_file": str(sandbox.identity_file),
        "known_hosts": [str(kh)],
        "host_key_policy": policy,
        "connect_timeout": 10,
    }
    inv.write_text(json.dumps({"hosts": [host]}))  # JSON is YAML
    return inv


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # HOME points at an empty directory: the user's own known_hosts vouches for nothing.
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    return subprocess.run(
        [sys.executable, "-m", "drove_tui", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


async def _connect(inventory: Path, tmp_path: Path) -> None:
    hosts = load_inventory(inventory).hosts
    async with Cluster(hosts, user_known_hosts=tmp_path / "home" / "kh") as cluster:
        await cluster.transport("host1").run(Command("true"), timeout=30)


async def test_an_unknown_host_key_is_refused_with_how_to_trust_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    inventory = _inventory(sandbox, tmp_path, known="")
    with pytest.raises(HostKeyUnknown) as refused:
        await _connect(inventory, tmp_path)
    message = str(refused.value)
    assert "host1" in message and "host key unknown" in message
    assert _fp(_sandbox_key(sandbox, "host1")) in message
    assert "drove-tui hosts trust host1" in message
    assert (tmp_path / "known_hosts").read_text() == ""


async def test_a_changed_host_key_is_refused_loudly_even_under_accept_new(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # host1's address recorded with host2's key: what a man in the middle looks like.
    wrong = f"[{sandbox.addresses['host1']}]:2222 {_sandbox_key(sandbox, 'host2')}\n"
    inventory = _inventory(sandbox, tmp_path, known=wrong, policy="accept-new")
    with pytest.raises(HostKeyChanged) as refused:
        await _connect(inventory, tmp_path)
    assert "HOST KEY CHANGED" in str(refused.value)
    assert _fp(_sandbox_key(sandbox, "host1")) in str(refused.value)
    assert (tmp_path / "known_hosts").read_text() == wrong


async def test_accept_new_records_an_unknown_key_and_connects(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    inventory = _inventory(sandbox, tmp_path, known="", policy="accept-new")
    await _connect(inventory, tmp_path)
    recorded = (tmp_path / "known_hosts").read_text()
    assert _sandbox_key(sandbox, "host1") in recorded


def test_hosts_trust_records_an_unknown_key_after_showing_its_fingerprint(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    inventory = _inventory(sandbox, tmp_path, known="")
    before = _cli(tmp_path, "hosts", "probe", "-i", str(inventory))
    assert before.returncode == 7 and "host key unknown" in before.stdout

    trusted = _cli(tmp_path, "hosts", "trust", "host1", "--yes", "-i", str(inventory))
    assert trusted.returncode == 0, trusted.stderr
    assert _fp(_sandbox_key(sandbox, "host1")) in trusted.stdout
    assert _sandbox_key(sandbox, "host1") in (tmp_path / "known_hosts").read_text()

    after = _cli(tmp_path, "hosts", "probe", "-i", str(inventory))
    assert after.returncode == 0, after.stdout + after.stderr
    assert "host1: ONLINE" in after.stdout


def test_hosts_trust_asks_before_recording_and_records_nothing_without_an_answer(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    inventory = _inventory(sandbox, tmp_path, known="")
    refused = _cli(tmp_path, "hosts", "trust", "host1", "-i", str(inventory))
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    assert (tmp_path / "known_hosts").read_text() == ""


def test_hosts_trust_never_replaces_a_changed_key(sandbox: Sandbox, tmp_path: Path) -> None:
    wrong = f"[{sandbox.addresses['host1']}]:2222 {_sandbox_key(sandbox, 'host2')}\n"
    inventory = _inventory(sandbox, tmp_path, known=wrong)
    result = _cli(tmp_path, "hosts", "trust", "host1", "--yes", "-i", str(inventory))
    assert result.returncode == 7
    assert "HOST KEY CHANGED" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "known_hosts").read_text() == wrong
    assert not (tmp_path / "home" / ".ssh" / "known_hosts").exists()
