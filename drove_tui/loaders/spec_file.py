"""Task spec files: a bare Drove TaskSpec or a Drove CREATE operation, in JSON or YAML."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from drove_tui.errors import InvalidInput
from drove_tui.loaders.errors import format_path, problems, validation_error
from drove_tui.loaders.rules import rule_problem
from drove_tui.loaders.source import Document, decode, load_document, parse
from drove_tui.models.operation import ClusterOpSpec, CreateTaskOperation
from drove_tui.models.spec import TaskSpec

WHAT = "task spec"
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec, the operation spec if the file was a CREATE operation, and where
    it came from (a path, or "<stdin>")."""

    spec: TaskSpec
    op_spec: ClusterOpSpec | None
    source: str


def load_spec(path: str | Path) -> LoadedSpec:
    """Read and validate the spec file at `path` ('-' = stdin); InvalidInput on any problem."""
    return spec_from_document(load_document(path, WHAT))


def load_spec_bytes(raw: bytes, source: str) -> LoadedSpec:
    """Validate a spec file's bytes read elsewhere (the warm client reads them where the
    user runs drove-tui); `source` names it in messages as load_spec would."""
    return spec_from_document(parse(decode(raw, source, WHAT), source))


def load_spec_text(text: str, source: str = "<text>") -> LoadedSpec:
    """Validate a spec given as JSON/YAML text (the TUI's editor uses this)."""
    return spec_from_document(parse(text, source))


def spec_from_document(doc: Document) -> LoadedSpec:
    """Validate a parsed document as a TaskSpec or a CREATE operation."""
    data = doc.data
    if not isinstance(data, dict):
        raise InvalidInput(
            f"{doc.source}: a task spec file holds one object (sourceAppName, taskId, ...), "
            f"not {_kind(data)}"
        )
    operation = data.get("type")
    prefix: tuple[str, ...] = ()
    if operation == "KILL":
        raise InvalidInput(
            f"{doc.source}: this is a Drove KILL operation, not a task spec; "
            "use `drove-tui tasks kill APP TASK` to kill a task"
        )
    if operation == "CREATE":
        create = _validate(CreateTaskOperation, doc)
        spec, op_spec, prefix = create.spec, create.op_spec, ("spec",)
    elif "type" in data:
        line = doc.line_of(("type",))
        raise InvalidInput(
            f"invalid {WHAT}: {doc.source}:{line}: type: given {operation!r}; a spec file is a "
            "task spec (no type field) or a Drove operation with type CREATE"
        )
    else:
        spec, op_spec = _validate(TaskSpec, doc), None
    _check_rules(spec, doc, prefix)
    return LoadedSpec(spec=spec, op_spec=op_spec, source=doc.source)


def _validate(model: type[M], doc: Document) -> M:
    try:
        return model.model_validate(doc.data)
    except ValidationError as err:
        raise validation_error(err, doc, model, WHAT) from None


def _check_rules(spec: TaskSpec, doc: Document, prefix: tuple[str, ...]) -> None:
    details: list[str] = []
    for path, policy in spec.rules:
        problem = rule_problem(policy.rule)
        if problem is None:
            continue
        field_path = (*_path_key(path, prefix), "rule")
        line = doc.line_of(field_path)
        where = f"{doc.source}:{line}" if line else doc.source
        details.append(f"{where}: {format_path(field_path)}: {policy.rule!r} {problem}")
    if details:
        raise problems(doc.source, WHAT, details)


def _path_key(path: str, prefix: tuple[str, ...]) -> tuple[str | int, ...]:
    """('placementPolicy', 'policies', 1) from 'placementPolicy.policies[1]'."""
    key: list[str | int] = list(prefix)
    for part in path.replace("[", ".").replace("]", "").split("."):
        key.append(int(part) if part.isdigit() else part)
    return tuple(key)


def _kind(data: Any) -> str:
    if data is None:
        return "nothing"
    if isinstance(data, list):
        return "a list"
    return f"a single value ({type(data).__name__})"
