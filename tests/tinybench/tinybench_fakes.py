"""Shared fakes of the subset and adaptive-testing tests (this module holds no tests).

:func:`simulate_benchmark` draws an LLM-leaderboard-like 2PL data set: discriminations around
2 and widely spread difficulties, so that many items are nearly always right or nearly always
wrong, as on real benchmarks. :func:`truth_fit` turns its truth into a "fit": posterior draws
scattered around the true values, a :func:`bayesirt.testing.fake_fit`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from bayesirt.data import Responses
from bayesirt.testing import fake_fit


def simulate_benchmark(
    n_subjects: int,
    n_items: int,
    *,
    seed: int,
    a_median: float = 2.0,
    b_sd: float = 1.5,
    n_categories: int = 4,
) -> tuple[Responses, dict[str, pd.Series]]:
    """Complete 2PL responses with item metadata ``category``; returns data and truth."""
    rng = np.random.default_rng(seed)
    subjects = pd.Index([f"m{j:04d}" for j in range(n_subjects)])
    items = pd.Index([f"q{i:04d}" for i in range(n_items)])
    theta = rng.normal(size=n_subjects)
    a = a_median * np.exp(rng.normal(0.0, 0.3, n_items))
    b = rng.normal(0.0, b_sd, n_items)
    y = (rng.random((n_subjects, n_items)) < expit(a * (theta[:, None] - b))).astype(np.int8)
    meta = pd.DataFrame({"category": [f"c{k % n_categories}" for k in range(n_items)]}, index=items)
    responses = Responses(
        subject_index=np.repeat(np.arange(n_subjects), n_items),
        item_index=np.tile(np.arange(n_items), n_subjects),
        response=y.ravel(),
        subjects=subjects,
        items=items,
        item_meta=meta,
    )
    truth = {
        "theta": pd.Series(theta, index=subjects),
        "a": pd.Series(a, index=items),
        "b": pd.Series(b, index=items),
    }
    return responses, truth


def truth_fit(
    truth: dict[str, pd.Series],
    *,
    n_chain: int = 2,
    n_draw: int = 50,
    theta_noise: float = 0.2,
    item_noise: float = 0.05,
    seed: int = 0,
):
    """A ``fit(responses) -> InferenceData`` whose draws are the truth plus noise."""

    def fit(responses: Responses):
        rng = np.random.default_rng(seed)
        shape = (n_chain, n_draw)
        theta = truth["theta"].loc[responses.subjects].to_numpy()
        a = truth["a"].loc[responses.items].to_numpy()
        b = truth["b"].loc[responses.items].to_numpy()
        return fake_fit(
            responses,
            theta=theta + theta_noise * rng.normal(size=(*shape, len(theta))),
            a=a * np.exp(item_noise * rng.normal(size=(*shape, len(a)))),
            b=b + item_noise * rng.normal(size=(*shape, len(b))),
        )

    return fit
