"""The `/` filter language of the tables: pure functions, no Textual.

A query is whitespace-separated terms, all of which must hold:
`state:RUN` (state starts with), `app:X` / `host:Y` / `task:Z` (field contains), and bare
words (anywhere in the row). Matching ignores case.

`RowFilter` keeps the set of matching keys so that a query that only grows (the user typing
one more letter) is evaluated over the previous result instead of every row; with 10,000 rows
that is what keeps a key press under 100 ms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

FIELDS = ("state", "app", "host", "task")


class Searchable(Protocol):
    """What a row offers to the filter: its fields (lower case) and one text of them all."""

    @property
    def fields(self) -> Mapping[str, str]: ...

    @property
    def haystack(self) -> str: ...


@dataclass(frozen=True)
class Term:
    """One condition: `field` is None for a bare word."""

    field: str | None
    value: str

    def matches(self, row: Searchable) -> bool:
        if self.field is None:
            return self.value in row.haystack
        have = row.fields.get(self.field, "")
        if self.field == "state":
            return have.startswith(self.value)
        return self.value in have

    def narrows(self, old: Term) -> bool:
        """True when every row matching self also matches `old`."""
        return self.field == old.field and self.value.startswith(old.value)


def parse(query: str) -> tuple[Term, ...]:
    """Split a query into terms; an unknown `field:` is treated as a bare word."""
    terms: list[Term] = []
    for word in query.lower().split():
        name, sep, value = word.partition(":")
        if sep and name in FIELDS:
            terms.append(Term(name, value))
        else:
            terms.append(Term(None, word))
    return tuple(terms)


def refines(old: tuple[Term, ...], new: tuple[Term, ...]) -> bool:
    """True when the rows matching `new` are a subset of those matching `old`."""
    if len(new) < len(old):
        return False
    return all(n.narrows(o) for o, n in zip(old, new, strict=False))


def matches(terms: tuple[Term, ...], row: Searchable) -> bool:
    """True when the row satisfies every term."""
    return all(term.matches(row) for term in terms)


class RowFilter:
    """The set of keys matching the current query, maintained incrementally.

    The results of recent queries are kept (and kept current as rows change), so deleting a
    character goes back to a result already known instead of scanning every row again.
    """

    KEEP = 32

    def __init__(self) -> None:
        self.terms: tuple[Term, ...] = ()
        self.keys: set[str] = set()
        self._recent: dict[tuple[Term, ...], set[str]] = {}

    def reset(self) -> None:
        """Forget every result (the rows were replaced)."""
        self.terms = ()
        self.keys = set()
        self._recent.clear()

    def set_query(self, query: str, rows: Mapping[str, Searchable]) -> None:
        """Switch to a new query, scanning only the previous result when it narrows."""
        terms = parse(query)
        if terms == self.terms and self.keys:
            return
        if not terms:
            self.terms, self.keys = terms, set(rows)
            return
        known = self._recent.get(terms)
        if known is not None:
            self.terms, self.keys = terms, known
            return
        if self.terms and refines(self.terms, terms):
            candidates: Iterable[str] = self.keys
        else:
            candidates = rows.keys()
        self.terms = terms
        self.keys = {key for key in candidates if matches(terms, rows[key])}
        self._recent[terms] = self.keys
        while len(self._recent) > self.KEEP:
            del self._recent[next(iter(self._recent))]

    def update(self, key: str, row: Searchable | None) -> bool:
        """Re-check one changed (or removed, when row is None) row; True if membership changed."""
        for terms, keys in self._recent.items():
            if keys is not self.keys:
                _apply(keys, key, row, terms)
        return _apply(self.keys, key, row, self.terms)


def _apply(keys: set[str], key: str, row: Searchable | None, terms: tuple[Term, ...]) -> bool:
    was = key in keys
    now = row is not None and matches(terms, row)
    if now:
        keys.add(key)
    else:
        keys.discard(key)
    return was != now
