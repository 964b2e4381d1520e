"""Inventories resolve to HostConfigs: precedence, Ansible equivalence, ssh config, default."""

from __future__ import annotations

from pathlib import Path

import pytest

from drove_tui.errors import InvalidInput
from drove_tui.loaders.ansible import expand_range
from drove_tui.loaders.inventory_file import load_inventory
from drove_tui.loaders.ssh_config import SshConfig, parse_ssh_config

EQUIVALENT = Path(__file__).parent / "equivalent"
NO_SSH = SshConfig("none")


@pytest.mark.parametrize("other", ["ansible.yaml", "ansible.ini"])
def test_ansible_inventory_resolves_to_the_same_hosts_as_the_native_one(other: str) -> None:
    native = load_inventory(EQUIVALENT / "native.yaml", ssh_config=NO_SSH)
    ansible = load_inventory(EQUIVALENT / other, ssh_config=NO_SSH)
    assert [h.model_dump() for h in ansible.hosts] == [h.model_dump() for h in native.hosts]
    assert ansible.groups == native.groups
    host2 = native.hosts[1]
    assert host2.tags == {"zone": "a", "gpu": ""}
    assert (host2.port, host2.user, host2.reserved_cores) == (2222, "drove", 1)
    assert native.hosts[2].connection == "local"


