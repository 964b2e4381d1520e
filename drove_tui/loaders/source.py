"""Reading a JSON/YAML document a person wrote: the text, the data, and where each field is.

Every problem is an InvalidInput naming the file (and line/column for syntax errors):
missing file, directory, empty, binary, too big, YAML/JSON syntax, duplicate keys.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drove_tui.errors import InvalidInput

MAX_BYTES = 1024 * 1024  # a spec or inventory bigger than this is surely a mistake
# YAML aliases can make a small file expand to billions of values ("billion laughs").
MAX_VALUES = 200_000
# PyYAML slows down quadratically with [ { nesting; real specs nest a few levels.
MAX_DEPTH = 100
PathKey = tuple[str | int, ...]
# libyaml's loader when PyYAML has it (several times faster on big files); same safe subset.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SPECIAL = re.compile(r"[\[\]{}\"'\\\n]")


@dataclass
class Document:
    """A parsed file: `data` as loaded, `lines` maps a field path to its 1-based line."""

    source: str
    text: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: PathKey) -> int | None:
        """The line of `path`, or of its nearest parent that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def read_text(path: str | Path, what: str) -> tuple[str, str]:
    """The text of `path` ('-' = stdin) and the name to show for it; `what` names the kind
    of file in messages ("task spec", "inventory")."""
    name = "<stdin>" if str(path) == "-" else str(path)
    try:
        if str(path) == "-":
            raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InvalidInput(f"{name}: no such {what} file; check the path") from None
    except IsADirectoryError:
        article = "an" if what[:1] in "aeiou" else "a"
        raise InvalidInput(f"{name}: is a directory, not {article} {what} file") from None
    except PermissionError:
        raise InvalidInput(f"{name}: permission denied reading the {what} file") from None
    except OSError as err:
        raise InvalidInput(f"{name}: cannot read the {what} file ({err.strerror})") from None
    return decode(raw, name, what), name


def decode(raw: bytes, name: str, what: str) -> str:
    """`raw` as text, or InvalidInput naming `name` (too large, binary, not UTF-8, empty)."""
    if len(raw) > MAX_BYTES:
        raise InvalidInput(
            f"{name}: the {what} file is larger than {MAX_BYTES // 1024} KiB; "
            f"is this the right file?"
        )
    if b"\x00" in raw:
        raise InvalidInput(f"{name}: the {what} file is binary, not JSON or YAML text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InvalidInput(
            f"{name}: the {what} file is not UTF-8 text (bad byte at offset {err.start})"
        ) from None
    if not text.strip():
        raise InvalidInput(f"{name}: the {what} file is empty")
    return text


def parse(text: str, source: str) -> Document:
    """JSON or YAML text into a Document with a line for each field path."""
    if _bracket_depth(text) > MAX_DEPTH:
        raise InvalidInput(f"{source}: the document is nested too deeply")
    stripped = text.lstrip()
    if stripped[:1] in "{[":
        # JSON first: YAML refuses tabs that JSON allows, and JSON's errors are clearer here.
        try:
            data = json.loads(text)
        except RecursionError:
            raise InvalidInput(f"{source}: the document is nested too deeply") from None
        except json.JSONDecodeError as err:
            raise InvalidInput(
                f"{source}:{err.lineno}:{err.colno}: JSON syntax error: {err.msg}"
            ) from None
        doc = Document(source, text, data)
        # Valid JSON that YAML cannot read (tabs) simply gets no line numbers.
        with contextlib.suppress(yaml.YAMLError, RecursionError):
            doc.lines = _line_map(yaml.compose(text, Loader=_Loader), source)
        return doc
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        raise _yaml_error(err, source) from None
    except RecursionError:
        raise InvalidInput(f"{source}: the document is nested too deeply") from None
    return Document(source, text, data, _line_map(node, source))


def _bracket_depth(text: str) -> int:
    """The deepest [ { nesting outside quoted strings (a cheap guard, not a parser)."""
    depth = deepest = 0
    quote = ""
    skip_at = -1  # the character after a backslash in a "string" is not special
    for match in _SPECIAL.finditer(text):
        char = match.group()
        if match.start() == skip_at:
            continue
        if char == "\n":
            quote = ""  # an apostrophe in plain YAML text must not swallow the file
        elif quote:
            if char == "\\" and quote == '"':
                skip_at = match.start() + 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(depth - 1, 0)
    return deepest


def _yaml_error(err: yaml.YAMLError, source: str) -> InvalidInput:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    context = getattr(err, "context", None)
    reason = f"{context}, {problem}" if context else problem
    if mark is None:
        return InvalidInput(f"{source}: YAML syntax error: {reason}")
    opened = getattr(err, "context_mark", None)
    if opened is not None and opened.line != mark.line:
        reason += f" (it began at line {opened.line + 1})"
    return InvalidInput(f"{source}:{mark.line + 1}:{mark.column + 1}: YAML syntax error: {reason}")


class _SelfReferenceError(Exception):
    pass


def _expanded_size(node: yaml.Node, memo: dict[int, int], open_nodes: set[int]) -> int:
    """How many values `node` stands for once aliases are expanded (each node sized once)."""
    key = id(node)
    if key in open_nodes:
        raise _SelfReferenceError
    known = memo.get(key)
    if known is not None:
        return known
    open_nodes.add(key)
    size = 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            size += _expanded_size(k, memo, open_nodes) + _expanded_size(v, memo, open_nodes)
    elif isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(item, memo, open_nodes) for item in node.value)
    open_nodes.discard(key)
    memo[key] = size
    return size


def _check_expansion(node: yaml.Node, source: str) -> None:
    try:
        size = _expanded_size(node, {}, set())
    except _SelfReferenceError:
        raise InvalidInput(
            f"{source}: the document contains itself through a YAML alias (*alias inside its "
            "own &anchor); write it out plainly"
        ) from None
    if size > MAX_VALUES:
        raise InvalidInput(
            f"{source}: the document expands to more than {MAX_VALUES} values through YAML "
            "aliases (&anchor / *alias); write it out plainly"
        )


def _line_map(node: yaml.Node | None, source: str) -> dict[PathKey, int]:
    lines: dict[PathKey, int] = {}
    if node is None:
        return lines
    _check_expansion(node, source)
    stack: list[tuple[yaml.Node, PathKey]] = [(node, ())]
    while stack:
        current, path = stack.pop()
        lines.setdefault(path, current.start_mark.line + 1)
        if isinstance(current, yaml.MappingNode):
            seen: set[Hashable] = set()
            for key_node, value_node in current.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                if key is None:
                    continue
                if key in seen:
                    line = key_node.start_mark.line + 1
                    where = ".".join(str(p) for p in (*path, key))
                    raise InvalidInput(f"{source}:{line}: {where}: the key appears twice; keep one")
                seen.add(key)
                lines[(*path, key)] = key_node.start_mark.line + 1
                stack.append((value_node, (*path, key)))
        elif isinstance(current, yaml.SequenceNode):
            for index, item in enumerate(current.value):
                stack.append((item, (*path, index)))
    return lines


def load_document(path: str | Path, what: str) -> Document:
    """Read and parse a JSON/YAML file ('-' = stdin)."""
    text, source = read_text(path, what)
    return parse(text, source)
