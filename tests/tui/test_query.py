"""The `/` filter language and its incremental evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from drove_tui.tui.query import RowFilter, parse, refines


@dataclass
class Row:
    app: str
    task: str
    state: str
    host: str
    fields: dict[str, str] = field(init=False)
    haystack: str = field(init=False)

    def __post_init__(self) -> None:
        self.fields = {"app": self.app, "task": self.task, "state": self.state, "host": self.host}
        self.haystack = " ".join(self.fields.values())


ROWS = {
    "a": Row("billing", "invoice", "running", "host1"),
    "b": Row("billing", "ledger", "stopped", "host2"),
    "c": Row("search", "reindex", "running", "host2"),
    "d": Row("search", "warmup", "pending", ""),
}


def keys(query: str) -> set[str]:
    f = RowFilter()
    f.set_query(query, ROWS)
    return f.keys


def test_field_terms_select_by_state_app_and_host() -> None:
    assert keys("state:RUNNING") == {"a", "c"}
    assert keys("app:billing") == {"a", "b"}
    assert keys("host:host2") == {"b", "c"}
    assert keys("state:run host:host2") == {"c"}


def test_bare_words_match_anywhere_ignoring_case() -> None:
    assert keys("LEDGER") == {"b"}
    assert keys("host2 search") == {"c"}
    assert keys("") == set(ROWS)


def test_unknown_field_is_a_plain_word() -> None:
    assert parse("zone:a") == parse("zone:a")
    assert parse("zone:a")[0].field is None


def test_longer_query_refines_shorter_but_new_field_does_not() -> None:
    assert refines(parse("sta"), parse("stat"))
    assert refines(parse("state:R"), parse("state:RUN app:x"))
    assert not refines(parse("sta"), parse("state:R"))
    assert not refines(parse("state:RUN"), parse("state:R"))


def test_changed_row_joins_or_leaves_the_result() -> None:
    f = RowFilter()
    f.set_query("state:running", ROWS)
    assert f.update("d", Row("search", "warmup", "running", "host1"))
    assert "d" in f.keys
    assert f.update("a", Row("billing", "invoice", "stopped", "host1"))
    assert "a" not in f.keys
    assert not f.update("b", ROWS["b"])


words = st.text(alphabet="abcdehinorstu:2 ", max_size=12)


@given(st.lists(words, min_size=1, max_size=6))
def test_incremental_filter_equals_a_full_scan(queries: list[str]) -> None:
    f = RowFilter()
    for query in queries:
        f.set_query(query, ROWS)
        assert f.keys == keys(query), query
