"""A default NUTS fit samples the same chains until the diagnostics pass, within a budget."""

from __future__ import annotations

import warnings

import pytest

import bayesirt
from bayesirt.inference import ConvergenceWarning, fit, fit_info
from bayesirt.inference.nuts import MIN_DRAWS


@pytest.fixture(scope="module")
def small():
    return bayesirt.simulate_responses(30, 60, seed=4)[0]


def test_default_fit_runs_until_converged_and_records_it(small):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        idata = fit(small, random_seed=1, progressbar=False)
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
