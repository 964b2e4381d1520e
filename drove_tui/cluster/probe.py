"""One round trip per host: cores, NUMA layout, memory, kernel, docker and managed containers.

The probe is one fixed shell script (no user input in its text; the inventory's docker prefix
arrives as "$@"), printing sections that `parse_probe` turns into `HostFacts`. NUMA layout
comes from /sys/devices/system/node; a host without it is one node 0 with every core and
/proc/meminfo's memory (and a single node always gets all of /proc/meminfo's memory).
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING

from drove_tui.cluster.command import Command
from drove_tui.cluster.transport import TransportError
from drove_tui.models.host import HostFacts, ManagedContainer, NumaNode

if TYPE_CHECKING:
    from drove_tui.cluster.transport import Transport
    from drove_tui.models.inventory import HostConfig

# Sections start with a line "@@name [arg]". Docker errors go to the @@docker section so a
# DOCKER_DOWN host says why; @@docker_endpoint is where the docker command talks to, as the
# command itself says it (DOCKER_HOST, DOCKER_CONTEXT, the config's current context: for
# docker_api.socket_path), empty when it cannot say; a listing that failed (docker ps or
# inspect) adds @@unlisted, and @@now is the host's clock just before the listing (both for
# Capacity.census).
PROBE_SCRIPT = r"""
echo @@nproc; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN
echo @@uname; uname -m; uname -r
echo @@meminfo; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo
for d in /sys/devices/system/node/node[0-9]*; do
  [ -r "$d/cpulist" ] || continue
  echo "@@node ${d##*/node}"; cat "$d/cpulist"; grep MemTotal "$d/meminfo"
done
echo @@docker; "$@" version --format '{{.Server.Version}}' 2>&1; echo "@@docker_rc $?"
echo @@docker_endpoint; "$@" context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null
echo @@now; date +%s
echo @@containers
ids=$("$@" ps -aq --no-trunc --filter label=drove.managed=1 2>/dev/null) || echo @@unlisted
[ -z "$ids" ] || "$@" inspect --format '{{.Id}}	{{.Name}}	{{.State.Running}}	{{.State.ExitCode}}	{{.State.FinishedAt}}	{{json .Config.Labels}}' $ids 2>/dev/null || echo @@unlisted
echo @@end
"""  # noqa: E501 (one docker template line reads best unbroken)

NEVER_FINISHED = "0001-01-01T00:00:00Z"


def probe_command(host: HostConfig) -> Command:
    """The probe script with the host's docker prefix as its arguments."""
    return Command.script(PROBE_SCRIPT, *shlex.split(host.docker))


async def probe(
    transport: Transport,
    host: HostConfig,
    *,
    timeout: float,  # noqa: ASYNC109
) -> HostFacts:
    """Probe `host` in one round trip; raises TransportError (or a subclass) on failure."""
    result = await transport.run(probe_command(host), timeout=timeout)
    try:
        return parse_probe(result.stdout.decode("utf-8", "replace"))
    except ValueError as err:
        # Cut-off output (a connection lost mid-probe) or a host without the basic tools:
        # a host problem for callers, not a crash.
        detail = result.stderr.decode("utf-8", "replace").strip()[-300:]
        raise TransportError(
            host.name,
            f"{host.name} ({host.address}:{host.port}): probe output unreadable ({err}; exit "
            f"status {result.exit_status}{'; ' + detail if detail else ''})",
        ) from None


def parse_cpulist(text: str) -> list[int]:
    """`0-3,8,10-11` -> [0, 1, 2, 3, 8, 10, 11]."""
    cores: list[int] = []
    for chunk in text.strip().split(","):
        if not chunk:
            continue
        first, _, last = chunk.partition("-")
        cores.extend(range(int(first), int(last or first) + 1))
    return cores


def _sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("@@"):
            current = sections.setdefault(line[2:].strip(), [])
        else:
            current.append(line)
    return sections


def _kb_to_mb(line: str) -> int:
    # "MemTotal:  16314532 kB" and "Node 0 MemTotal:  16314532 kB" alike.
    return int(line.split()[-2]) // 1024


