"""Fixtures shared by all test folders."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Public benchmark data kept beside the repository (``../shared/data``), never inside it.
SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; tests that need it are skipped where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA.resolve()} (../shared/data)")
    return SHARED_DATA
