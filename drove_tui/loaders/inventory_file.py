"""Inventory files: drove-tui's native YAML, or an Ansible inventory (YAML or INI).

With no file (no -i and no DROVE_TUI_INVENTORY) the inventory is this machine alone, reached
without SSH. Values the inventory leaves out come from ~/.ssh/config.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from drove_tui.errors import InvalidInput
from drove_tui.loaders import ansible
from drove_tui.loaders.errors import problems, validation_error
from drove_tui.loaders.inventory_merge import HostLayers, build_inventory
from drove_tui.loaders.source import Document, parse, read_text
from drove_tui.loaders.ssh_config import SshConfig, load_ssh_config
from drove_tui.models.inventory import Inventory, InventoryFile, localhost_inventory

WHAT = "inventory"
ENV_VAR = "DROVE_TUI_INVENTORY"
NATIVE_KEYS = frozenset(InventoryFile.model_fields)
_INI_SECTION = re.compile(r"^\s*\[[^\]\n]+\]\s*$", re.MULTILINE)


def load_inventory(
    path: str | Path | None = None, *, ssh_config: Path | SshConfig | None = None
) -> Inventory:
    """The inventory at `path` (else $DROVE_TUI_INVENTORY, else localhost only).

    `ssh_config` is the ssh client config to fill gaps from (default ~/.ssh/config).
    """
    if path is None:
        path = os.environ.get(ENV_VAR) or None
    if path is None:
        return localhost_inventory()
    ssh = ssh_config if isinstance(ssh_config, SshConfig) else load_ssh_config(ssh_config)
    text, source = read_text(path, WHAT)
    if _looks_like_ini(text, source):
        hosts, groups = ansible.parse_ini(text, source)
        return build_inventory(hosts, groups, ansible.settings(), ssh=ssh, source=source)
    doc = parse(text, source)
    if not isinstance(doc.data, dict):
        raise InvalidInput(
            f"{source}: an inventory holds a mapping (hosts:, groups:, ... or Ansible's all:), "
            f"not {type(doc.data).__name__}"
        )
    if _is_native(doc.data):
        return _native(doc, ssh)
    hosts, groups, settings = ansible.parse_yaml(doc)
    return build_inventory(hosts, groups, settings, ssh=ssh, source=source)


def _looks_like_ini(text: str, source: str) -> bool:
    if Path(source).suffix.lower() in (".ini", ".cfg"):
        return True
    if Path(source).suffix.lower() in (".yaml", ".yml", ".json"):
        return False
    first = next(
        (ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(("#", ";"))),
        "",
    )
    return bool(_INI_SECTION.match(first))


def _is_native(data: dict[str, Any]) -> bool:
    # Ansible writes hosts as a mapping under a group; native hosts are a list.
    if isinstance(data.get("hosts"), list):
        return True
    return "all" not in data and set(data) <= NATIVE_KEYS and "hosts" in data


def _native(doc: Document, ssh: SshConfig) -> Inventory:
    try:
        file = InventoryFile.model_validate(doc.data)
    except ValidationError as err:
        raise validation_error(err, doc, InventoryFile, WHAT) from None
    details: list[str] = []
    names = [h.name for h in file.hosts]
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            line = doc.line_of(("hosts", index, "name"))
            details.append(f"{doc.source}:{line}: hosts[{index}].name: {name!r} appears twice")
        seen.add(name)
    for group, config in file.groups.items():
        if group in seen:
            line = doc.line_of(("groups", group))
            details.append(f"{doc.source}:{line}: groups.{group}: is also a host name")
        for index, member in enumerate(config.hosts):
            if member not in seen:
                line = doc.line_of(("groups", group, "hosts", index))
                details.append(
                    f"{doc.source}:{line}: groups.{group}.hosts[{index}]: no host named "
                    f"{member!r}; hosts are {', '.join(names) or '(none)'}"
                )
    if details:
        raise problems(doc.source, WHAT, details)
    defaults = file.defaults.model_dump(exclude_none=True)
    members = {group: set(config.hosts) for group, config in file.groups.items()}
    group_vars = {g: c.vars.model_dump(exclude_none=True) for g, c in file.groups.items()}
    layers: list[HostLayers] = []
    for entry in file.hosts:
        host = HostLayers(entry.name, [defaults])
        for group in file.groups:
            if entry.name in members[group]:
                host.groups.append(group)
                host.layers.append(group_vars[group])
        host.layers.append(entry.model_dump(exclude_none=True, exclude={"name"}))
        layers.append(host)
    groups = {group: list(config.hosts) for group, config in file.groups.items()}
    return build_inventory(layers, groups, file.settings, ssh=ssh, source=doc.source)
