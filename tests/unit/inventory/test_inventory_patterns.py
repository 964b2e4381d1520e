"""Host patterns select the hosts every command acts on."""

from __future__ import annotations

import pytest

from drove_tui.errors import InvalidInput
from drove_tui.loaders.patterns import select_hosts
from drove_tui.models.inventory import HostConfig, Inventory


def _inventory() -> Inventory:
    hosts = [
        HostConfig(name="web1", address="127.0.0.11", tags={"zone": "a"}, groups=["web"]),
        HostConfig(
            name="web2", address="127.0.0.12", tags={"zone": "b", "gpu": ""}, groups=["web", "gpu"]
        ),
        HostConfig(name="db1", address="127.0.0.13", groups=["db"]),
    ]
    groups = {"web": ["web1", "web2"], "gpu": ["web2"], "db": ["db1"]}
    return Inventory(hosts=hosts, groups=groups)


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        (None, ["web1", "web2", "db1"]),
        ("all", ["web1", "web2", "db1"]),
        ("*", ["web1", "web2", "db1"]),
        ("db1", ["db1"]),
        ("web", ["web1", "web2"]),
        ("w*", ["web1", "web2"]),
        ("tag:gpu", ["web2"]),
        ("tag:zone", ["web1", "web2"]),
        ("tag:zone=a", ["web1"]),
        ("db1,web1", ["web1", "db1"]),
        ("!web", ["db1"]),
        ("all,!tag:gpu", ["web1", "db1"]),
        ("web,&tag:zone=b", ["web2"]),
        (" web1 , db1 ", ["web1", "db1"]),
    ],
)
def test_pattern_selects_hosts_in_inventory_order(pattern: str | None, names: list[str]) -> None:
    assert [h.name for h in select_hosts(_inventory(), pattern)] == names


def test_term_matching_nothing_names_the_term_and_what_exists() -> None:
    with pytest.raises(InvalidInput) as caught:
        select_hosts(_inventory(), "web1,wbe2")
    message = str(caught.value)
    assert "'wbe2' matches no host, group or tag" in message
    assert "hosts: web1, web2, db1" in message
    assert "groups: web, gpu, db" in message


def test_pattern_selecting_nothing_in_the_end_is_an_error() -> None:
    with pytest.raises(InvalidInput, match="'web,!web' selects no hosts"):
        select_hosts(_inventory(), "web,!web")
