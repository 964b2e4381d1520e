"""The one pydantic configuration every Drove JSON model shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class DroveModel(BaseModel):
    """Drove's camelCase JSON names as aliases, snake_case attributes, unknown fields refused.

    Numbers are accepted where Drove expects a string (Jackson coerces them too), so that
    `CORES: 8` in a YAML env block means "8".
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        coerce_numbers_to_str=True,
    )
