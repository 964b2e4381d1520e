"""The light probe: what changes between two probes of a host, from docker's API alone.

The full probe (probe.py) runs a script: a channel session, shells, a dozen small programs and
three docker client runs, about 0.2 s of the host's CPU on the sandbox. Between two of them
HostMonitor runs this one instead where the host's docker socket is known (docker_api): one
listing of the managed containers on that socket, and one inspect for each that is neither
running nor never started (its exit code and end time), at most MAX_INSPECTS of them, all at
once (more are left to the script's one batched inspect). No process starts on the host.

Cores, NUMA nodes, memory, kernel and architecture stay as the last full probe found them
(HostMonitor runs one every FULL_EVERY probes). Docker's version comes from the answer's
`Server` header, the host's time from its `Date` header, taken one second early so that the
census never judges a reservation older than it is (Capacity.census): docker dates its answer
after the listing, within the second on any host that answers at all.
"""

from __future__ import annotations

import asyncio
import json
import re
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from drove_tui.cluster import docker_api
from drove_tui.cluster.probe import NEVER_FINISHED, managed_container
from drove_tui.cluster.transport import CommandTimeout, SocketRefused
from drove_tui.models.host import HostFacts, ManagedContainer

if TYPE_CHECKING:
    from drove_tui.cluster.transport import Transport
    from drove_tui.models.inventory import HostConfig

LISTING = "/containers/json?all=1&filters=" + quote(json.dumps({"label": ["drove.managed=1"]}))
RUNNING = ("running", "paused", "restarting")  # docker's State.Running is true for these
SERVER = re.compile(r"Docker/(\S+)")
MAX_INSPECTS = 16


async def light_probe(
    transport: Transport,
    host: HostConfig,
    last: HostFacts,
    *,
    timeout: float,  # noqa: ASYNC109
) -> HostFacts | None:
    """The host's facts with its containers, docker version and time read anew; None when
    the API cannot say (no known socket, docker down at the last probe, the socket refused,
    an answer that is not a good listing, too many stopped containers): then the full probe
    must. CommandTimeout when the host does not answer in time, Unreachable when it cannot
    be reached (as the full probe would say)."""
    path = docker_api.socket_path(host.docker, last.docker_endpoint)
    if path is None or last.docker_version is None:
        return None
    try:
        async with asyncio.timeout(timeout):
            listing = await docker_api.get(transport, path, LISTING, timeout=timeout)
            if listing.status != docker_api.OK:
                return None
            entries = json.loads(listing.body)
            if not isinstance(entries, list):
                return None
            stopped = [e for e in entries if str(e["State"]) not in (*RUNNING, "created")]
            if len(stopped) > MAX_INSPECTS:
                return None
            reads = [
                asyncio.ensure_future(_container(transport, path, e, timeout)) for e in entries
            ]
            try:
                found = await asyncio.gather(*reads)
            finally:
                for read in reads:  # one failed: the others are of no use any more
                    read.cancel()
    except (SocketRefused, ValueError, TypeError, KeyError, AttributeError):
        return None
    except TimeoutError:
        raise CommandTimeout(
            transport.host, f"{host.name}: docker's socket did not answer within {timeout:g} s"
        ) from None
    containers = [c for c in found if c is not None]
    version = SERVER.search(listing.headers.get("server", ""))
    return last.model_copy(
        update={
            "containers": containers,
            # One unreadable, or gone since the listing: as the script's @@unlisted (the
            # census then asks docker itself).
            "listed": len(containers) == len(found),
            "host_time": _host_time(listing.headers.get("date", "")),
            "docker_version": version.group(1) if version else last.docker_version,
        }
    )


async def _container(
    transport: Transport,
    path: str,
    entry: Any,  # one element of docker's listing (JSON)
    timeout: float,  # noqa: ASYNC109
) -> ManagedContainer | None:
    """One container of docker's listing; one that has run and stopped is inspected for its
    exit."""
    cid, state = str(entry["Id"]), str(entry["State"])
    name = str((entry.get("Names") or [""])[0])
    if state in RUNNING:
        return managed_container(cid, name, True, 0, "", entry.get("Labels") or {})
    if state == "created":
        return managed_container(cid, name, False, 0, NEVER_FINISHED, entry.get("Labels") or {})
    target = f"/containers/{quote(cid)}/json"
    answer = await docker_api.get(transport, path, target, timeout=timeout)
    if answer.status != docker_api.OK:
        return None  # gone since the listing
    found = json.loads(answer.body)
    held = found["State"]
    labels = (found.get("Config") or {}).get("Labels") or {}
    running, ended = bool(held["Running"]), str(held["FinishedAt"])
    return managed_container(cid, str(found["Name"]), running, held["ExitCode"], ended, labels)


def _host_time(date: str) -> int | None:
    """The epoch second before the one an HTTP `Date` header names; None without one."""
    try:
        return int(parsedate_to_datetime(date).timestamp()) - 1
    except (TypeError, ValueError, IndexError):
        return None
