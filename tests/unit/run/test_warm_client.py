"""The warm client's decisions that need no server: when it is on, where the server lives,
which changes make a new one, and which runtime directories it refuses."""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

import pytest

from drove_tui.commands import warm
from drove_tui.errors import InvalidInput


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", 60.0), ("90", 90.0), ("0.5", 0.5), ("0", None), ("off", None), ("no", None)],
)
def test_idle_seconds(raw: str, expected: float | None) -> None:
    assert warm.idle_seconds({"DROVE_TUI_WARM": raw}) == expected


@pytest.mark.parametrize("raw", ["soon", "-1", "1e9"])
def test_idle_seconds_refuses_nonsense_in_one_sentence(raw: str) -> None:
    with pytest.raises(InvalidInput, match="DROVE_TUI_WARM="):
        warm.idle_seconds({"DROVE_TUI_WARM": raw})


def args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{"state": None, "inventory": None, **kw})


def test_the_server_key_follows_the_store_and_the_inventory_content(tmp_path: Path) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path), "HOME": str(tmp_path)}
    inventory = tmp_path / "inv.yaml"
    inventory.write_text("hosts: []\n")
    first = warm.locate(args(state="a.db", inventory=str(inventory)), env)
    assert first == warm.locate(args(state="a.db", inventory=str(inventory)), env)
    assert first.state.is_absolute()
    other_store = warm.locate(args(state="b.db", inventory=str(inventory)), env)
    from_env = warm.locate(args(state="a.db"), {**env, "DROVE_TUI_INVENTORY": str(inventory)})
    assert other_store.key != first.key
    assert from_env.key == first.key
    inventory.write_text("hosts: []\n# edited\n")
    assert warm.locate(args(state="a.db", inventory=str(inventory)), env).key != first.key
    assert first.socket.parent == tmp_path / "drove-tui"
    assert (first.socket.parent.stat().st_mode & 0o777) == 0o700


def test_a_runtime_directory_that_is_a_symlink_or_shared_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "drove-tui").symlink_to(elsewhere)
    with pytest.raises(warm.UnavailableError, match="not a directory"):
        warm.runtime_dir({"XDG_RUNTIME_DIR": str(tmp_path)})
    shared = tmp_path / "shared"
    (shared / "drove-tui").mkdir(parents=True)
    os.chmod(shared / "drove-tui", 0o777)
    with pytest.raises(warm.UnavailableError, match="not private"):
        warm.runtime_dir({"XDG_RUNTIME_DIR": str(shared)})


def test_a_long_socket_path_is_reached_through_its_directory(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = deep / "x.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with warm.address(path) as where:
        assert where.startswith("/proc/self/fd/")
        server.bind(where)
    server.listen(1)
    assert path.exists()
    client = warm._connect(path)
    assert client is not None
    client.close()
    server.close()
    assert warm._connect(tmp_path / "none.sock") is None


LIGHT_PROBE = """
import json, sys
import drove_tui.cli
drove_tui.cli.build_parser()
import drove_tui.commands.warm
for name in sys.argv[1:]:
    __import__(name)
heavy = ("pydantic", "asyncssh", "yaml", "sqlite3", "celpy", "textual")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def heavy_modules_loaded(*extra: str) -> list[str]:
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", LIGHT_PROBE, *extra],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found: list[str] = json.loads(done.stdout)
    return found


def test_a_warm_run_loads_nothing_heavy_before_handing_over() -> None:
    # The whole point of the warm client: the parser and the client, and nothing that costs.
    assert heavy_modules_loaded() == []
    assert "pydantic" in heavy_modules_loaded("drove_tui.commands.run")  # the probe sees
