"""RULE_BASED rules: CEL over host facts, checked at load, false where they cannot hold."""

from __future__ import annotations

import pytest

from drove_tui.loaders.rules import evaluate_rule, rule_problem

FACTS = {
    "host": "web1",
    "tags": {"zone": "a", "gpu": ""},
    "labels": {"rack": "r1"},
    "cores": 8,
    "memory_mb": 16384,
    "arch": "x86_64",
    "docker_version": "24.0.5",
}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('tags.zone == "a" && cores >= 8', True),
        ('"gpu" in tags', True),
        ('labels.rack == "r2"', False),
        ('host.startsWith("web") && arch == "x86_64"', True),
        ("memory_mb > 32768", False),
        ('docker_version.startsWith("24.")', True),
    ],
)
def test_rule_is_evaluated_over_host_facts(rule: str, expected: bool) -> None:
    assert rule_problem(rule) is None
    assert evaluate_rule(rule, FACTS) is expected


def test_rule_failing_on_a_hosts_data_makes_that_host_ineligible() -> None:
    assert evaluate_rule('tags.rack == "r1"', FACTS) is False  # no such tag on this host
    assert evaluate_rule('tags.rack == "r1"', {**FACTS, "tags": {"rack": "r1"}}) is True


def test_missing_docker_version_is_an_empty_string() -> None:
    assert evaluate_rule('docker_version == ""', {**FACTS, "docker_version": None}) is True


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("cores >=", "is not a valid CEL expression"),
        ("core >= 4", "uses unknown name 'core'"),
        ('cores >= "4"', "compares values of different types"),
        ("cores + 1", "gives int, not true/false"),
    ],
)
def test_rule_that_can_never_work_is_refused_with_the_reason(rule: str, problem: str) -> None:
    found = rule_problem(rule)
    assert found is not None and problem in found


def test_rule_cannot_reach_python() -> None:
    # CEL has no way to call into the host language; these are just unknown names.
    assert rule_problem('__import__("os").system("true")') is not None
    assert evaluate_rule('__import__("os").system("true") == 0', FACTS) is False
