"""Drove's duration strings ("100 seconds", "15 minutes", "1h"), as Dropwizard parses them.

A `Duration` keeps the text the user wrote (so a spec round-trips unchanged) and its length
in seconds (what the engine uses).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

# Dropwizard's io.dropwizard.util.Duration suffixes, in seconds.
_UNITS: dict[str, float] = {}
for _names, _seconds in (
    (("ns", "nanosecond", "nanoseconds"), 1e-9),
    (("us", "microsecond", "microseconds"), 1e-6),
    (("ms", "millisecond", "milliseconds"), 1e-3),
    (("s", "second", "seconds"), 1.0),
    (("m", "min", "mins", "minute", "minutes"), 60.0),
    (("h", "hour", "hours"), 3600.0),
    (("d", "day", "days"), 86400.0),
):
    for _name in _names:
        _UNITS[_name] = _seconds

_PATTERN = re.compile(r"^\s*(\d+)\s*([A-Za-z]+)\s*$")
UNIT_NAMES = "ns, us, ms, s, m, h, d (or their words: seconds, minutes, ...)"
JSON_PATTERN = r"^\s*\d+\s*[A-Za-z]+\s*$"


class Duration:
    """A parsed duration: `text` as written, `seconds` as a float."""

    __slots__ = ("seconds", "text")

    def __init__(self, text: str) -> None:
        match = _PATTERN.match(text)
        if match is None:
            raise ValueError(
                f"{text!r} is not a duration; write a whole number and a unit, "
                f"like '100 seconds' or '15 minutes'"
            )
        unit = _UNITS.get(match.group(2).lower())
        if unit is None:
            raise ValueError(f"{text!r} has an unknown time unit; use one of {UNIT_NAMES}")
        self.text = text.strip()
        self.seconds = int(match.group(1)) * unit

    @classmethod
    def of_seconds(cls, seconds: int) -> Duration:
        """A duration of a whole number of seconds."""
        return cls(f"{seconds} seconds")

    def __repr__(self) -> str:
        return f"Duration({self.text!r})"

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    @classmethod
    def _validate(cls, value: Any) -> Duration:
        if isinstance(value, Duration):
            return value
        if not isinstance(value, str):
            raise ValueError(
                f"{value!r} is not a duration; write it as a string like '100 seconds'"
            )
        return cls(value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(str, when_used="always"),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": JSON_PATTERN,
            "description": "Drove duration: a whole number and a unit, e.g. '100 seconds'",
            "examples": ["100 seconds", "15 minutes"],
        }
