"""Bayesian fits of classic data sets land on the published maximum-likelihood estimates."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bayesirt import Responses
from bayesirt.inference import fit

from .conftest import NUTS


def _load(shared_data, name):
    wide = pd.read_csv(shared_data / "classic-irt" / f"{name}_wide.csv")
    return Responses.from_wide(wide, subject="subject")


def _within_sd(posterior, name, reference, n_sd=2.0):
    draws = posterior[name].stack(sample=("chain", "draw"))
    z = (draws.mean("sample").values - np.asarray(reference)) / draws.std("sample").values
    assert np.all(np.abs(z) <= n_sd), f"{name}: posterior mean is {z.round(2)} sd from reference"


def test_lsat7_2pl_matches_mirt(shared_data):
    responses = _load(shared_data, "lsat7")
    idata = fit(responses, model="2pl", random_seed=7, **NUTS)
    a = np.array([0.988, 1.081, 1.706, 0.765, 0.736])
    d = np.array([1.856, 0.808, 1.804, 0.486, 1.855])
    _within_sd(idata.posterior, "a", a)
    _within_sd(idata.posterior, "b", -d / a)


def test_lsat6_rasch_matches_ltm(shared_data):
    reference = json.loads((shared_data / "classic-irt" / "reference_estimates.json").read_text())
    rasch = reference["lsat6"]["ltm_rasch_common_a"]
    responses = _load(shared_data, "lsat6")
    idata = fit(responses, model="1pl", random_seed=7, **NUTS)
    _within_sd(idata.posterior, "b", rasch["b"])
    a = idata.posterior["a"].isel(item=0)
    assert abs(float(a.mean()) - rasch["a"]) <= 2 * float(a.std())
    np.testing.assert_allclose(idata.posterior["a"].std("item").max(), 0.0, atol=1e-12)
    assert rasch["a"] == pytest.approx(0.7551)
