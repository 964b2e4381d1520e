"""Choose a host and specific core ids for a task: pure, no I/O.

Drove's rules (reference section 3): the placement policy decides which hosts are eligible
(untagged tasks avoid tagged hosts), then a host is a candidate when one NUMA node has
`count` free cores and `sizeInMB` free memory. Accounting is by reservation: what managed
containers hold is read from their labels, whoever placed them. Among candidates the
inventory's `placement` picks: binpack (the fullest node that fits) or spread (the emptiest).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from drove_tui.engine.policy import PolicyCheck, describe, eligibility
from drove_tui.errors import InvalidInput
from drove_tui.models.host import (
    HostFacts,
    HostState,
    ManagedContainer,
    NodeCapacity,
    offered_capacity,
)
from drove_tui.models.inventory import HostConfig
from drove_tui.models.placement import PlacementPolicy

# Drove's own words for a request no NUMA node could ever hold.
TOO_MANY_CORES = "Required cores exceeds the maximum core available on a single NUMA node"
TOO_MUCH_MEMORY = "Required memory exceeds the maximum memory available on a single NUMA node"


@dataclass(frozen=True)
class Request:
    """What a task asks for."""

    app: str
    cores: int
    memory_mb: int
    policy: PlacementPolicy | None = None
    pin_host: str | None = None


@dataclass(frozen=True)
class HostView:
    """One host as placement sees it: its config, health, facts and what holds resources now.

    `containers` is the engine's current view (probed containers, plus this process's
    in-flight reservations, minus containers it has just removed), so that capacity is
    neither double-booked nor kept after release while the next probe is still to come.
    """

    config: HostConfig
    state: HostState
    facts: HostFacts | None
    containers: Sequence[ManagedContainer] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        """The host's inventory name."""
        return self.config.name


@dataclass(frozen=True)
class Placement:
    """Where a task goes: host, NUMA node and the core ids pinned for it."""

    host: str
    numa: int
    cores: list[int]
    memory_mb: int


@dataclass(frozen=True)
class NoFit:
    """No host can take the task now; `reason` says why for each host."""

    reason: str


def check_request_size(request: Request, hosts: Sequence[HostView]) -> None:
    """Raise InvalidInput with Drove's message when no NUMA node of any probed host could ever
    hold the request, so the task fails at once instead of waiting for the timeout."""
    nodes = [node for view in hosts if view.facts is not None for node in _capacity(view, [])]
    if not nodes:
        return  # nothing probed yet: cannot tell
    if request.cores > max(len(node.cores) for node in nodes):
        raise InvalidInput(f"{TOO_MANY_CORES} (asked for {request.cores} cores)")
    if request.memory_mb > max(node.memory_mb for node in nodes):
        raise InvalidInput(f"{TOO_MUCH_MEMORY} (asked for {request.memory_mb} MB)")


def place(
    request: Request, hosts: Sequence[HostView], *, strategy: str = "binpack"
) -> Placement | NoFit:
    """Pick a host, NUMA node and core ids for `request`, or say why no host fits now."""
    fits: list[tuple[int, str, Placement]] = []
    why_not: list[str] = []
    for view in hosts:
        if request.pin_host is not None and view.name != request.pin_host:
            continue
        if view.state is not HostState.ONLINE or view.facts is None:
            why_not.append(f"{view.name} is {view.state.value}")
            continue
        verdict: PolicyCheck = eligibility(request.policy, request.app, view)
        if not verdict.eligible:
            why_not.append(f"{view.name} {verdict.reason}")
            continue
        found = _fit_on_host(request, view)
        if isinstance(found, str):
            why_not.append(f"{view.name} {found}")
            continue
        free_after, placement = found
        fits.append((free_after, view.name, placement))
    if not fits:
        return NoFit(_no_fit_reason(request, why_not))
    if strategy == "spread":
        fits.sort(key=lambda item: (-item[0], item[1]))
    else:
        fits.sort(key=lambda item: (item[0], item[1]))
    return fits[0][2]


def _fit_on_host(request: Request, view: HostView) -> tuple[int, Placement] | str:
    """The best node of one host for the request (binpack order), or why none fits."""
    nodes = _capacity(view, view.containers)
    usage = Counter(core for c in view.containers for core in c.cores)
    multiplier = view.config.cpu_multiplier
    best: tuple[int, Placement] | None = None
    for node in nodes:
        # A task needs distinct core ids; a core id may carry `cpu_multiplier` allocations.
        open_cores = [c for c in node.cores if usage[c] < multiplier]
        if len(open_cores) < request.cores or node.free_memory_mb < request.memory_mb:
            continue
        # Least used cores first, so over-provisioned load spreads over the physical cores.
        chosen = sorted(open_cores, key=lambda c: (usage[c], c))[: request.cores]
        free_after = node.free_core_slots - request.cores
        placement = Placement(view.name, node.id, sorted(chosen), request.memory_mb)
        if best is None or free_after < best[0]:
            best = (free_after, placement)
    if best is not None:
        return best
    return _shortfall(nodes, usage, multiplier)


def _shortfall(nodes: list[NodeCapacity], usage: Counter[int], multiplier: int) -> str:
    """`has 2 free cores and 512 MB on its best NUMA node` for the reason text."""
    if not nodes:
        return "has no NUMA node"
    best_cores = max(sum(1 for c in n.cores if usage[c] < multiplier) for n in nodes)
    best_memory = max(n.free_memory_mb for n in nodes)
    return f"has {best_cores} free cores and {best_memory} MB free at most on one NUMA node"


def _capacity(view: HostView, containers: Sequence[ManagedContainer]) -> list[NodeCapacity]:
    assert view.facts is not None
    facts = view.facts.model_copy(update={"containers": list(containers)})
    cfg = view.config
    return offered_capacity(
        facts,
        reserved_cores=cfg.reserved_cores,
        memory_percent=cfg.memory_percent,
        cpu_multiplier=cfg.cpu_multiplier,
        memory_multiplier=cfg.memory_multiplier,
    )


def _no_fit_reason(request: Request, why_not: list[str]) -> str:
    policy = describe(request.policy)
    head = (
        f"no ONLINE host has {request.cores} free cores and {request.memory_mb} MB on one NUMA node"
    )
    if policy:
        head += f" matching {policy}"
    if request.pin_host is not None and not why_not:
        why_not = [f"{request.pin_host} is not in the inventory"]
    return f"{head}: {', '.join(why_not) or 'the inventory has no hosts'}"
