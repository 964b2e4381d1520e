"""`drove-tui inventory show [PATTERN]`: the hosts as drove-tui resolved them."""

from __future__ import annotations

import argparse
import json
from typing import Any

from drove_tui.commands import CommandGroup, add_json_option
from drove_tui.commands.output import table_lines
from drove_tui.errors import ExitCode

COLUMNS = ("NAME", "ADDRESS", "PORT", "USER", "CONN", "GROUPS", "TAGS")


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the `inventory` command group to the root parser."""
    group = CommandGroup(subparsers, common, "inventory", "show the inventory's hosts, resolved")
    show = group.add(
        "show", show_hosts, "hosts with every default merged (groups, defaults, ~/.ssh/config)"
    )
    show.add_argument(
        "pattern", nargs="?", metavar="PATTERN", help="host pattern, e.g. 'web,!host3' or 'tag:gpu'"
    )
    add_json_option(show, "JSON on stdout")


def show_hosts(args: argparse.Namespace) -> int:
    """Print the selected hosts as a table, or JSON."""
    from drove_tui.loaders.inventory_file import load_inventory
    from drove_tui.loaders.patterns import select_hosts

    inventory = load_inventory(getattr(args, "inventory", None))
    hosts = select_hosts(inventory, args.pattern)
    if args.json:
        document = {
            "source": inventory.source,
            "hosts": [h.model_dump(mode="json") for h in hosts],
            "groups": inventory.groups,
            "settings": inventory.settings.model_dump(mode="json"),
        }
        print(json.dumps(document, indent=2))
        return int(ExitCode.OK)
    rows = [
        (
            h.name,
            h.address,
            str(h.port),
            h.user or "-",
            h.connection,
            ",".join(h.groups) or "-",
            ",".join(f"{k}={v}" if v else k for k, v in h.tags.items()) or "-",
        )
        for h in hosts
    ]
    for line in table_lines(COLUMNS, rows):
        print(line)
    print(f"\n{len(hosts)} host(s) from {inventory.source or 'the built-in localhost inventory'}")
    return int(ExitCode.OK)
