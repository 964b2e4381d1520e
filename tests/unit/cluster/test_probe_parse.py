"""Probe output (canned, as the probe script prints it) -> HostFacts."""

from __future__ import annotations

import json

import pytest

from drove_tui.cluster.probe import parse_container, parse_cpulist, parse_probe, probe_command
from drove_tui.models.inventory import HostConfig

LABELS = {
    "drove.managed": "1",
    "drove.app": "app1",
    "drove.task": "t1",
    "drove.instance": "app1-t1-0123abcd",
    "drove.cores": "2,3",
    "drove.numa": "1",
    "drove.memory_mb": "512",
    "drove.owner": "store-a",
}

TWO_NODES = "\n".join(
    [
        "@@nproc",
        "8",
        "@@uname",
        "aarch64",
        "6.1.0-18-arm64",
        "@@meminfo",
        "MemTotal:       16384000 kB",
        "MemAvailable:    8192000 kB",
        "@@node 0",
        "0-3",
        "Node 0 MemTotal:        8192000 kB",
        "@@node 1",
        "4-5,6-7",
        "Node 1 MemTotal:        8192000 kB",
        "@@docker",
        "27.5.1",
        "@@docker_rc 0",
        "@@containers",
        "abc123\t/drove-app1-t1-0123abcd\ttrue\t0\t0001-01-01T00:00:00Z\t" + json.dumps(LABELS),
        "def456\t/drove-x\tfalse\t137\t2026-01-01T00:00:00Z\t"
        + json.dumps({**LABELS, "drove.cores": "5"}),
        "@@end",
    ]
)


def test_numa_nodes_cores_and_memory_are_read_per_node() -> None:
    facts = parse_probe(TWO_NODES)
    assert [(n.id, n.cores, n.memory_mb) for n in facts.numa] == [
        (0, [0, 1, 2, 3], 8000),
        (1, [4, 5, 6, 7], 8000),
    ]
    assert facts.cores == 8
    assert (facts.memory_total_mb, facts.memory_available_mb) == (16000, 8000)
    assert (facts.arch, facts.kernel, facts.docker_version) == (
        "aarch64",
        "6.1.0-18-arm64",
        "27.5.1",
    )


def test_managed_containers_carry_the_allocation_from_their_labels() -> None:
    running, exited = parse_probe(TWO_NODES).containers
    assert running.name == "drove-app1-t1-0123abcd"
    assert (running.app, running.task_id, running.instance_id) == ("app1", "t1", "app1-t1-0123abcd")
    assert (running.cores, running.numa, running.memory_mb, running.owner) == (
        [2, 3],
        1,
        512,
        "store-a",
    )
    assert running.running and running.exit_code is None and running.finished_at is None
    assert not exited.running and exited.exit_code == 137
    assert exited.finished_at == "2026-01-01T00:00:00Z"


def test_a_host_without_numa_sysfs_is_one_node_with_every_core() -> None:
    text = "@@nproc\n4\n@@uname\nx86_64\n6.1\n@@meminfo\nMemTotal: 2048000 kB\n"
    text += "MemAvailable: 1024000 kB\n@@docker\n27.0\n@@docker_rc 0\n@@containers\n@@end\n"
    facts = parse_probe(text)
    assert [(n.id, n.cores, n.memory_mb) for n in facts.numa] == [(0, [0, 1, 2, 3], 2000)]


def test_docker_that_does_not_answer_leaves_no_version_and_says_why() -> None:
    text = TWO_NODES.replace(
        "@@docker\n27.5.1\n@@docker_rc 0",
        "@@docker\n\nCannot connect to the Docker daemon at unix:///x.sock.\n@@docker_rc 1",
    )
    facts = parse_probe(text)
    assert facts.docker_version is None
    assert facts.docker_error is not None and "Cannot connect" in facts.docker_error


def test_truncated_output_is_an_error_not_empty_facts() -> None:
    with pytest.raises(ValueError, match="incomplete"):
        parse_probe(TWO_NODES.replace("@@end", ""))


@pytest.mark.parametrize(
    ("text", "cores"),
    [("0-3,8,10-11", [0, 1, 2, 3, 8, 10, 11]), ("5", [5]), ("", []), ("0-1\n", [0, 1])],
)
def test_cpulists_expand_ranges(text: str, cores: list[int]) -> None:
    assert parse_cpulist(text) == cores


def test_container_lines_with_bad_labels_are_skipped() -> None:
    assert parse_container('id\t/n\ttrue\t0\tx\t{"drove.cores": "a-b"}') is None
    assert parse_container("not a record") is None


def test_the_probe_passes_the_docker_prefix_as_arguments_not_as_script_text() -> None:
    host = HostConfig(name="h", address="a", docker="sudo -n docker")
    argv = probe_command(host).argv()
    assert argv[:2] == ["sh", "-c"]
    assert "sudo" not in argv[2]
    assert argv[3:] == ["sh", "sudo", "-n", "docker"]


def test_the_hosts_time_before_the_listing_is_kept() -> None:
    facts = parse_probe(TWO_NODES.replace("@@containers", "@@now\n1795910083\n@@containers"))
    assert facts.host_time == 1795910083
    assert facts.listed
    assert parse_probe(TWO_NODES).host_time is None  # an older probe's output


@pytest.mark.parametrize(
    ("said", "endpoint"),
    [
        ("unix:///var/run/docker.sock\n", "unix:///var/run/docker.sock"),
        ("tcp://10.0.0.1:2375\n", "tcp://10.0.0.1:2375"),
        ("", None),  # `docker context inspect` failed (an old client): not known
        ("unix:///a.sock\nunix:///b.sock\n", None),  # not one answer: not known
    ],
)
def test_the_docker_endpoint_is_what_the_command_says(said: str, endpoint: str | None) -> None:
    text = TWO_NODES.replace("@@containers", f"@@docker_endpoint\n{said}@@containers")
    assert parse_probe(text).docker_endpoint == endpoint
    assert parse_probe(TWO_NODES).docker_endpoint is None  # an older probe's output


@pytest.mark.parametrize(
    "broken",
    [
        ("@@end", "@@unlisted\n@@end"),  # docker ps or inspect failed
        ("@@containers", "@@containers\nabc\t/drove-y\ttrue\t0\tx\tnot json"),  # unreadable
    ],
)
def test_a_listing_that_may_miss_containers_says_so(broken: tuple[str, str]) -> None:
    facts = parse_probe(TWO_NODES.replace(*broken))
    assert not facts.listed
    assert [c.name for c in facts.containers] == ["drove-app1-t1-0123abcd", "drove-x"]
