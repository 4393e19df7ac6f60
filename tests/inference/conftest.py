"""Fits shared by the inference tests (one fit per data set and method, reused)."""

from __future__ import annotations

import numpy as np
import pytest

import bayesirt
from bayesirt.inference import fit

#: NUTS settings of the default test run: enough for R-hat/ESS on these sizes.
NUTS = {"draws": 1000, "tune": 500, "chains": 2, "progressbar": False}


def standardised_truth(truth):
    """The true parameters on the package's identified scale.

    Fitted abilities have mean 0 and sd 1 over the fitted subjects, so the truth is compared
    after the same affine map: θ* = (θ − m)/s, b* = (b − m)/s, a* = a·s.
    """
    theta = truth["theta"].values
    m, s = theta.mean(), theta.std()
    out = {"theta": (theta - m) / s, "b": (truth["b"].values - m) / s, "a": truth["a"].values * s}
    for name in ("c", "d"):
        if name in truth:
            out[name] = truth[name].values
    return out


def interval_coverage(draws, truth, level=0.9):
    """Fraction of true values inside the central ``level`` posterior intervals."""
    stacked = draws.stack(sample=("chain", "draw")).transpose(..., "sample").values
    lo, hi = np.quantile(stacked, [(1 - level) / 2, (1 + level) / 2], axis=-1)
    return float(np.mean((truth >= lo) & (truth <= hi)))


@pytest.fixture(scope="session")
def simulated_2pl():
    return bayesirt.simulate_responses(100, 300, model="2pl", seed=11, n_categories=4)


@pytest.fixture(scope="session")
def nuts_2pl(simulated_2pl):
    responses, _ = simulated_2pl
    return fit(responses, model="2pl", random_seed=3, **NUTS)
