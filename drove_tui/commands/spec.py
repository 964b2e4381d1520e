"""`drove-tui spec validate FILE...` and `drove-tui spec schema`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from drove_tui.commands import CommandGroup, add_json_option
from drove_tui.errors import ExitCode, InvalidInput


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add the `spec` command group to the root parser."""
    group = CommandGroup(
        subparsers, common, "spec", "check task spec files; print the spec's JSON Schema"
    )
    validate = group.add(
        "validate",
        validate_files,
        "validate spec files (JSON or YAML, '-' = stdin); exit 2 if any is invalid",
    )
    validate.add_argument("files", nargs="+", metavar="FILE")
    add_json_option(validate, "one JSON document on stdout")
    group.add("schema", print_schema, "print the JSON Schema of a spec file")


def validate_files(args: argparse.Namespace) -> int:
    """Validate each file; print OK or its problems; 2 if any file is invalid."""
    from drove_tui.loaders.spec_file import load_spec

    results: list[dict[str, Any]] = []
    for path in args.files:
        try:
            loaded = load_spec(path)
        except InvalidInput as err:
            problems = err.details or [str(err)]
            results.append({"file": path, "ok": False, "errors": problems})
            if not args.json:
                print(f"drove-tui: {err}", file=sys.stderr)
            continue
        spec = loaded.spec
        results.append(
            {
                "file": path,
                "ok": True,
                "sourceAppName": spec.source_app_name,
                "taskId": spec.task_id,
            }
        )
        if not args.json:
            kind = "CREATE operation" if loaded.op_spec else "task spec"
            print(f"{loaded.source}: OK ({kind} {spec.source_app_name}/{spec.task_id})")
    if args.json:
        print(json.dumps({"files": results}, indent=2))
    ok = all(r["ok"] for r in results)
    return int(ExitCode.OK if ok else ExitCode.INVALID_INPUT)


def task_spec_schema() -> dict[str, Any]:
    """The JSON Schema of a spec file: a Drove TaskSpec or a Drove CREATE operation."""
    from pydantic import TypeAdapter

    from drove_tui.models.operation import CreateTaskOperation
    from drove_tui.models.spec import TaskSpec

    adapter: TypeAdapter[TaskSpec | CreateTaskOperation] = TypeAdapter(
        TaskSpec | CreateTaskOperation
    )
    schema = adapter.json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Drove task spec (drove-tui)",
        "description": "A Drove task specification, or a Drove CREATE task operation.",
        **schema,
    }


def schema_text() -> str:
    """The schema as committed in schemas/task-spec.schema.json."""
    return json.dumps(task_spec_schema(), indent=2, sort_keys=True) + "\n"


def print_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema on stdout."""
    sys.stdout.write(schema_text())
    return int(ExitCode.OK)
