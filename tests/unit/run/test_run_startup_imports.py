"""The headless start-up path imports only what it needs (issue #7: start-up speed).

Nothing here is timed: a module that is not imported costs nothing, so the test asserts on
`sys.modules` in a fresh interpreter, which is deterministic.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# What `--help` must never pay for: the TUI, SSH and its crypto, the engine and the cluster.
HEAVY = (
    "textual",
    "drove_tui.tui",
    "asyncssh",
    "cryptography",
    "drove_tui.cluster",
    "drove_tui.engine.engine",
)


def modules_after(argv: list[str]) -> set[str]:
    """Run cli.main(argv) in a fresh interpreter and return the names it imported."""
    probe = (
        "import json, sys\n"
        "from drove_tui.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stdout = sys.__stdout__\n"
        "print('\\nMODULES=' + json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    line = done.stdout.rsplit("MODULES=", 1)[1]
    return set(json.loads(line))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_imports_neither_textual_nor_ssh_nor_the_engine() -> None:
    modules = modules_after(["--help"])
    assert "drove_tui.cli" in modules  # the probe really ran the CLI
    assert heavy_in(modules) == []


def test_spec_validate_imports_neither_textual_nor_ssh_nor_the_engine(tmp_path: Path) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(
        "sourceAppName: ci\ntaskId: job1\n"
        "executable: {type: DOCKER, url: busybox}\n"
        "resources: [{type: CPU, count: 1}, {type: MEMORY, sizeInMB: 64}]\n"
    )
    modules = modules_after(["spec", "validate", str(spec)])
    assert "drove_tui.models.spec" in modules  # the spec really was validated
    assert heavy_in(modules) == []


def test_the_probe_notices_a_heavy_import() -> None:
    # Control: the filter must catch a heavy module and its sub-modules, or the assertions
    # above would prove nothing.
    assert "drove_tui.engine.engine" in heavy_in({"drove_tui.engine.engine", "json"})
    assert heavy_in({"asyncssh.connection"}) == ["asyncssh.connection"]
