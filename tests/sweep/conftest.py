"""The sweep the sweep tests share, and its spec.

Fits are ADVI on a simulated 20 × 100 table (1,500 steps, 50 draws). One sweep of two fits on
the local pool (:func:`local_run`) is made once per test session and shared by the run tests
(``test_run.py``) and the engine tests (``test_engines.py``), which must not change its cache.

Test modules import the constants with ``from .conftest import ...`` (``tests/sweep`` is a
package).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

from bayesirt.sweep import sweep

SIM = {"n_subjects": 20, "n_items": 100, "seed": 3, "n_categories": 3}
FIT = {"method": "advi", "advi_iterations": 1500, "draws": 50, "chains": 1}
ANALYSIS = {"groups": "category", "n_use_cases": 10, "n_boot": 20}
SPEC = {
    "data": {"sim": {"simulate": SIM}},
    "models": ["1pl", "2pl"],
    "fit": FIT,
    "analysis": ANALYSIS,
}
#: The same spec as TOML (read by the command line).
SPEC_TOML = """
models = ["1pl", "2pl"]
[data]
sim = { simulate = { n_subjects = 20, n_items = 100, seed = 3, n_categories = 3 } }
[fit]
method = "advi"
advi_iterations = 1500
draws = 50
chains = 1
[analysis]
groups = "category"
n_use_cases = 10
n_boot = 20
"""
LABELS = ["sim/all/1pl/default/seed0", "sim/all/2pl/default/seed0"]


@pytest.fixture(scope="session")
def local_run(tmp_path_factory) -> tuple[xr.Dataset, Path]:
    """The two-fit sweep on the local pool, and its cache."""
    cache = tmp_path_factory.mktemp("sweep-cache")
    return sweep(SPEC, cache_dir=cache, n_workers=2, progress=False), cache


def fit_files(cache: Path) -> dict[str, int]:
    """The fit files in a sweep's cache, with their modification times (ns)."""
    return {p.name: p.stat().st_mtime_ns for p in (cache / "fits").glob("*.nc")}
