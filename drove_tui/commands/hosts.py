"""`drove-tui hosts list|probe|trust`: host health and capacity, and trusting host keys.

Headless, so `list` probes on the spot (one round trip per host, all hosts at once) rather
than reading a monitor's memory.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from drove_tui.commands import CommandGroup, add_json_option
from drove_tui.commands.output import table_lines
from drove_tui.errors import ExitCode, HostError, InvalidInput

if TYPE_CHECKING:
    from drove_tui.models.host import HostStatus
    from drove_tui.models.inventory import HostConfig, Inventory

COLUMNS = (
    "NAME",
    "STATE",
    "CORES FREE/TOTAL",
    "MEMORY FREE/TOTAL",
    "TASKS",
    "FOREIGN",
    "DOCKER",
    "AGE",
)


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the `hosts` command group to the root parser."""
    group = CommandGroup(subparsers, common, "hosts", "host health, capacity and host keys")
    pattern_help = "host pattern, e.g. 'web,!host3' or 'tag:gpu' (default: all)"

    listing = group.add("list", list_hosts, "probe hosts and show state, free capacity, tasks")
    listing.add_argument("pattern", nargs="?", metavar="PATTERN", help=pattern_help)
    add_json_option(listing, "JSON on stdout")

    probe = group.add("probe", probe_hosts, "probe hosts now; exit 7 when one is not ONLINE")
    probe.add_argument("pattern", nargs="?", metavar="PATTERN", help=pattern_help)

    trust = group.add(
        "trust",
        trust_hosts,
        "show hosts' key fingerprints and record them as trusted (never a changed key)",
    )
    trust.add_argument("pattern", metavar="PATTERN", help="host pattern")
    trust.add_argument("--yes", action="store_true", help="do not ask before recording a key")


def _selected(args: argparse.Namespace) -> tuple[Inventory, list[HostConfig]]:
    from drove_tui.loaders.inventory_file import load_inventory
    from drove_tui.loaders.patterns import select_hosts

    inventory = load_inventory(getattr(args, "inventory", None))
    return inventory, select_hosts(inventory, args.pattern)


async def _probe_all(inventory: Inventory, hosts: list[HostConfig]) -> list[HostStatus]:
    from drove_tui.cluster.monitor import HostMonitor
    from drove_tui.cluster.pool import Cluster

    async with Cluster(inventory) as cluster:
        monitor = HostMonitor(cluster, hosts, interval=inventory.settings.probe_interval_s)
        return await monitor.probe()


# --- list -------------------------------------------------------------------------------------


def list_hosts(args: argparse.Namespace) -> int:
    """Probe the selected hosts and print their state and free capacity."""
    inventory, hosts = _selected(args)
    import asyncio  # here, not at the top: `drove-tui --help` must not pay for it

    store_id = _store_id(args)
    statuses = asyncio.run(_probe_all(inventory, hosts))
    configs = {h.name: h for h in hosts}
    now = time.time()
    if args.json:
        document = [_json_row(s, configs[s.name], now, store_id) for s in statuses]
        print(json.dumps(document, indent=2))
        return int(ExitCode.OK)
    rows = [_text_row(s, configs[s.name], now, store_id) for s in statuses]
    for line in table_lines(COLUMNS, rows):
        print(line)
    for status in statuses:
        if status.reason:
            print(f"{status.name}: {status.reason}", file=sys.stderr)
    return int(ExitCode.OK)


def _store_id(args: argparse.Namespace) -> str | None:
    """The id of the store at the state path (label drove.owner of the containers it placed);
    None when no store was ever made there: then every managed container is foreign."""
    import os

    from drove_tui.engine.store import open_store, resolve_state_path

    path = resolve_state_path(getattr(args, "state", None))
    if not os.path.lexists(path):
        return None  # listing hosts must not create a store
    store = open_store(path)
    try:
        return store.store_id
    finally:
        store.close()


def split_by_owner(status: HostStatus, store_id: str | None) -> tuple[int, int] | None:
    """(ours, foreign): the host's managed containers this store placed and those another
    store (or an unlabelled drove-tui) placed; None when the host gave no facts."""
    if status.facts is None:
        return None
    ours = sum(1 for c in status.facts.containers if store_id and c.owner == store_id)
    return ours, len(status.facts.containers) - ours


def _capacity(status: HostStatus, host: HostConfig) -> list[Any]:
    from drove_tui.models.host import offered_capacity

    if status.facts is None:
        return []
    return offered_capacity(
        status.facts,
        reserved_cores=host.reserved_cores,
        memory_percent=host.memory_percent,
        cpu_multiplier=host.cpu_multiplier,
        memory_multiplier=host.memory_multiplier,
    )


