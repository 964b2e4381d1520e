"""What drove-tui knows about a host: its probed facts, its health, and the capacity it offers.

Everything here comes from one probe round trip (`drove_tui.cluster.probe`); nothing is measured
use. Capacity is by reservation, as in Drove: offered = probed capacity minus what the inventory
keeps back, and free = offered minus what managed containers hold (read from their labels).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class HostState(StrEnum):
    """Health of one host as the monitor last saw it."""

    ONLINE = "ONLINE"  # SSH works and docker answers
    UNREACHABLE = "UNREACHABLE"  # SSH does not work; HostStatus.reason says why
    DOCKER_DOWN = "DOCKER_DOWN"  # SSH works, docker does not answer
    UNKNOWN = "UNKNOWN"  # not probed yet


class NumaNode(BaseModel):
    """One NUMA node: its core ids and its memory (one node 0 when the host shows none)."""

    id: int
    cores: list[int]
    memory_mb: int


class ManagedContainer(BaseModel):
    """A container drove-tui manages (label drove.managed=1), with the allocation it holds."""

    name: str
    container_id: str
    app: str
    task_id: str
    instance_id: str
    running: bool
    exit_code: int | None = None  # None while running
    cores: list[int] = Field(default_factory=list)
    numa: int = 0
    memory_mb: int = 0
    owner: str | None = None  # store id that placed it; another store's container is foreign
    finished_at: str | None = None  # docker's RFC 3339 time, None while running


class HostFacts(BaseModel):
    """The result of one probe."""

    cores: int
    numa: list[NumaNode]
    memory_total_mb: int
    memory_available_mb: int
    arch: str
    kernel: str
    docker_version: str | None  # None = docker did not answer (DOCKER_DOWN)
    docker_error: str | None = None  # docker's own words when it did not answer
    containers: list[ManagedContainer] = Field(default_factory=list)
    # False when docker did not list every managed container (an error, an unreadable
    # record): `containers` may then miss some, and the create script asks docker itself.
    listed: bool = True
    host_time: int | None = None  # the host's clock (epoch s) just before the listing
    # Where the host's docker command talks to, as `docker context inspect` says it (e.g.
    # unix:///var/run/docker.sock); None when it could not say.
    docker_endpoint: str | None = None


class HostStatus(BaseModel):
    """Health of one host plus its last facts; `last_ok` is the time of the last good probe."""

    name: str
    state: HostState = HostState.UNKNOWN
    reason: str | None = None
    facts: HostFacts | None = None
    last_ok: float | None = None  # epoch seconds
    checked_at: float | None = None  # epoch seconds of the last probe attempt


class NodeCapacity(BaseModel):
    """What one NUMA node offers to tasks and how much of it managed containers hold.

    `cores` are the core ids offered (reserved ones removed); with a cpu_multiplier of N each
    core id may be allocated N times, so `core_slots` = len(cores) * N.
    """

    id: int
    cores: list[int]
    core_slots: int
    memory_mb: int
    used_core_slots: int = 0
    used_memory_mb: int = 0

    @property
    def free_core_slots(self) -> int:
        """Core allocations still free on this node."""
        return max(0, self.core_slots - self.used_core_slots)

    @property
    def free_memory_mb(self) -> int:
        """Memory (MB) still free on this node."""
        return max(0, self.memory_mb - self.used_memory_mb)


def offered_capacity(
    facts: HostFacts,
    *,
    reserved_cores: int = 0,
    memory_percent: int = 100,
    cpu_multiplier: int = 1,
    memory_multiplier: int = 1,
) -> list[NodeCapacity]:
    """Capacity offered per NUMA node, minus what live managed containers hold.

    Reserved cores are taken from the lowest core ids first (node 0 upwards), because the OS
    and its interrupts usually live there. Memory offered is the node's memory times
    `memory_percent`/100 times `memory_multiplier`. Every managed container that still
    exists holds its allocation, running or not: a created-but-not-started container is mid
    provisioning, and an exited one is freed when it is removed (deprovisioned).
    """
    to_reserve = reserved_cores
    nodes: list[NodeCapacity] = []
    for node in sorted(facts.numa, key=lambda n: n.id):
        cores = sorted(node.cores)
        kept = cores[min(to_reserve, len(cores)) :]
        to_reserve -= len(cores) - len(kept)
        nodes.append(
            NodeCapacity(
                id=node.id,
                cores=kept,
                core_slots=len(kept) * cpu_multiplier,
                memory_mb=node.memory_mb * memory_percent // 100 * memory_multiplier,
            )
        )
    by_id = {node.id: node for node in nodes}
    for container in facts.containers:
        held = by_id.get(container.numa)
        if held is not None:
            held.used_core_slots += len(container.cores)
            held.used_memory_mb += container.memory_mb
    return nodes
