"""Turning layers of host settings into resolved HostConfigs (shared by native and Ansible).

Precedence, lowest first: built-ins < ~/.ssh/config < inventory defaults < group vars (in
order) < the host's own entry. `tags` and `labels` are merged key by key; every other field
is replaced by the higher layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from drove_tui.errors import InvalidInput
from drove_tui.loaders.ssh_config import SshConfig
from drove_tui.models.inventory import HostConfig, Inventory, InventorySettings

MERGED_MAPS = ("tags", "labels")
PATH_FIELDS = ("identity_file",)


@dataclass
class HostLayers:
    """One host: its name and its setting layers, lowest precedence first."""

    name: str
    layers: list[dict[str, Any]] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


def normalise_tags(value: Any) -> dict[str, str]:
    """Tags as a map: a list of `key=value` or bare `key` strings becomes {key: value | ""}."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    tags: dict[str, str] = {}
    for item in value:
        key, _, tag_value = str(item).partition("=")
        tags[key.strip()] = tag_value.strip()
    return tags


def resolve_path(value: str, base: Path | None) -> str:
    """`~` expanded; a relative path is taken from the inventory file's folder."""
    path = Path(value).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    return str(path)


def merge(host: HostLayers, ssh: SshConfig | None, base: Path | None, source: str) -> HostConfig:
    """The resolved HostConfig for one host."""
    merged: dict[str, Any] = {"name": host.name, "groups": sorted(host.groups)}
    layers = list(host.layers)
    local = _last(layers, "connection") == "local"
    if ssh is not None and not local:
        layers.insert(0, dict(ssh.lookup(host.name)))
    for layer in layers:
        for key, value in layer.items():
            if value is None:
                continue
            if key in MERGED_MAPS:
                merged[key] = {**merged.get(key, {}), **normalise_tags(value)}
            elif key == "known_hosts":
                merged[key] = [resolve_path(str(v), base) for v in value]
            elif key in PATH_FIELDS:
                merged[key] = resolve_path(str(value), base)
            else:
                merged[key] = value
    merged.setdefault("address", "127.0.0.1" if local else host.name)
    try:
        return HostConfig.model_validate(merged)
    except ValidationError as err:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise InvalidInput(f"{source}: host {host.name!r}: {reasons}") from None


def _last(layers: list[dict[str, Any]], key: str) -> Any:
    value = None
    for layer in layers:
        if layer.get(key) is not None:
            value = layer[key]
    return value


def build_inventory(
    hosts: list[HostLayers],
    groups: dict[str, list[str]],
    settings: InventorySettings,
    *,
    ssh: SshConfig | None,
    source: str,
) -> Inventory:
    """The Inventory from merged hosts; an inventory with no hosts is an error."""
    if not hosts:
        raise InvalidInput(f"{source}: the inventory lists no hosts; add at least one")
    base = Path(source).resolve().parent
    resolved = [merge(host, ssh, base, source) for host in hosts]
    return Inventory(hosts=resolved, groups=groups, settings=settings, source=source)
