"""The headless path never loads Textual (a fresh interpreter proves it; import-linter
checks the static imports, this checks what really happens at run time)."""

from __future__ import annotations

import json
import subprocess
import sys

# Imports the given modules and every submodule of ours, builds the CLI parser, and reports which of
# the watched modules ended up loaded.
PROBE = """
import importlib, json, pkgutil, sys
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    if name.startswith("drove_tui"):
        for info in pkgutil.walk_packages(getattr(module, "__path__", []), name + "."):
            importlib.import_module(info.name)
if "drove_tui.cli" in sys.modules:
    sys.modules["drove_tui.cli"].build_parser()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "textual"
                        or m.startswith("drove_tui.tui"))))
"""

HEADLESS = [
    "drove_tui.cli",
    "drove_tui.errors",
    "drove_tui.models",
    "drove_tui.loaders",
    "drove_tui.cluster",
    "drove_tui.engine",
    "drove_tui.commands",
]


def loaded_ui_modules(*modules: str) -> list[str]:
    res = subprocess.run(
        [sys.executable, "-c", PROBE, *modules],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    found: list[str] = json.loads(res.stdout.strip().splitlines()[-1])
    return found


def test_headless_modules_and_parser_do_not_load_textual() -> None:
    assert loaded_ui_modules(*HEADLESS) == []


def test_probe_notices_textual_when_it_is_loaded() -> None:
    # Guards the test above against passing vacuously (e.g. a probe that never looks).
    assert "textual" in loaded_ui_modules("drove_tui.cli", "textual")
