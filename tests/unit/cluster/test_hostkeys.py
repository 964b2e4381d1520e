"""Host key judgement: known keys pass, unknown are refused (or recorded), changed never pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncssh

from drove_tui.cluster import hostkeys
from drove_tui.cluster.transport import HostKeyChanged, HostKeyUnknown
from drove_tui.models.inventory import HostConfig


def _host(tmp_path: Path, **extra: Any) -> HostConfig:
    kh = tmp_path / "inv_known_hosts"
    return HostConfig(name="h1", address="127.0.3.11", port=2222, known_hosts=[str(kh)], **extra)


def _check(host: HostConfig, tmp_path: Path) -> hostkeys.HostKeyCheck:
    return hostkeys.HostKeyCheck(host, hostkeys.known_hosts_files(host, tmp_path / "user_kh"))


def test_an_unknown_key_is_refused_with_its_fingerprint_and_the_trust_command(
    tmp_path: Path,
) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    check = _check(_host(tmp_path), tmp_path)
    assert not check.validate(key)
    assert isinstance(check.refusal, HostKeyUnknown)
    message = str(check.refusal)
    assert hostkeys.fingerprint(key) in message
    assert "drove-tui hosts trust h1" in message
    assert not (tmp_path / "inv_known_hosts").exists()


def test_accept_new_records_an_unknown_key_in_the_inventory_file(tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    host = _host(tmp_path, host_key_policy="accept-new")
    assert _check(host, tmp_path).validate(key)
    recorded = (tmp_path / "inv_known_hosts").read_text()
    assert recorded.startswith("[127.0.3.11]:2222 ssh-ed25519 ")
    assert (tmp_path / "inv_known_hosts").stat().st_mode & 0o777 == 0o600
    # Recorded means known: the next connection finds it without asking.
    again = _check(host, tmp_path)
    found = hostkeys.recorded_keys(again.known, "127.0.3.11", 2222)
    assert [hostkeys.fingerprint(k) for k in found] == [hostkeys.fingerprint(key)]


def test_a_changed_key_is_refused_even_under_accept_new(tmp_path: Path) -> None:
    old, new = (asyncssh.generate_private_key("ssh-ed25519") for _ in range(2))
    host = _host(tmp_path, host_key_policy="accept-new")
    hostkeys.record_key(tmp_path / "user_kh", host.address, host.port, old)
    check = _check(host, tmp_path)
    assert not check.validate(new)
    assert isinstance(check.refusal, HostKeyChanged)
    assert "HOST KEY CHANGED" in str(check.refusal)
    assert str(tmp_path / "user_kh") in str(check.refusal)
    assert (tmp_path / "user_kh").read_text().count("\n") == 1  # nothing was added


def test_trust_goes_to_the_inventory_file_first_else_the_users(tmp_path: Path) -> None:
    user = tmp_path / "user_kh"
    assert hostkeys.trust_file(_host(tmp_path), user) == tmp_path / "inv_known_hosts"
    bare = HostConfig(name="h2", address="x")
    assert hostkeys.trust_file(bare, user) == user


def test_port_22_entries_are_named_without_a_port() -> None:
    assert hostkeys.lookup_name("10.0.0.1", 22) == "10.0.0.1"
    assert hostkeys.lookup_name("10.0.0.1", 2222) == "[10.0.0.1]:2222"
