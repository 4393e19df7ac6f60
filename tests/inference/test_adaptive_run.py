"""A default NUTS fit samples the same chains until the diagnostics pass, within a budget."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import nutpie
import pytest

import bayesirt
from bayesirt.inference import ConvergenceWarning, fit, fit_info, nuts
from bayesirt.inference.nuts import MIN_DRAWS


@pytest.fixture(scope="module")
def small():
    return bayesirt.simulate_responses(30, 60, seed=4)[0]


def test_default_fit_runs_until_converged_and_records_it(small):
    # Looks at the chains are at least 2 s apart, and this small a model can finish tuning and
    # draw thousands of draws before the first look (CI once saw all 5,000 of the default
    # budget drawn by then): a budget that it cannot reach so fast.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        idata = fit(small, random_seed=1, max_draws=50_000, progressbar=False)
    info = fit_info(idata)
    settings, diag = info["inference"], info["diagnostics"]
    assert diag["converged"] and diag["min_ess_bulk"] >= 400 and diag["max_rhat"] <= 1.01
    assert settings["adaptive"] and not settings["budget_exhausted"]
    assert MIN_DRAWS <= settings["draws"] < settings["max_draws"]
    assert settings["checks"] >= 1
    assert idata.posterior.sizes["chain"] == settings["chains"] == 4
    assert idata.posterior.sizes["draw"] == settings["draws"]
    assert "warmup_posterior" not in idata


def test_spent_budget_is_kept_and_reported_as_not_converged(small):
    with pytest.warns(ConvergenceWarning, match="budget ran out after 50 draws"):
        idata = fit(small, random_seed=1, max_draws=50, progressbar=False)
    info = fit_info(idata)
    assert info["inference"]["budget_exhausted"]
    assert not info["diagnostics"]["converged"]
    assert idata.posterior.sizes["draw"] == 50


def test_a_trace_too_large_for_memory_goes_to_disk_and_gives_the_same_draws(
    small, tmp_path, monkeypatch
):
    in_memory = fit(small, random_seed=1, max_draws=300, progressbar=False)
    monkeypatch.setattr(nuts, "MEMORY_TRACE_SHARE", 0)  # every trace counts as too large
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stores, make_store = [], nutpie.zarr_store.LocalStore
    monkeypatch.setattr(
        nutpie.zarr_store, "LocalStore", lambda folder: stores.append(folder) or make_store(folder)
    )
    on_disk = fit(small, random_seed=1, max_draws=300, progressbar=False)
    assert len(stores) == 1 and Path(stores[0]).parent == tmp_path
    assert not list(tmp_path.glob("bayesirt-trace-*"))  # the temporary store is gone
    assert set(on_disk.posterior.data_vars) == set(in_memory.posterior.data_vars)
    assert set(on_disk.sample_stats.data_vars) >= {"diverging", "energy", "n_steps"}
    assert on_disk.sample_stats["energy"].dims == ("chain", "draw")
    for name in ("subject", "item"):  # labels as in memory, usable as text downstream
        assert on_disk.posterior[name].dtype == in_memory.posterior[name].dtype == object
    assert bayesirt.rank(on_disk)["subject"].size == small.n_subjects
    # The same seed draws the same chains, wherever they are kept.
    n = min(on_disk.posterior.sizes["draw"], in_memory.posterior.sizes["draw"])
    for name in ("theta", "a", "intercept", "sigma_log_a"):
        np.testing.assert_array_equal(
            on_disk.posterior[name].isel(draw=slice(0, n)),
            in_memory.posterior[name].isel(draw=slice(0, n)),
        )
    assert fit_info(on_disk)["diagnostics"]["converged"] == (
        fit_info(on_disk)["inference"]["draws"] < 300
    )
