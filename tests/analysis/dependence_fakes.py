"""Shared fakes of the dependence, scenario and robustness tests (this module holds no tests).

:func:`truth_fit` turns the truth of :func:`bayesirt.simulate_responses` into a "fit": posterior
draws scattered a little around the true abilities and item parameters, a
:func:`bayesirt.testing.fake_fit`, so that the residuals are those of the true model
and nothing is sampled. :func:`residual_frame` computes the residuals of one draw by hand, the
reference of the Q3 tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit

import bayesirt
from bayesirt.analysis.posterior import posterior_draws
from bayesirt.data import Responses
from bayesirt.testing import fake_fit


def truth_fit(
    responses: Responses,
    truth: xr.Dataset,
    *,
    n_draw: int = 40,
    jitter: float = 0.02,
    seed: int = 0,
):
    """InferenceData with one chain of ``n_draw`` draws: truth plus ``jitter`` noise."""
    rng = np.random.default_rng(seed)
    theta = truth["theta"].sel(subject=responses.subjects).values
    a = truth["a"].sel(item=responses.items).values
    b = truth["b"].sel(item=responses.items).values
    shape = (1, n_draw)
    return fake_fit(
        responses,
        theta=theta + jitter * rng.normal(size=(*shape, len(theta))),
        a=a * np.exp(jitter * rng.normal(size=(*shape, len(a)))),
        b=b + jitter * rng.normal(size=(*shape, len(b))),
    )


def planted(seed: int = 1, *, n_subjects: int = 120, cluster_size: int = 30, **kwargs):
    """6 planted clusters of ``cluster_size`` items plus 180 unclustered items (cluster_sd 1).

    Returns the responses, the truth and a truth fit.
    """
    responses, truth = bayesirt.simulate_responses(
        n_subjects,
        6 * cluster_size + 180,
        seed=seed,
        clusters=6,
        cluster_size=cluster_size,
        cluster_sd=1.0,
        n_categories=4,
        **kwargs,
    )
    return responses, truth, truth_fit(responses, truth)


def residual_frame(idata, s):
    """Residuals of draw ``s`` as subjects × items with NaN for missing cells (by hand)."""
    draws = posterior_draws(idata)
    responses = idata.constant_data
    y = np.full((len(draws.subjects), len(draws.items)), np.nan)
    y[responses["subject_index"].values, responses["item_index"].values] = responses[
        "response"
    ].values
    p = expit(draws.a[s] * (draws.theta[s][:, None] - draws.b[s]))
    return pd.DataFrame(y - p, columns=draws.items)
