"""Placement: Drove's policies, NUMA fit, core ids, over-provisioning, binpack/spread."""

from __future__ import annotations

import pytest

from drove_tui.engine.placement import (
    TOO_MANY_CORES,
    TOO_MUCH_MEMORY,
    HostView,
    NoFit,
    Placement,
    Request,
    check_request_size,
    place,
)
from drove_tui.errors import InvalidInput
from drove_tui.models.host import HostFacts, HostState, ManagedContainer, NumaNode
from drove_tui.models.inventory import HostConfig
from drove_tui.models.placement import (
    CombinerType,
    CompositePlacement,
    MatchTagPlacement,
    MaxNPerHostPlacement,
    NoTagPlacement,
    OnePerHostPlacement,
    PlacementPolicy,
    RuleBasedPlacement,
)


def facts(nodes: list[tuple[list[int], int]]) -> HostFacts:
    numa = [NumaNode(id=i, cores=cores, memory_mb=mem) for i, (cores, mem) in enumerate(nodes)]
    return HostFacts(
        cores=sum(len(c) for c, _ in nodes),
        numa=numa,
        memory_total_mb=sum(m for _, m in nodes),
        memory_available_mb=sum(m for _, m in nodes),
        arch="x86_64",
        kernel="6.1",
        docker_version="24.0",
    )


def container(app: str, cores: list[int], numa: int = 0, memory_mb: int = 128) -> ManagedContainer:
    name = f"{app}-{'-'.join(map(str, cores))}"
    return ManagedContainer(
        name=name,
        container_id=name,
        app=app,
        task_id=name,
        instance_id=name,
        running=True,
        cores=cores,
        numa=numa,
        memory_mb=memory_mb,
    )


def host(
    name: str,
    nodes: list[tuple[list[int], int]] | None = None,
    *,
    tags: dict[str, str] | None = None,
    containers: list[ManagedContainer] | None = None,
    state: HostState = HostState.ONLINE,
    **config: int,
) -> HostView:
    cfg = HostConfig(name=name, address="127.0.0.1", tags=tags or {}, **config)  # type: ignore[arg-type]
    return HostView(
        config=cfg,
        state=state,
        facts=facts(nodes or [([0, 1, 2, 3], 4096)]),
        containers=tuple(containers or ()),
    )


def eligible(policy: PlacementPolicy | None, hosts: list[HostView], app: str = "app") -> set[str]:
    """The hosts the policy lets a 1-core task use: place it, remove the winner, repeat."""
    chosen: set[str] = set()
    remaining = list(hosts)
    while True:
        got = place(Request(app, 1, 64, policy), remaining)
        if isinstance(got, NoFit):
            return chosen
        chosen.add(got.host)
        remaining = [h for h in remaining if h.name != got.host]


def test_untagged_task_avoids_tagged_hosts_by_default() -> None:
    hosts = [host("plain"), host("gpu1", tags={"gpu": ""})]
    assert eligible(None, hosts) == {"plain"}


def test_one_per_host_also_avoids_tagged_hosts() -> None:
    hosts = [host("plain"), host("gpu1", tags={"gpu": ""})]
    assert eligible(OnePerHostPlacement(type="ONE_PER_HOST"), hosts) == {"plain"}


def test_match_tag_chooses_only_hosts_with_that_tag() -> None:
    hosts = [host("plain"), host("gpu1", tags={"gpu": ""}), host("ssd1", tags={"ssd": "yes"})]
    assert eligible(MatchTagPlacement(type="MATCH_TAG", tag="gpu"), hosts) == {"gpu1"}


def test_no_tag_chooses_only_untagged_hosts() -> None:
    hosts = [host("plain1"), host("plain2"), host("gpu1", tags={"gpu": ""})]
    assert eligible(NoTagPlacement(type="NO_TAG"), hosts) == {"plain1", "plain2"}


def test_one_per_host_skips_hosts_with_a_live_task_of_the_same_app() -> None:
    hosts = [host("a", containers=[container("app", [0])]), host("b")]
    assert eligible(OnePerHostPlacement(type="ONE_PER_HOST"), hosts) == {"b"}
    # Another app's task does not count.
    assert eligible(OnePerHostPlacement(type="ONE_PER_HOST"), hosts, app="other") == {"a", "b"}


def test_max_n_per_host_counts_live_tasks_of_the_app() -> None:
    two = [container("app", [0]), container("app", [1])]
    hosts = [host("full", containers=two), host("one", containers=two[:1])]
    policy = MaxNPerHostPlacement(type="MAX_N_PER_HOST", num_containers=2)
    assert eligible(policy, hosts) == {"one"}


def test_composite_and_needs_every_child() -> None:
    hosts = [
        host("gpu_busy", tags={"gpu": ""}, containers=[container("app", [0])]),
        host("gpu_free", tags={"gpu": ""}),
        host("plain"),
    ]
    policy = CompositePlacement(
        type="COMPOSITE",
        policies=[
            MatchTagPlacement(type="MATCH_TAG", tag="gpu"),
            OnePerHostPlacement(type="ONE_PER_HOST"),
        ],
        combiner=CombinerType.AND,
    )
    assert eligible(policy, hosts) == {"gpu_free"}


