"""Which hosts a placement policy allows, with Drove's semantics (reference section 3).

Drove's default: a policy made only of ANY, ONE_PER_HOST, MAX_N_PER_HOST and NO_TAG is
silently combined with NO_TAG, so untagged tasks never land on tagged hosts; tagged hosts are
kept for specs that ask for their tag (MATCH_TAG) or choose them by rule (RULE_BASED).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from drove_tui.models.placement import (
    LOCAL_REFUSED,
    AnyPlacement,
    CombinerType,
    CompositePlacement,
    LocalPlacement,
    MatchTagPlacement,
    MaxNPerHostPlacement,
    NoTagPlacement,
    OnePerHostPlacement,
    PlacementPolicy,
    RuleBasedPlacement,
)

if TYPE_CHECKING:
    from drove_tui.engine.placement import HostView

# Policies that do not choose hosts by their tags: Drove adds NO_TAG to trees of only these.
_TAG_BLIND = (AnyPlacement, OnePerHostPlacement, MaxNPerHostPlacement, NoTagPlacement)


@dataclass(frozen=True)
class PolicyCheck:
    """Whether a host is eligible, and if not, why (`does not carry tag gpu`)."""

    eligible: bool
    reason: str = ""


_OK = PolicyCheck(True)


def effective_policy(policy: PlacementPolicy | None) -> PlacementPolicy:
    """The policy Drove really applies: tag-blind trees get an implicit NO_TAG."""
    if policy is None:
        policy = AnyPlacement()
    if _tag_blind(policy) and not isinstance(policy, NoTagPlacement):
        return CompositePlacement(
            type="COMPOSITE",
            policies=[policy, NoTagPlacement(type="NO_TAG")],
            combiner=CombinerType.AND,
        )
    return policy


def _tag_blind(policy: PlacementPolicy) -> bool:
    if isinstance(policy, CompositePlacement):
        return all(_tag_blind(child) for child in policy.policies)
    return isinstance(policy, _TAG_BLIND)


def eligibility(policy: PlacementPolicy | None, app: str, view: HostView) -> PolicyCheck:
    """Whether `view` may take a task of `app` under `policy` (with Drove's NO_TAG default)."""
    return _check(effective_policy(policy), app, view)


def _check(policy: PlacementPolicy, app: str, view: HostView) -> PolicyCheck:
    if isinstance(policy, AnyPlacement):
        return _OK
    if isinstance(policy, OnePerHostPlacement):
        return _per_host_limit(app, view, 1)
    if isinstance(policy, MaxNPerHostPlacement):
        return _per_host_limit(app, view, policy.num_containers)
    if isinstance(policy, MatchTagPlacement):
        if policy.tag in view.config.tags:
            return _OK
        return PolicyCheck(False, f"does not carry tag {policy.tag}")
    if isinstance(policy, NoTagPlacement):
        if not view.config.tags:
            return _OK
        return PolicyCheck(False, f"is tagged ({', '.join(sorted(view.config.tags))})")
    if isinstance(policy, RuleBasedPlacement):
        if _rule_holds(policy, view):
            return _OK
        return PolicyCheck(False, f"does not satisfy rule {policy.rule!r}")
    if isinstance(policy, CompositePlacement):
        return _composite(policy, app, view)
    if isinstance(policy, LocalPlacement):  # the spec model refuses it; never eligible anyway
        return PolicyCheck(False, LOCAL_REFUSED)
    raise AssertionError(f"unhandled placement policy {policy!r}")  # pragma: no cover


def _per_host_limit(app: str, view: HostView, limit: int) -> PolicyCheck:
    live = sum(1 for c in view.containers if c.app == app)
    if live < limit:
        return _OK
    return PolicyCheck(False, f"already has {live} live task(s) of {app} (at most {limit})")


def _composite(policy: CompositePlacement, app: str, view: HostView) -> PolicyCheck:
    checks = [_check(child, app, view) for child in policy.policies]
    if policy.combiner is CombinerType.OR:
        if any(c.eligible for c in checks):
            return _OK
        return PolicyCheck(False, " and ".join(c.reason for c in checks))
    failed = [c.reason for c in checks if not c.eligible]
    return PolicyCheck(not failed, " and ".join(failed))


def _rule_holds(policy: RuleBasedPlacement, view: HostView) -> bool:
    from drove_tui.loaders.rules import evaluate_rule

    facts = view.facts
    return evaluate_rule(
        policy.rule,
        {
            "host": view.config.name,
            "tags": dict(view.config.tags),
            "labels": dict(view.config.labels),
            "cores": facts.cores if facts else 0,
            "memory_mb": facts.memory_total_mb if facts else 0,
            "arch": facts.arch if facts else "",
            "docker_version": facts.docker_version if facts else None,
        },
    )


def describe(policy: PlacementPolicy | None) -> str:
    """Short human form of a policy (`MATCH_TAG gpu`); empty for the default ANY."""
    if policy is None or isinstance(policy, AnyPlacement):
        return ""
    if isinstance(policy, MatchTagPlacement):
        return f"MATCH_TAG {policy.tag}"
    if isinstance(policy, MaxNPerHostPlacement):
        return f"MAX_N_PER_HOST {policy.num_containers}"
    if isinstance(policy, RuleBasedPlacement):
        return f"RULE_BASED {policy.rule!r}"
    if isinstance(policy, CompositePlacement):
        inner = f" {policy.combiner.value} ".join(describe(p) or "ANY" for p in policy.policies)
        return f"({inner})"
    return policy.type