def test_host_entry_beats_group_vars_which_beat_defaults(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(
        "defaults: {user: d, port: 2000, tags: {a: '1'}}\n"
        "groups:\n"
        "  g1: {hosts: [h], vars: {port: 2001, user: g1, tags: {b: '2'}}}\n"
        "  g2: {hosts: [h], vars: {port: 2002}}\n"
        "hosts:\n  - {name: h, address: 127.0.0.5, user: mine, tags: [c]}\n"
    )
    host = load_inventory(path, ssh_config=NO_SSH).hosts[0]
    assert (host.user, host.port) == ("mine", 2002)
    assert host.tags == {"a": "1", "b": "2", "c": ""}
    assert host.groups == ["g1", "g2"]


def test_ssh_config_fills_only_what_the_inventory_leaves_out(tmp_path: Path) -> None:
    ssh = parse_ssh_config(
        "Host web*\n  HostName 127.0.0.%h\n  Port 2200\n  User sshuser\n"
        "  IdentityFile ~/.ssh/web_key\n  ProxyJump bastion\n"
        "Host *\n  User fallback\n  Port 22\n"
        "Match host web1\n  User ignored\n",
        "ssh_config",
    )
    path = tmp_path / "inv.yaml"
    path.write_text("hosts:\n  - {name: web1, port: 2222}\n  - {name: db1}\n")
    web1, db1 = load_inventory(path, ssh_config=ssh).hosts
    assert (web1.address, web1.port, web1.user) == ("127.0.0.web1", 2222, "sshuser")
    assert web1.identity_file == str(Path.home() / ".ssh" / "web_key")
    assert web1.proxy_jump == "bastion"
    assert (db1.address, db1.port, db1.user) == ("db1", 22, "fallback")


def test_ssh_config_negated_pattern_excludes_a_host() -> None:
    ssh = parse_ssh_config("Host * !db1\n  User web\n", "cfg")
    assert ssh.lookup("web1") == {"user": "web"}
    assert ssh.lookup("db1") == {}


def test_default_ssh_config_is_read_from_home(isolated_home: Path, tmp_path: Path) -> None:
    (isolated_home / ".ssh" / "config").write_text("Host h\n  User fromhome\n")
    path = tmp_path / "inv.yaml"
    path.write_text("hosts: [{name: h}]\n")
    assert load_inventory(path).hosts[0].user == "fromhome"


def test_no_inventory_means_localhost_with_the_local_connection() -> None:
    inventory = load_inventory(None)
    assert inventory.source is None
    assert [(h.name, h.connection) for h in inventory.hosts] == [("localhost", "local")]


def test_inventory_path_may_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("hosts: [{name: envhost, address: 127.0.0.9}]\n")
    monkeypatch.setenv("DROVE_TUI_INVENTORY", str(path))
    assert [h.name for h in load_inventory(None).hosts] == ["envhost"]


def test_relative_key_paths_are_taken_from_the_inventory_folder(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("defaults: {identity_file: keys/id, known_hosts: [kh]}\nhosts: [{name: h}]\n")
    host = load_inventory(path, ssh_config=NO_SSH).hosts[0]
    assert host.identity_file == str(tmp_path / "keys" / "id")
    assert host.known_hosts == [str(tmp_path / "kh")]


def test_ansible_ini_ranges_host_port_and_nested_children(tmp_path: Path) -> None:
    path = tmp_path / "hosts"  # no extension: recognised as INI by its [section] line
    path.write_text(
        "# comment\n[web]\nweb[01:03] ansible_user=w\n[db]\ndb1:2200\n"
        "[prod:children]\nweb\ndb\n[prod:vars]\ndrove_tags=env=prod\n"
        '[web:vars]\ndrove_tags="tier=web,fast"\n'
    )
    inventory = load_inventory(path, ssh_config=NO_SSH)
    assert [h.name for h in inventory.hosts] == ["web01", "web02", "web03", "db1"]
    assert inventory.groups["prod"] == ["web01", "web02", "web03", "db1"]
    assert inventory.hosts[0].tags == {"env": "prod", "tier": "web", "fast": ""}
    assert inventory.hosts[3].port == 2200
    assert inventory.hosts[3].groups == ["db", "prod"]


def test_ansible_child_group_vars_beat_parent_group_vars(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(
        "all:\n  vars: {ansible_user: everyone}\n  children:\n"
        "    prod:\n      vars: {ansible_user: prod, ansible_port: 2201}\n      children:\n"
        "        web:\n          hosts: {w1: {ansible_port: 2299}}\n"
        "          vars: {ansible_user: web}\n"
    )
    host = load_inventory(path, ssh_config=NO_SSH).hosts[0]
    assert (host.user, host.port, host.groups) == ("web", 2299, ["prod", "web"])


def test_ansible_proxy_jump_is_taken_from_common_args(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(
        "all:\n  hosts:\n    h1: {ansible_ssh_common_args: '-o StrictHostKeyChecking=no -J jump'}\n"
    )
    assert load_inventory(path, ssh_config=NO_SSH).hosts[0].proxy_jump == "jump"


def test_expand_range_keeps_zero_padding() -> None:
    assert expand_range("n[08:10].x") == ["n08.x", "n09.x", "n10.x"]
    assert expand_range("plain") == ["plain"]


def test_duplicate_yaml_key_in_inventory_is_named(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("hosts: [{name: a}]\nhosts: [{name: b}]\n")
    with pytest.raises(InvalidInput, match=r"inv.yaml:2: hosts: the key appears twice"):
        load_inventory(path, ssh_config=NO_SSH)


def test_example_inventory_loads_and_documents_every_field() -> None:
    from drove_tui.models.inventory import HostDefaults, InventorySettings

    example = Path(__file__).parents[3] / "inventory.example.yaml"
    inventory = load_inventory(example, ssh_config=NO_SSH)
    assert [h.name for h in inventory.hosts] == ["host1", "host2", "workstation"]
    text = example.read_text()
    for name in [*HostDefaults.model_fields, *InventorySettings.model_fields]:
        assert f"{name}:" in text, f"inventory.example.yaml does not document {name}"


def test_ansible_yaml_may_carry_drove_settings(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(
        "all:\n  vars:\n    drove_settings: {probe_interval_s: 3, placement: spread}\n"
        "  hosts: {h1: }\n"
    )
    settings = load_inventory(path, ssh_config=NO_SSH).settings
    assert (settings.probe_interval_s, settings.placement) == (3, "spread")


def test_ssh_config_accepts_equals_quotes_and_comments() -> None:
    ssh = parse_ssh_config(
        '# comment\nHost=h1\n  User = "a b"\n  port=2201 # trailing\n  IdentityFile "~/k 1"\n',
        "cfg",
    )
    found = ssh.lookup("h1")
    assert found["user"] == "a b"
    assert found["port"] == 2201
    assert found["identity_file"] == str(Path.home() / "k 1")


def test_ssh_config_bad_port_names_the_file_and_host() -> None:
    ssh = parse_ssh_config("Host h1\n  Port twenty\n", "/etc/cfg")
    with pytest.raises(InvalidInput, match=r"/etc/cfg: Port 'twenty' for h1 is not a port"):
        ssh.lookup("h1")


def test_ssh_config_equals_sign_inside_a_value_is_kept() -> None:
    ssh = parse_ssh_config("Host h1\n  IdentityFile /keys/a=b\n  ProxyJump=j@x:22\n", "cfg")
    assert ssh.lookup("h1") == {"identity_file": "/keys/a=b", "proxy_jump": "j@x:22"}


def test_tags_with_empty_or_numeric_values_are_text(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("hosts:\n  - {name: h, tags: {gpu: , zone: 1}, labels: {rack: 7}}\n")
    host = load_inventory(path, ssh_config=NO_SSH).hosts[0]
    assert host.tags == {"gpu": "", "zone": "1"}
    assert host.labels == {"rack": "7"}
