"""The quoting builder: every part arrives literally; secrets never show."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drove_tui.cluster.command import MASK, Command
from drove_tui.models.inventory import HostConfig

NASTY = ["$(touch /tmp/pwned)", "`id`", "a;b", "'\"", "line1\nline2", "-n", "--rm", "*", "~", ""]


def _echo_back(cmd: Command) -> list[str]:
    """Run `cmd` through a real shell and return the arguments printf received."""
    out = subprocess.run(["sh", "-c", cmd.line()], capture_output=True, check=True).stdout
    return out.decode().split("\0")[:-1]


def test_metacharacters_arrive_as_literal_arguments(tmp_path: Path) -> None:
    marker = f"{tmp_path}/pwned"
    parts = [*NASTY, f"$(touch {marker})", f"`touch {marker}`"]
    assert _echo_back(Command("printf", "%s\\0", *parts)) == parts
    assert not (tmp_path / "pwned").exists()


@settings(deadline=None, max_examples=50)  # no per-example deadline: CI machines are busy
@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=20)))
def test_any_text_round_trips_through_the_shell(parts: list[str]) -> None:
    cmd = Command("printf", "%s\\0", *parts)
    assert shlex.split(cmd.line())[2:] == parts


def test_secret_parts_are_masked_in_str_but_sent_in_line() -> None:
    cmd = Command("docker", "run", "-e", Command.secret("TOKEN=hunter2"), "img")
    assert "hunter2" not in str(cmd)
    assert "hunter2" not in repr(cmd)
    assert MASK in str(cmd)
    assert shlex.split(cmd.line())[3] == "TOKEN=hunter2"


def test_docker_applies_the_inventory_prefix_split_by_shlex() -> None:
    host = HostConfig(name="h", address="a", docker="sudo -n docker")
    assert Command.docker(host, "ps", "-q").argv() == ["sudo", "-n", "docker", "ps", "-q"]


def test_composition_joins_quoted_commands_with_fixed_operators() -> None:
    cmd = Command.sh_and(Command("echo", "a b"), Command("echo", ";")).otherwise(Command("false"))
    assert cmd.line() == "{ echo 'a b' && echo ';'; } || false"
    assert (
        subprocess.run(
            ["sh", "-c", cmd.pipe(Command("wc", "-l")).line()], capture_output=True, check=True
        ).stdout.strip()
        == b"2"
    )


def test_script_passes_user_values_only_as_positional_arguments() -> None:
    cmd = Command.script('printf "%s" "$1"', "$(echo injected)")
    out = subprocess.run(["sh", "-c", cmd.line()], capture_output=True, check=True).stdout
    assert out == b"$(echo injected)"


@pytest.mark.parametrize("bad", [3.5, None, b"bytes", ["list"], True])
def test_parts_of_other_types_are_rejected(bad: object) -> None:
    with pytest.raises(TypeError):
        Command("echo", bad)  # type: ignore[arg-type]


def test_nul_bytes_and_empty_commands_are_rejected() -> None:
    with pytest.raises(ValueError, match="NUL"):
        Command("echo", "a\x00b")
    with pytest.raises(ValueError, match="at least one"):
        Command()


def test_a_composed_command_has_no_argv() -> None:
    with pytest.raises(ValueError, match="composed"):
        Command("a").then(Command("b")).argv()