def test_composite_or_needs_any_child() -> None:
    hosts = [host("gpu1", tags={"gpu": ""}), host("ssd1", tags={"ssd": ""}), host("plain")]
    policy = CompositePlacement(
        type="COMPOSITE",
        policies=[
            MatchTagPlacement(type="MATCH_TAG", tag="gpu"),
            MatchTagPlacement(type="MATCH_TAG", tag="ssd"),
        ],
        combiner=CombinerType.OR,
    )
    assert eligible(policy, hosts) == {"gpu1", "ssd1"}


def test_task_fits_only_on_one_numa_node_with_enough_free_cores_and_memory() -> None:
    two_nodes = host("h", [([0, 1], 1024), ([2, 3], 4096)])
    got = place(Request("app", 2, 2048), [two_nodes])
    assert got == Placement("h", 1, [2, 3], 2048)
    # Four cores exist on the host but on no single node.
    assert isinstance(place(Request("app", 3, 64), [two_nodes]), NoFit)


def test_allocated_cores_are_not_given_twice() -> None:
    busy = host("h", [([0, 1, 2, 3], 4096)], containers=[container("x", [0, 2])])
    got = place(Request("app", 2, 64), [busy])
    assert isinstance(got, Placement)
    assert got.cores == [1, 3]


def test_reserved_cores_are_never_allocated() -> None:
    view = host("h", [([0, 1, 2, 3], 4096)], reserved_cores=1)
    got = place(Request("app", 3, 64), [view])
    assert isinstance(got, Placement)
    assert got.cores == [1, 2, 3]
    assert isinstance(place(Request("app", 4, 64), [view]), NoFit)


def test_memory_percent_limits_memory_offered() -> None:
    view = host("h", [([0, 1], 1000)], memory_percent=50)
    assert isinstance(place(Request("app", 1, 500), [view]), Placement)
    assert isinstance(place(Request("app", 1, 501), [view]), NoFit)


def test_cpu_multiplier_lets_a_core_carry_several_tasks_but_never_twice_in_one_task() -> None:
    held = [container("x", [0]), container("y", [1]), container("z", [0])]
    view = host("h", [([0, 1], 4096)], containers=held, cpu_multiplier=2)
    got = place(Request("app", 1, 64), [view])
    assert got == Placement("h", 0, [1], 64)  # core 0 already carries two
    assert isinstance(place(Request("app", 2, 64), [view]), NoFit)  # only core 1 open


def test_memory_multiplier_scales_memory_offered() -> None:
    view = host("h", [([0, 1], 1000)], memory_multiplier=3)
    assert isinstance(place(Request("app", 1, 3000), [view]), Placement)


def test_binpack_prefers_the_fullest_host_and_spread_the_emptiest() -> None:
    hosts = [host("empty"), host("busy", containers=[container("x", [0, 1])])]
    binpack = place(Request("app", 1, 64), hosts, strategy="binpack")
    spread = place(Request("app", 1, 64), hosts, strategy="spread")
    assert isinstance(binpack, Placement) and binpack.host == "busy"
    assert isinstance(spread, Placement) and spread.host == "empty"


def test_no_fit_reason_names_every_host_and_why() -> None:
    hosts = [
        host("host1", tags={"gpu": ""}, containers=[container("x", [0, 1])]),
        host("host2"),
        host("host3", tags={"gpu": ""}, state=HostState.UNREACHABLE),
    ]
    got = place(Request("app", 4, 2048, MatchTagPlacement(type="MATCH_TAG", tag="gpu")), hosts)
    assert isinstance(got, NoFit)
    assert got.reason.startswith(
        "no ONLINE host has 4 free cores and 2048 MB on one NUMA node matching MATCH_TAG gpu: "
    )
    assert "host1 has 2 free cores" in got.reason
    assert "host2 does not carry tag gpu" in got.reason
    assert "host3 is UNREACHABLE" in got.reason


def test_pinned_host_is_the_only_candidate() -> None:
    hosts = [host("a"), host("b")]
    got = place(Request("app", 1, 64, pin_host="b"), hosts)
    assert isinstance(got, Placement) and got.host == "b"


def test_request_bigger_than_every_numa_node_fails_with_droves_message() -> None:
    hosts = [host("a", [([0, 1], 1024), ([2, 3], 1024)])]
    with pytest.raises(InvalidInput, match=TOO_MANY_CORES):
        check_request_size(Request("app", 3, 64), hosts)
    with pytest.raises(InvalidInput, match=TOO_MUCH_MEMORY):
        check_request_size(Request("app", 1, 2000), hosts)
    check_request_size(Request("app", 2, 1024), hosts)  # fits one node: no error


def test_request_size_is_not_judged_before_any_probe() -> None:
    unprobed = HostView(HostConfig(name="a", address="x"), HostState.UNKNOWN, None)
    check_request_size(Request("app", 64, 10**6), [unprobed])


def test_rule_based_chooses_hosts_whose_facts_satisfy_the_rule() -> None:
    hosts = [
        host("a", tags={"zone": "a"}),
        host("b", tags={"zone": "b"}),
        host("big", [([0, 1, 2, 3, 4, 5, 6, 7], 4096)], tags={"zone": "b"}),
    ]
    policy = RuleBasedPlacement(type="RULE_BASED", rule='tags.zone == "b" && cores >= 8')
    assert eligible(policy, hosts) == {"big"}
    # A rule that fails on a host's data (no zone tag) just makes that host ineligible.
    assert eligible(policy, [host("plain")]) == set()
