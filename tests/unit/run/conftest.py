"""Fixtures of the --run unit tests; the fakes themselves live in run_fakes.py (a unique
module name: `conftest` is taken by tests/conftest.py)."""

from __future__ import annotations

import pytest
from run_fakes import FakeEngine


@pytest.fixture
def engine() -> FakeEngine:
    """A fresh scripted engine."""
    return FakeEngine()
