"""What a person or a program sees from `--run`: streams, prefixes, spinner, summary, JSON."""

from __future__ import annotations

import io
import json

import pytest

from drove_tui.commands.output import (
    HumanOutput,
    JsonOutput,
    SummaryRow,
    format_duration,
    host_colour,
    summary_lines,
    table_lines,
    use_colour,
)

ROWS = [
    SummaryRow("host1", "job-host1", "STOPPED", 0, 1.25),
    SummaryRow("host22", "job-host22", "STOPPED", 7, 75.0),
    SummaryRow("host3", "job-host3", "NOT_STARTED", None, None, "interrupted"),
]


def human(**kw: object) -> tuple[HumanOutput, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return HumanOutput(out, err, **kw), out, err  # type: ignore[arg-type]


def test_container_stdout_and_stderr_go_to_their_own_streams() -> None:
    o, out, err = human(interactive=False, colour=False)
    o.log_line("stdout", "to out\n")
    o.log_line("stderr", "to err")
    assert out.getvalue() == "to out\n"
    assert err.getvalue() == "to err\n"


def test_progress_is_plain_lines_on_stderr_when_not_a_terminal() -> None:
    o, out, err = human(interactive=False, colour=False)
    o.progress("PENDING: waiting for a host")
    o.progress("PROVISIONING on host1")
    assert out.getvalue() == ""
    assert err.getvalue() == "PENDING: waiting for a host\nPROVISIONING on host1\n"


def test_spinner_on_a_terminal_is_rewritten_in_place_and_cleared_at_the_end() -> None:
    o, out, err = human(interactive=True, colour=False)
    o.progress("PENDING")
    o.tick()
    o.log_line("stdout", "hello")
    o.close()
    text = err.getvalue()
    assert "\n" not in text  # never a new line: the spinner overwrites itself
    assert "PENDING" in text
    assert text.endswith("\r\x1b[K")  # the terminal is left clean
    assert out.getvalue() == "hello\n"


def test_fan_out_lines_carry_the_host_name_padded_to_the_longest() -> None:
    o, out, err = human(hosts=["h1", "host22"], interactive=False, colour=False)
    o.log_line("stdout", "a", host="h1")
    o.log_line("stderr", "b", host="host22")
    o.progress("RUNNING", host="h1")
    assert out.getvalue() == "h1     | a\n"
    assert err.getvalue() == "host22 | b\nh1     | RUNNING\n"


def test_fan_out_prefix_is_coloured_on_a_terminal_with_the_hosts_own_colour() -> None:
    o, out, _ = human(hosts=["host1"], interactive=False, colour=True)
    o.log_line("stdout", "x", host="host1")
    assert out.getvalue() == f"\x1b[38;5;{host_colour('host1')}mhost1\x1b[0m | x\n"


def test_host_colour_is_stable_and_spreads_hosts() -> None:
    assert host_colour("host1") == host_colour("host1")
    assert len({host_colour(f"host{i}") for i in range(1, 9)}) >= 4


def test_no_color_environment_turns_colour_off(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert use_colour(Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour(Tty())
    assert not use_colour(io.StringIO())


def test_summary_table_is_aligned_and_names_the_failing_hosts() -> None:
    o, out, err = human(interactive=False, colour=False)
    o.summary(ROWS, 1)
    lines = err.getvalue().strip().splitlines()
    assert lines[0].split() == ["HOST", "TASK", "STATE", "EXIT", "DURATION", "NOTE"]
    assert lines[1].split() == ["host1", "job-host1", "STOPPED", "0", "1.2s"]
    assert lines[2].split() == ["host22", "job-host22", "STOPPED", "7", "1m15s"]
    assert lines[3].split() == ["host3", "job-host3", "NOT_STARTED", "-", "-", "interrupted"]
    assert lines[0].index("STATE") == lines[1].index("STOPPED")
    assert lines[-1] == "2 of 3 hosts did not succeed: host22, host3"
    assert out.getvalue() == ""


def test_summary_says_all_succeeded_when_they_did() -> None:
    o, _, err = human(interactive=False, colour=False)
    o.summary(ROWS[:1], 0)
    assert err.getvalue().strip().splitlines()[-1] == "all 1 hosts succeeded"


def test_summary_lines_have_no_trailing_spaces() -> None:
    assert all(line == line.rstrip() for line in summary_lines(ROWS))


def test_format_duration() -> None:
    assert format_duration(None) == "-"
    assert format_duration(0.44) == "0.4s"
    assert format_duration(185) == "3m05s"


def test_every_json_line_parses_and_task_info_is_unwrapped() -> None:
    out = io.StringIO()
    o = JsonOutput(out)
    o.progress("PENDING", host=None, event="state", app="a", taskId="t", state="PENDING")
    o.log_line("stdout", 'quote " and ünïcode\n', host="host1")
    o.notice("detached", app="a", taskId="t")
    o.task_done({"sourceAppName": "a", "taskId": "t", "taskResult": {"status": "FAILED"}})
    o.summary(ROWS, 1)
    o.close()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line.get("event") for line in lines] == ["state", "log", "notice", None, "summary"]
    assert lines[0]["state"] == "PENDING"
    assert lines[1] == {
        "event": "log",
        "host": "host1",
        "stream": "stdout",
        "text": 'quote " and ünïcode',
    }
    assert lines[3]["taskResult"]["status"] == "FAILED"
    assert [h["host"] for h in lines[4]["hosts"]] == ["host1", "host22", "host3"]
    assert lines[4]["hosts"][2]["exitCode"] is None


def test_a_reader_that_went_away_is_not_an_error() -> None:
    # A real pipe whose read end is closed, as with `drove-tui --run job | head -1`.
    import os

    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    with os.fdopen(write_fd, "w") as broken:
        o = HumanOutput(broken, io.StringIO(), interactive=False, colour=False)
        o.log_line("stdout", "first")  # EPIPE here: swallowed, the descriptor goes to devnull
        o.log_line("stdout", "second")
        o.task_ident("a", "t")
        assert os.readlink(f"/proc/self/fd/{broken.fileno()}") == os.devnull


def test_summary_lines_are_pinned_byte_for_byte() -> None:
    assert summary_lines(ROWS) == [
        "HOST    TASK        STATE        EXIT  DURATION  NOTE",
        "host1   job-host1   STOPPED      0     1.2s",
        "host22  job-host22  STOPPED      7     1m15s",
        "host3   job-host3   NOT_STARTED  -     -         interrupted",
    ]


def test_table_lines_aligns_each_column_to_its_widest_cell() -> None:
    assert table_lines(("A", "LONG HEADER", "C"), [("wide cell", "x", ""), ("", "y", "z")]) == [
        "A          LONG HEADER  C",
        "wide cell  x",
        "           y            z",
    ]
    assert table_lines(("ONLY",), []) == ["ONLY"]


def test_table_lines_refuses_a_row_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match="zip"):
        table_lines(("A", "B"), [("1", "2", "3")])
