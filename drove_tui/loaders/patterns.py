"""Host patterns, as every command that takes hosts understands them.

A pattern is a comma-separated list of terms, read left to right:
`name`, a glob (`web*`, matched against host and group names), a group name,
`tag:key` or `tag:key=value`, `all` or `*`; `!term` removes hosts, `&term` keeps only hosts
also in term. Hosts come back in inventory order. A term that matches nothing is an error,
so a typo never silently selects fewer hosts.
"""

from __future__ import annotations

import fnmatch

from drove_tui.errors import InvalidInput
from drove_tui.models.inventory import HostConfig, Inventory

_GLOB_CHARS = frozenset("*?[")


def select_hosts(inventory: Inventory, pattern: str | None = None) -> list[HostConfig]:
    """The hosts of `inventory` that `pattern` selects (None or '' = all)."""
    if pattern is None or not pattern.strip():
        return list(inventory.hosts)
    terms = [t.strip() for t in pattern.split(",") if t.strip()]
    if not terms:  # ',' must not quietly mean every host
        raise InvalidInput(f"host pattern {pattern!r} names no host; give a name, group or tag:")
    selected: set[str] = set()
    if all(term.startswith("!") for term in terms):
        selected = {h.name for h in inventory.hosts}  # only exclusions: start from all
    for term in terms:
        if term.startswith("!"):
            selected -= _match(inventory, term[1:].strip())
        elif term.startswith("&"):
            selected &= _match(inventory, term[1:].strip())
        else:
            selected |= _match(inventory, term)
    if not selected:
        raise InvalidInput(f"host pattern {pattern!r} selects no hosts")
    return [h for h in inventory.hosts if h.name in selected]


def _match(inventory: Inventory, term: str) -> set[str]:
    found = _matching(inventory, term)
    if not found:
        raise InvalidInput(
            f"host pattern term {term!r} matches no host, group or tag; "
            f"hosts: {_listing([h.name for h in inventory.hosts])}; "
            f"groups: {_listing(list(inventory.groups))}"
        )
    return found


def _matching(inventory: Inventory, term: str) -> set[str]:
    if term in ("all", "*"):
        return {h.name for h in inventory.hosts}
    if term.startswith("tag:"):
        key, has_value, value = term[4:].partition("=")
        return {
            h.name
            for h in inventory.hosts
            if key in h.tags and (not has_value or h.tags[key] == value)
        }
    names = {h.name for h in inventory.hosts}
    if _GLOB_CHARS & set(term):
        found = {n for n in names if fnmatch.fnmatchcase(n, term)}
        for group, members in inventory.groups.items():
            if fnmatch.fnmatchcase(group, term):
                found |= set(members)
        return found
    found = {term} & names
    found |= set(inventory.groups.get(term, ()))
    return found


def _listing(names: list[str], limit: int = 20) -> str:
    if not names:
        return "(none)"
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