def _age(status: HostStatus, now: float) -> str:
    return "-" if status.last_ok is None else f"{max(0.0, now - status.last_ok):.0f}s"


def _text_row(
    status: HostStatus, host: HostConfig, now: float, store_id: str | None
) -> tuple[str, ...]:
    nodes = _capacity(status, host)
    facts = status.facts
    cores = " ".join(f"n{n.id}:{n.free_core_slots}/{n.core_slots}" for n in nodes) or "-"
    free_mb = sum(n.free_memory_mb for n in nodes)
    total_mb = sum(n.memory_mb for n in nodes)
    memory = f"{free_mb}/{total_mb} MB" if nodes else "-"
    split = split_by_owner(status, store_id)
    tasks, foreign = ("-", "-") if split is None else (str(split[0]), str(split[1]))
    docker = (facts.docker_version or "down") if facts else "-"
    age = _age(status, now)
    return (status.name, status.state.value, cores, memory, tasks, foreign, docker, age)


def _json_row(
    status: HostStatus, host: HostConfig, now: float, store_id: str | None
) -> dict[str, Any]:
    row: dict[str, Any] = status.model_dump(mode="json")
    row["age_s"] = None if status.last_ok is None else round(now - status.last_ok, 3)
    split = split_by_owner(status, store_id)
    row["store_id"] = store_id
    row["containers_ours"] = None if split is None else split[0]
    row["containers_foreign"] = None if split is None else split[1]
    row["capacity"] = [
        {
            "numa": n.id,
            "cores_free": n.free_core_slots,
            "cores_total": n.core_slots,
            "memory_free_mb": n.free_memory_mb,
            "memory_total_mb": n.memory_mb,
        }
        for n in _capacity(status, host)
    ]
    return row


# --- probe ------------------------------------------------------------------------------------


def probe_hosts(args: argparse.Namespace) -> int:
    """Probe the selected hosts now; one line per host."""
    inventory, hosts = _selected(args)
    import asyncio  # here, not at the top: `drove-tui --help` must not pay for it

    statuses = asyncio.run(_probe_all(inventory, hosts))
    for status in statuses:
        facts = status.facts
        if status.state.value == "ONLINE" and facts is not None:
            print(
                f"{status.name}: ONLINE, {facts.cores} cores, {facts.memory_total_mb} MB, "
                f"{facts.arch} {facts.kernel}, docker {facts.docker_version}, "
                f"{len(facts.containers)} managed container(s)"
            )
        else:
            print(f"{status.name}: {status.state.value}: {status.reason}")
    bad = [s for s in statuses if s.state.value != "ONLINE"]
    return int(ExitCode.HOST_ERROR if bad else ExitCode.OK)


# --- trust ------------------------------------------------------------------------------------


def trust_hosts(args: argparse.Namespace) -> int:
    """Show each host's key fingerprint and record it after confirmation."""
    inventory, hosts = _selected(args)
    failed = False
    for host in hosts:
        if host.connection == "local":
            continue
        try:
            _trust_one(inventory, host, assume_yes=args.yes)
        except HostError as err:
            print(f"drove-tui: {err}", file=sys.stderr)
            failed = True
    return int(ExitCode.HOST_ERROR if failed else ExitCode.OK)


async def _fetch_key(inventory: Inventory, host: HostConfig) -> Any:
    from drove_tui.cluster import hostkeys
    from drove_tui.cluster.pool import Cluster

    async with Cluster(inventory) as cluster:
        return await hostkeys.fetch_host_key(host, cluster.tunnel_for(host))


def _trust_one(inventory: Inventory, host: HostConfig, *, assume_yes: bool) -> None:
    import asyncio  # here, not at the top: `drove-tui --help` must not pay for it

    from drove_tui.cluster import hostkeys

    key = asyncio.run(_fetch_key(inventory, host))
    files = hostkeys.known_hosts_files(host)
    recorded = hostkeys.recorded_keys(hostkeys.load_known_hosts(files), host.address, host.port)
    fp = hostkeys.fingerprint(key)
    where = f"{host.name} ({host.address}:{host.port})"
    if fp in {hostkeys.fingerprint(k) for k in recorded}:
        print(f"{where}: already trusted ({fp})")
        return
    if recorded:
        raise hostkeys.changed_error(host, fp, files)
    target = hostkeys.trust_file(host)
    print(f"{where} presents {key.get_algorithm()} key {fp}")
    if not assume_yes:
        if not sys.stdin.isatty():
            raise InvalidInput(
                f"{where}: not recording the key without confirmation; check the fingerprint "
                "and run again on a terminal, or with --yes"
            )
        answer = input(f"Record it in {target}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print(f"{where}: not recorded")
            return
    hostkeys.record_key(target, host.address, host.port, key)
    print(f"{where}: recorded in {target}")
