"""Ansible inventories (YAML and INI), read as the hosts drove-tui may use.

Understood: groups with `hosts`, `vars` and `children` (all hosts are in `all`), host ranges
like `web[01:03]`, and the connection variables ansible_host, ansible_port, ansible_user,
ansible_ssh_private_key_file, ansible_connection (ssh or local) and `-J`/ProxyJump in
ansible_ssh_common_args. drove-tui's own host settings are `drove_<field>` vars (drove_tags,
drove_reserved_cores, ...). Other variables belong to Ansible and are ignored.
Precedence as in Ansible: all < parent groups < child groups (same depth: by name) < host.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from drove_tui.loaders.errors import problems
from drove_tui.loaders.inventory_merge import HostLayers
from drove_tui.loaders.source import Document
from drove_tui.models.inventory import HostDefaults, InventorySettings

WHAT = "inventory"
ANSIBLE_FIELDS = {
    "ansible_host": "address",
    "ansible_ssh_host": "address",
    "ansible_port": "port",
    "ansible_ssh_port": "port",
    "ansible_user": "user",
    "ansible_ssh_user": "user",
    "ansible_ssh_private_key_file": "identity_file",
    "ansible_private_key_file": "identity_file",
}
SSH_CONNECTIONS = frozenset({"ssh", "smart", "paramiko", "paramiko_ssh"})
_RANGE = re.compile(r"\[([0-9]+):([0-9]+)\]")
MAX_RANGE = 10_000
_PROXY = re.compile(r"(?:-J\s*|ProxyJump[= ])(\S+)")


@dataclass
class _Tree:
    """Groups as Ansible sees them, before precedence is applied."""

    source: str
    hosts: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    group_vars: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def group(self, name: str) -> None:
        self.members.setdefault(name, [])
        self.children.setdefault(name, [])
        self.group_vars.setdefault(name, [])

    def add_host(self, group: str, name: str, where: str, host_vars: dict[str, Any]) -> None:
        self.group(group)
        try:
            names = expand_range(name)
        except ValueError as err:
            self.errors.append(f"{where}: {err}")
            return
        for expanded in names:
            if expanded not in self.members[group]:
                self.members[group].append(expanded)
            self.hosts.setdefault(expanded, []).append((where, host_vars))


def expand_range(name: str) -> list[str]:
    """`web[01:03]` -> web01, web02, web03 (numeric ranges keep their zero padding)."""
    match = _RANGE.search(name)
    if match is None:
        return [name]
    start, end = match.group(1), match.group(2)
    if int(end) < int(start) or int(end) - int(start) >= MAX_RANGE:
        raise ValueError(
            f"host range {name!r}: write [FIRST:LAST] with FIRST <= LAST and at most "
            f"{MAX_RANGE} hosts"
        )
    width = len(start) if start.startswith("0") else 0
    names: list[str] = []
    for number in range(int(start), int(end) + 1):
        names.extend(
            expand_range(name[: match.start()] + str(number).zfill(width) + name[match.end() :])
        )
    return names


def to_fields(ansible_vars: dict[str, Any], where: str, tree: _Tree) -> dict[str, Any]:
    """The HostConfig fields Ansible variables give; problems are added to tree.errors."""
    fields: dict[str, Any] = {}
    written: dict[str, str] = {"connection": "ansible_connection"}  # field -> var as written
    for key, value in ansible_vars.items():
        key = str(key)
        if key in ANSIBLE_FIELDS:
            fields[ANSIBLE_FIELDS[key]] = value
            written[ANSIBLE_FIELDS[key]] = key
        elif key == "ansible_connection":
            if value == "local":
                fields["connection"] = "local"
            elif value in SSH_CONNECTIONS:
                fields["connection"] = "ssh"
            else:
                tree.errors.append(
                    f"{where}.ansible_connection: given {value!r}; drove-tui reaches hosts "
                    "over ssh or local only"
                )
        elif key in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
            proxy = _PROXY.search(str(value))
            if proxy:
                fields["proxy_jump"] = proxy.group(1)
        elif key.startswith("drove_") and key != "drove_settings":
            name = key.removeprefix("drove_")
            if name not in HostDefaults.model_fields:
                allowed = ", ".join(f"drove_{n}" for n in HostDefaults.model_fields)
                tree.errors.append(f"{where}.{key}: is not a known field; allowed: {allowed}")
                continue
            fields[name] = _structured(name, value)
    try:
        HostDefaults.model_validate(fields)
    except ValidationError as err:
        for error in err.errors():
            name = str(error["loc"][0])
            var = written.get(name, f"drove_{name}")
            given = repr(error.get("input"))[:60]
            message = error["msg"].replace("Input should", "should")
            tree.errors.append(f"{where}.{var}: given {given}; {message}")
    return fields


def _structured(name: str, value: Any) -> Any:
    """INI gives every value as text; tags/labels/known_hosts may be written `a=1,b`."""
    if not isinstance(value, str) or name not in ("tags", "labels", "known_hosts"):
        return value
    if value.lstrip().startswith(("{", "[")):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value  # left as text: validation then names the variable and its value
    items = [item.strip() for item in value.split(",") if item.strip()]
    if name == "known_hosts":
        return items
    return dict((k.strip(), v.strip()) for k, _, v in (i.partition("=") for i in items))


# --- YAML -------------------------------------------------------------------------------------


def parse_yaml(doc: Document) -> tuple[list[HostLayers], dict[str, list[str]], InventorySettings]:
    """Hosts, groups and settings from an Ansible YAML inventory."""
    tree = _Tree(doc.source)
    tree.group("all")
    data: dict[str, Any] = doc.data
    for name, body in data.items():
        _yaml_group(tree, doc, str(name), body, (str(name),))
    if "all" not in data:
        tree.children["all"] = [g for g in data if g != "all"]
    settings = _settings(doc, tree)
    return (*_resolve(tree), settings)


def _yaml_group(tree: _Tree, doc: Document, name: str, body: Any, path: tuple[str, ...]) -> None:
    where = _where(doc, path)
    tree.group(name)
    if body is None:
        return
    if not isinstance(body, dict):
        tree.errors.append(f"{where}: a group is a mapping of hosts/vars/children")
        return
    for key in body:
        if key not in ("hosts", "vars", "children"):
            tree.errors.append(
                f"{_where(doc, (*path, key))}: is not a group field; allowed: hosts, vars, children"
            )
    hosts = body.get("hosts") or {}
    if not isinstance(hosts, dict):
        tree.errors.append(f"{_where(doc, (*path, 'hosts'))}: hosts is a mapping of name: vars")
        hosts = {}
    for host, host_vars in hosts.items():
        host_where = _where(doc, (*path, "hosts", host))
        if host_vars is not None and not isinstance(host_vars, dict):
            tree.errors.append(f"{host_where}: host vars are a mapping")
            host_vars = None
        tree.add_host(name, str(host), host_where, to_fields(host_vars or {}, host_where, tree))
    group_vars = body.get("vars") or {}
    vars_where = _where(doc, (*path, "vars"))
    if isinstance(group_vars, dict):
        tree.group_vars[name].append((vars_where, to_fields(group_vars, vars_where, tree)))
    else:
        tree.errors.append(f"{vars_where}: vars is a mapping of name: value")
    children = body.get("children") or {}
    if not isinstance(children, dict):
        tree.errors.append(f"{_where(doc, (*path, 'children'))}: children is a mapping of groups")
        children = {}
    for child, child_body in children.items():
        if str(child) not in tree.children[name]:
            tree.children[name].append(str(child))
        _yaml_group(tree, doc, str(child), child_body, (*path, "children", str(child)))


def _where(doc: Document, path: tuple[str, ...]) -> str:
    line = doc.line_of(path)
    return f"{doc.source}:{line}: {'.'.join(path)}" if line else f"{doc.source}: {'.'.join(path)}"


def _settings(doc: Document, tree: _Tree) -> InventorySettings:
    top = doc.data.get("all") if isinstance(doc.data, dict) else None
    all_vars = top.get("vars") if isinstance(top, dict) else None
    raw = all_vars.get("drove_settings") if isinstance(all_vars, dict) else None
    if raw is None:
        return InventorySettings()
    try:
        return InventorySettings.model_validate(raw)
    except ValidationError as err:
        for error in err.errors():
            tree.errors.append(f"{_where(doc, ('all', 'vars', 'drove_settings'))}: {error['msg']}")
        return InventorySettings()


# --- INI --------------------------------------------------------------------------------------


def parse_ini(text: str, source: str) -> tuple[list[HostLayers], dict[str, list[str]]]:
    """Hosts and groups from an Ansible INI inventory."""
    tree = _Tree(source)
    tree.group("all")
    tree.group("ungrouped")
    group, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"{source}:{number}"
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                tree.errors.append(f"{where}: section header {line!r} lacks its closing ']'")
                continue
            group, _, kind = line[1:-1].strip().partition(":")
            kind = kind or "hosts"
            if kind not in ("hosts", "vars", "children"):
                tree.errors.append(f"{where}: [{group}:{kind}]: use :vars or :children")
            tree.group(group)
            continue
        try:
            # shlex is slow; most lines need no quoting rules at all.
            plain = not any(c in line for c in "'\"#\\")
            tokens = line.split() if plain else shlex.split(line, comments=True)
        except ValueError:
            tree.errors.append(f"{where}: unbalanced quotes in {line!r}")
            continue
        if not tokens:
            continue
        if kind == "hosts":
            pairs = dict(t.partition("=")[::2] for t in tokens[1:])
            bad = [t for t in tokens[1:] if "=" not in t]
            if bad:
                tree.errors.append(f"{where}: {tokens[0]}: {bad[0]!r} is not key=value")
            name, colon, port = tokens[0].rpartition(":")
            if colon and port.isdigit() and "]" not in port:
                pairs.setdefault("ansible_port", port)  # Ansible's `host:port` form
            else:
                name = tokens[0]
            host_where = f"{where}: [{group}] {name}"
            tree.add_host(group, name, host_where, to_fields(pairs, host_where, tree))
        elif kind == "vars":
            key, eq, value = line.partition("=")
            if not eq:
                tree.errors.append(f"{where}: [{group}:vars] {line!r} is not key=value")
                continue
            vars_where = f"{where}: [{group}:vars]"
            fields = to_fields({key.strip(): _ini_value(value)}, vars_where, tree)
            tree.group_vars[group].append((vars_where, fields))
        elif kind == "children":
            tree.group(tokens[0])
            if tokens[0] not in tree.children[group]:
                tree.children[group].append(tokens[0])
    tree.children["all"] = [g for g in tree.members if g != "all"]
    return _resolve(tree)


def _ini_value(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


# --- Precedence -------------------------------------------------------------------------------


def _resolve(tree: _Tree) -> tuple[list[HostLayers], dict[str, list[str]]]:
    if tree.errors:
        raise problems(tree.source, WHAT, tree.errors)
    depth = _depths(tree)
    order = sorted(depth, key=lambda g: (depth[g], g))
    parents = _parents(tree)
    direct: dict[str, list[str]] = {}
    for group, members in tree.members.items():
        for member in members:
            direct.setdefault(member, []).append(group)
    hosts: list[HostLayers] = []
    groups: dict[str, list[str]] = {}
    for name in tree.hosts:
        ancestors = _ancestors(parents, direct.get(name, []))
        layer = HostLayers(name)
        for group in order:
            if group in ancestors:
                layer.layers.extend(fields for _, fields in tree.group_vars[group])
                if group not in ("all", "ungrouped"):
                    layer.groups.append(group)
                    groups.setdefault(group, []).append(name)
        layer.layers.extend(fields for _, fields in tree.hosts[name])
        hosts.append(layer)
    for group in tree.members:
        if group not in ("all", "ungrouped"):
            groups.setdefault(group, [])
    return hosts, groups


def _depths(tree: _Tree) -> dict[str, int]:
    depth = {"all": 0}
    frontier = ["all"]
    while frontier:
        parent = frontier.pop()
        for child in tree.children.get(parent, []):
            if depth.get(child, -1) < depth[parent] + 1 and depth[parent] < len(tree.members):
                depth[child] = depth[parent] + 1
                frontier.append(child)
    for group in tree.members:
        depth.setdefault(group, 1)
    return depth


def _parents(tree: _Tree) -> dict[str, set[str]]:
    parents: dict[str, set[str]] = {}
    for parent, children in tree.children.items():
        for child in children:
            parents.setdefault(child, set()).add(parent)
    return parents


def _ancestors(parents: dict[str, set[str]], direct: list[str]) -> set[str]:
    found: set[str] = {"all"}
    stack = list(direct)
    while stack:
        group = stack.pop()
        if group not in found:
            found.add(group)
            stack.extend(parents.get(group, ()))
    return found


def settings() -> InventorySettings:
    """Settings of an INI inventory (INI has no place for them: the defaults)."""
    return InventorySettings()
