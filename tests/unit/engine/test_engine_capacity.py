"""Capacity.census: the engine's view of a host's containers that the create script counts."""

from __future__ import annotations

import time

import pytest

from drove_tui.engine.capacity import CENSUS_MAX_AGE_S, CENSUS_MAX_BYTES, Capacity
from drove_tui.engine.signals import Signal
from drove_tui.models.host import HostFacts, HostState, HostStatus, ManagedContainer, NumaNode
from drove_tui.models.inventory import HostConfig, Inventory
from drove_tui.models.states import TaskState
from drove_tui.models.task import TaskRecord
from tests.task_records import task_record


def container(
    instance: str, cores: list[int], numa: int = 0, memory_mb: int = 64
) -> ManagedContainer:
    return ManagedContainer(
        name=f"drove-{instance}",
        container_id=instance,
        app="app",
        task_id=instance,
        instance_id=instance,
        running=True,
        cores=cores,
        numa=numa,
        memory_mb=memory_mb,
    )


def capacity(
    containers: list[ManagedContainer],
    *,
    age_s: float = 1.0,
    state: HostState = HostState.ONLINE,
    listed: bool = True,
    host_time: int | None = 1795910000,
) -> Capacity:
    facts = HostFacts(
        cores=4,
        numa=[
            NumaNode(id=0, cores=[0, 1], memory_mb=1000),
            NumaNode(id=1, cores=[2, 3], memory_mb=1000),
        ],
        memory_total_mb=2000,
        memory_available_mb=2000,
        arch="x86_64",
        kernel="6.1",
        docker_version="28.2",
        containers=containers,
        listed=listed,
        host_time=host_time,
    )
    at = time.time() - age_s
    status = HostStatus(name="h1", state=state, facts=facts, checked_at=at, last_ok=at)
    inventory = Inventory(hosts=[HostConfig(name="h1", address="127.0.0.1")])
    return Capacity(inventory, lambda _: status, Signal())


def removed(instance: str) -> TaskRecord:
    return task_record(instance, TaskState.DEPROVISIONING, instance_id=instance, host="h1")


def test_the_census_lists_each_probed_container_with_its_allocation() -> None:
    got = capacity([container("a", [0, 1]), container("b", [], numa=1, memory_mb=900)])
    # A container without a cores label still holds its memory; "-" keeps the fields apart.
    assert got.census("h1") == "@since 1795910000\ndrove-a 0,1 0 64\ndrove-b - 1 900\n"


def test_an_empty_host_has_a_census_of_its_time_alone() -> None:
    assert capacity([]).census("h1") == "@since 1795910000\n"


def test_containers_this_process_removed_since_the_probe_are_left_out() -> None:
    got = capacity([container("a", [0]), container("b", [1])])
    got.released(removed("a"))
    assert got.census("h1") == "@since 1795910000\ndrove-b 1 0 64\n"


def test_an_old_probe_makes_the_script_ask_docker() -> None:
    assert capacity([container("a", [0])], age_s=CENSUS_MAX_AGE_S + 1).census("h1") is None


def test_a_host_without_a_good_probe_has_no_census() -> None:
    status = HostStatus(name="h1", state=HostState.UNREACHABLE, checked_at=time.time())
    inventory = Inventory(hosts=[HostConfig(name="h1", address="127.0.0.1")])
    assert Capacity(inventory, lambda _: status, Signal()).census("h1") is None


def test_a_census_too_long_for_a_command_line_makes_the_script_ask_docker() -> None:
    many = [container(f"{i:060d}", [0]) for i in range(CENSUS_MAX_BYTES // 60)]
    assert capacity(many).census("h1") is None


@pytest.mark.parametrize(
    "broken",
    [
        {"state": HostState.UNREACHABLE},  # facts kept from an older probe
        {"state": HostState.DOCKER_DOWN},
        {"listed": False},  # docker ps or inspect failed: containers may be missing
        {"host_time": None},  # the host did not say its time
    ],
    ids=str,
)
def test_a_census_is_only_made_from_a_good_complete_listing(broken: dict[str, object]) -> None:
    got = capacity([container("a", [0])], **broken)  # type: ignore[arg-type]
    assert got.census("h1") is None
