"""Pydantic's validation errors, said in the user's terms.

Each problem becomes "FILE:LINE: field.path: what was given; what is allowed", with the
field path as the user wrote it (`resources[1].sizeInMB`), never pydantic's internal union
tags, and all problems of a file reported at once.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from drove_tui.errors import InvalidInput
from drove_tui.loaders.source import Document, PathKey

_GIVEN_LIMIT = 60


def user_path(loc: tuple[str | int, ...], data: Any, *, missing: bool = False) -> PathKey:
    """The location with pydantic's union tags (`RULE_BASED`, `function-after[...]`,
    `[key]`) removed, by following the user's own data along it."""
    kept: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if _has(node, part):
            # A YAML key read as a number or boolean is still a key, not a list index.
            if isinstance(node, dict) and not isinstance(part, str):
                original = next(k for k in node if k == part)  # pydantic writes True as 1
                kept.append(str(original))
            else:
                kept.append(part)
            node = node[part]
        elif missing and last and isinstance(node, dict) and isinstance(part, str):
            kept.append(part)  # a missing field: it is not in the data by definition
    return tuple(kept)


def _has(node: Any, part: str | int) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def format_path(path: PathKey) -> str:
    """`resources[1].sizeInMB` from ('resources', 1, 'sizeInMB')."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


def _given(value: Any) -> str:
    text = repr(value)
    if len(text) > _GIVEN_LIMIT:
        text = text[: _GIVEN_LIMIT - 3] + "..."
    return text


def _unwrap(tp: Any, node: Any) -> Any:
    """The concrete type `tp` means for this piece of data (union members chosen by `type`)."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [m for m in typing.get_args(tp) if m is not type(None)]
            chosen = _member_for(members, node)
            if chosen is None:
                return None
            tp = chosen
        else:
            return tp


def _member_for(members: list[Any], node: Any) -> Any:
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    if isinstance(node, dict) and models:
        for model in models:
            field = model.model_fields.get("type")
            if field is not None and node.get("type") in typing.get_args(field.annotation):
                return model
        return models[0] if len(models) == 1 else None
    if isinstance(node, list):
        return next((m for m in members if typing.get_origin(m) is list), None)
    return members[0] if len(members) == 1 else None


def allowed_fields(model: type[BaseModel], data: Any, path: PathKey) -> list[str] | None:
    """The field names (as the user writes them) allowed at `path`, if it is an object."""
    tp: Any = model
    node = data
    for part in path:
        tp = _unwrap(tp, node)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = next((f for n, f in tp.model_fields.items() if part in (n, f.alias)), None)
            if field is None:
                return None
            tp = field.annotation
        elif typing.get_origin(tp) in (list, dict):
            tp = typing.get_args(tp)[-1]
        else:
            return None
        node = node[part] if _has(node, part) else None
    tp = _unwrap(tp, node)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return None


def describe(error: ErrorDetails, model: type[BaseModel], data: Any, path: PathKey) -> str:
    """What was wrong with one value, and what is allowed instead."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    if kind == "missing":
        return "is missing; it is required"
    if kind == "extra_forbidden":
        allowed = allowed_fields(model, data, path[:-1])
        hint = f"; allowed here: {', '.join(allowed)}" if allowed else ""
        return f"is not a known field{hint}"
    if kind == "union_tag_invalid":
        return f"type {_given(ctx.get('tag'))} is not known; allowed: {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return f"has no '{ctx.get('discriminator', 'type').strip(chr(39))}' field; it is required"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == r"^[A-Za-z0-9_-]+$":
        return f"given {_given(given)}; only letters, digits, '-' and '_' are allowed"
    message = error["msg"]
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
        if isinstance(given, dict | list) or repr(given) in message:
            return message
        return f"given {_given(given)}; {message}"
    message = message.replace("Input should be", "should be")
    hint = ""
    if kind == "string_type" and isinstance(given, int | float | bool):
        hint = " (YAML read it as a number or boolean: put it in quotes)"
    return f"given {_given(given)}; {message[:1].lower()}{message[1:]}{hint}"


def validation_error(
    err: ValidationError, doc: Document, model: type[BaseModel], what: str
) -> InvalidInput:
    """One InvalidInput listing every problem of `doc` found by validating it as `model`."""
    details: list[str] = []
    for error in err.errors():
        path = user_path(error["loc"], doc.data, missing=error["type"] == "missing")
        line = doc.line_of(path)
        where = f"{doc.source}:{line}" if line is not None else doc.source
        detail = f"{where}: {format_path(path)}: {describe(error, model, doc.data, path)}"
        if detail not in details:
            details.append(detail)
    return problems(doc.source, what, details)


def problems(source: str, what: str, details: list[str]) -> InvalidInput:
    """The InvalidInput for a list of problem lines (one is shown inline)."""
    if len(details) == 1:
        return InvalidInput(f"invalid {what}: {details[0]}")
    return InvalidInput(f"{source}: {len(details)} problems in the {what}", details=details)
