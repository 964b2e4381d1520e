"""`drove-tui hosts ...` (placeholder until its owner fills it)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add this command group to the root parser."""