def _meminfo(lines: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in lines:
        key, _, _ = line.partition(":")
        if key in ("MemTotal", "MemAvailable"):
            found[key] = _kb_to_mb(line)
    return found


def parse_probe(text: str) -> HostFacts:
    """Turn the probe script's output into HostFacts (ValueError when it is malformed)."""
    sections = _sections(text)
    if "end" not in sections:
        raise ValueError("probe output is incomplete (no @@end)")
    nproc = int(sections["nproc"][0])
    arch, kernel = (sections["uname"] + ["", ""])[:2]
    memory = _meminfo(sections.get("meminfo", []))
    total = memory.get("MemTotal", 0)
    nodes: list[NumaNode] = []
    for name, lines in sections.items():
        if name.startswith("node "):
            mem_lines = [line for line in lines[1:] if "MemTotal" in line]
            nodes.append(
                NumaNode(
                    id=int(name.split()[1]),
                    cores=parse_cpulist(lines[0]) if lines else [],
                    memory_mb=_kb_to_mb(mem_lines[0]) if mem_lines else 0,
                )
            )
    nodes = [n for n in sorted(nodes, key=lambda n: n.id) if n.cores]
    if not nodes:
        nodes = [NumaNode(id=0, cores=list(range(nproc)), memory_mb=total)]
    elif len(nodes) == 1:
        # One node holds all memory; some VMs report hot-plugged memory only in /proc/meminfo.
        nodes[0].memory_mb = max(nodes[0].memory_mb, total)
    docker_rc = next((k for k in sections if k.startswith("docker_rc")), "docker_rc 1")
    docker_lines = [line for line in sections.get("docker", []) if line.strip()]
    docker_ok = docker_rc.split()[-1] == "0" and bool(docker_lines)
    containers = [parse_container(line) for line in sections.get("containers", []) if line]
    now = sections.get("now", [])
    endpoint = [line.strip() for line in sections.get("docker_endpoint", []) if line.strip()]
    return HostFacts(
        cores=sum(len(n.cores) for n in nodes),
        numa=nodes,
        memory_total_mb=total,
        memory_available_mb=memory.get("MemAvailable", total),
        arch=arch.strip(),
        kernel=kernel.strip(),
        docker_version=docker_lines[0].strip() if docker_ok else None,
        docker_error=None if docker_ok else (" ".join(docker_lines) or "docker did not answer"),
        containers=[c for c in containers if c is not None],
        listed="unlisted" not in sections and None not in containers,
        host_time=int(now[0]) if now and now[0].strip().isdigit() else None,
        docker_endpoint=endpoint[0] if len(endpoint) == 1 else None,
    )


def parse_container(line: str) -> ManagedContainer | None:
    """One `docker inspect` line of the probe; None when it is not a usable record."""
    fields = line.split("\t", 5)
    if len(fields) != 6:
        return None
    cid, name, running, exit_code, finished_at, labels_json = fields
    try:
        labels = json.loads(labels_json) or {}
    except ValueError:
        return None
    return managed_container(cid, name, running == "true", exit_code, finished_at, labels)


def managed_container(
    cid: str, name: str, running: bool, exit_code: object, finished_at: str, labels: object
) -> ManagedContainer | None:
    """A managed container as docker describes it (inspect's fields); None when its record
    is not usable."""
    if not isinstance(labels, dict):
        return None
    try:
        cores = parse_cpulist(str(labels.get("drove.cores", "")))
        numa = int(labels.get("drove.numa", 0))
        memory_mb = int(labels.get("drove.memory_mb", 0))
        code = int(str(exit_code))
    except (ValueError, TypeError):
        return None
    # A created container that never ran has no exit code yet, whatever docker reports.
    never_ran = finished_at == NEVER_FINISHED
    return ManagedContainer(
        name=name.lstrip("/"),
        container_id=cid,
        app=str(labels.get("drove.app", "")),
        task_id=str(labels.get("drove.task", "")),
        instance_id=str(labels.get("drove.instance", "")),
        running=running,
        exit_code=None if running or never_ran else code,
        cores=cores,
        numa=numa,
        memory_mb=memory_mb,
        owner=labels.get("drove.owner"),
        finished_at=None if running or never_ran else finished_at,
    )
