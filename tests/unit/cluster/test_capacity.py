"""Capacity offered = cores minus reserved, memory times percent, minus what labels hold."""

from __future__ import annotations

from drove_tui.models.host import HostFacts, ManagedContainer, NumaNode, offered_capacity


def _facts(*containers: ManagedContainer) -> HostFacts:
    return HostFacts(
        cores=8,
        numa=[
            NumaNode(id=0, cores=[0, 1, 2, 3], memory_mb=1000),
            NumaNode(id=1, cores=[4, 5, 6, 7], memory_mb=1000),
        ],
        memory_total_mb=2000,
        memory_available_mb=1500,
        arch="x86_64",
        kernel="6",
        docker_version="27",
        containers=list(containers),
    )


def _container(numa: int, cores: list[int], memory_mb: int, *, running: bool) -> ManagedContainer:
    return ManagedContainer(
        name="n",
        container_id="c",
        app="a",
        task_id="t",
        instance_id="i",
        running=running,
        cores=cores,
        numa=numa,
        memory_mb=memory_mb,
    )


def test_reserved_cores_come_from_the_lowest_ids_across_nodes() -> None:
    nodes = offered_capacity(_facts(), reserved_cores=5)
    assert [n.cores for n in nodes] == [[], [5, 6, 7]]


def test_memory_percent_and_multipliers_scale_the_offer() -> None:
    node = offered_capacity(_facts(), memory_percent=50, cpu_multiplier=3, memory_multiplier=2)[0]
    assert (node.core_slots, node.memory_mb) == (12, 1000)


def test_every_existing_managed_container_holds_its_allocation() -> None:
    facts = _facts(_container(1, [4, 5], 300, running=True), _container(1, [6], 100, running=False))
    node1 = offered_capacity(facts)[1]
    assert (node1.free_core_slots, node1.free_memory_mb) == (1, 600)
