"""RULE_BASED placement rules in CEL (Common Expression Language), evaluated without eval().

A rule sees one host's facts: `host` (name), `tags` and `labels` (maps of strings), `cores`
and `memory_mb` (ints), `arch` and `docker_version` (strings). Example:
`"zone" in tags && tags.zone == "a" && cores >= 8`.

celpy is imported on first use: most specs have no rule, and `spec validate` should not pay
for a CEL parser it does not need.
"""

from __future__ import annotations

import functools
import re
from typing import Any

FACT_NAMES = ("host", "tags", "labels", "cores", "memory_mb", "arch", "docker_version")

# Facts of the right types, used to catch unknown names and type errors before any host exists.
_SAMPLE_FACTS: dict[str, Any] = {
    "host": "h",
    "tags": {},
    "labels": {},
    "cores": 1,
    "memory_mb": 1024,
    "arch": "x86_64",
    "docker_version": "0",
}
_UNDECLARED = re.compile(r"undeclared reference to '([^']+)'")


@functools.cache
def _environment() -> Any:
    import celpy

    return celpy.Environment()


@functools.lru_cache(maxsize=256)
def _program(rule: str) -> Any:
    env = _environment()
    return env.program(env.compile(rule))


def rule_problem(rule: str) -> str | None:
    """Why `rule` cannot work on any host (syntax, unknown name, not true/false), or None."""
    from celpy.celparser import CELParseError
    from celpy.celtypes import BoolType
    from celpy.evaluation import CELEvalError

    try:
        program = _program(rule)
    except CELParseError as err:
        first = str(err).splitlines()[0] if str(err) else rule
        return f"is not a valid CEL expression (near {first!r})"
    except RecursionError:
        return "is nested too deeply; write it flatter"
    try:
        result = program.evaluate(_activation(_SAMPLE_FACTS))
    except RecursionError:
        return "is nested too deeply; write it flatter"
    except CELEvalError as err:
        reason = str(err.args[0]) if err.args else str(err)
        unknown = _UNDECLARED.search(reason)
        if unknown:
            return f"uses unknown name {unknown.group(1)!r}; a rule can use {', '.join(FACT_NAMES)}"
        if "no matching overload" in reason:
            return 'compares values of different types (e.g. cores >= "4"); check the types'
        return None  # depends on the host's data (e.g. a tag this sample host lacks)
    if not isinstance(result, BoolType):
        return f"gives {type(result).__name__.removesuffix('Type').lower()}, not true/false"
    return None


def evaluate_rule(rule: str, facts: dict[str, Any]) -> bool:
    """Whether the host with `facts` satisfies `rule`. A rule that fails on this host's data
    (say, a tag it lacks) is false for it: the host is simply not eligible."""
    from celpy.celparser import CELParseError
    from celpy.celtypes import BoolType
    from celpy.evaluation import CELEvalError

    try:
        result = _program(rule).evaluate(_activation(facts))
    except (CELEvalError, CELParseError, RecursionError):
        return False
    return isinstance(result, BoolType) and bool(result)


def _activation(facts: dict[str, Any]) -> dict[str, Any]:
    from celpy.adapter import json_to_cel

    values = {name: facts.get(name, _SAMPLE_FACTS[name]) for name in FACT_NAMES}
    if values["docker_version"] is None:
        values["docker_version"] = ""
    return {name: json_to_cel(value) for name, value in values.items()}
