"""Drove's placement policies (reference section 3), a union keyed by `type`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from drove_tui.models.base import DroveModel

LOCAL_REFUSED = "Local service placement is not allowed for tasks"


class AnyPlacement(DroveModel):
    """Any host with room."""

    type: Literal["ANY"] = "ANY"


class OnePerHostPlacement(DroveModel):
    """No other live task of the same sourceAppName on the host."""

    type: Literal["ONE_PER_HOST"]


class MaxNPerHostPlacement(DroveModel):
    """Fewer than `numContainers` live tasks of the same sourceAppName on the host."""

    type: Literal["MAX_N_PER_HOST"]
    num_containers: int = Field(ge=1, le=64)


class MatchTagPlacement(DroveModel):
    """Only hosts that carry `tag`."""

    type: Literal["MATCH_TAG"]
    tag: str = Field(min_length=1)


class NoTagPlacement(DroveModel):
    """Only hosts without tags."""

    type: Literal["NO_TAG"]


class RuleType(StrEnum):
    CEL = "CEL"  # drove-tui's language; Drove's own are HOPE and MVEL (Java only)
    HOPE = "HOPE"
    MVEL = "MVEL"


class RuleBasedPlacement(DroveModel):
    """Hosts for which `rule` (a CEL expression over host facts) is true."""

    type: Literal["RULE_BASED"]
    rule: str = Field(min_length=1)
    rule_type: RuleType = RuleType.CEL

    @field_validator("rule_type")
    @classmethod
    def _cel_only(cls, value: RuleType) -> RuleType:
        if value is not RuleType.CEL:
            raise ValueError(
                f"{value.value} rules are Drove's Java rule language and are not supported; "
                "rewrite the rule in CEL and set ruleType: CEL (see docs/spec.md, RULE_BASED)"
            )
        return value


class CombinerType(StrEnum):
    AND = "AND"
    OR = "OR"


class CompositePlacement(DroveModel):
    """All (AND) or any (OR) of `policies` hold."""

    type: Literal["COMPOSITE"]
    policies: list[PlacementPolicy] = Field(min_length=1)
    combiner: CombinerType = CombinerType.AND


class LocalPlacement(DroveModel):
    """Drove's placement for local services; parsed only so it can be refused by name."""

    type: Literal["LOCAL"]
    host_level: bool = False

    @model_validator(mode="after")
    def _refused(self) -> LocalPlacement:
        raise ValueError(LOCAL_REFUSED)


PlacementPolicy = Annotated[
    AnyPlacement
    | OnePerHostPlacement
    | MaxNPerHostPlacement
    | MatchTagPlacement
    | NoTagPlacement
    | RuleBasedPlacement
    | CompositePlacement
    | LocalPlacement,
    Field(discriminator="type"),
]

CompositePlacement.model_rebuild()


def walk_policies(
    policy: PlacementPolicy, path: str = "placementPolicy"
) -> list[tuple[str, PlacementPolicy]]:
    """Every policy in the tree with its field path, parents before children."""
    found: list[tuple[str, PlacementPolicy]] = [(path, policy)]
    if isinstance(policy, CompositePlacement):
        for index, child in enumerate(policy.policies):
            found.extend(walk_policies(child, f"{path}.policies[{index}]"))
    return found
