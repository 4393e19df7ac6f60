"""Fake fits for the analysis and tinybench tests: ``arviz.from_dict`` output that follows the
fit contract.

A fit has ``posterior`` with ``theta`` (chain, draw, subject), ``a``, ``b`` and optionally
``c``, ``d`` (chain, draw, item), string labels as coordinates, and ``constant_data`` equal to
``Responses.to_xarray()`` of the fitted data.

It sits at the root of ``tests/``, which pytest puts on ``sys.path`` for ``tests/conftest.py``,
so that every test folder imports it as ``analysis_fakes``.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
from scipy.special import expit

from bayesirt.data import Responses


def make_idata(theta, a, b, responses: Responses, *, c=None, d=None):
    """InferenceData from draws shaped (chain, draw, subject) and (chain, draw, item)."""
    theta, a, b = (np.asarray(x, dtype=float) for x in (theta, a, b))
    posterior = {"theta": theta, "a": a, "b": b}
    dims = {"theta": ["subject"], "a": ["item"], "b": ["item"]}
    for name, value in (("c", c), ("d", d)):
        if value is not None:
            posterior[name] = np.asarray(value, dtype=float)
            dims[name] = ["item"]
    idata = az.from_dict(
        posterior=posterior,
        coords={
            "subject": [str(s) for s in responses.subjects],
            "item": [str(i) for i in responses.items],
        },
        dims=dims,
    )
    idata.add_groups(constant_data=responses.to_xarray())
    return idata


def complete_responses(y: np.ndarray, *, subjects=None, items=None) -> Responses:
    """Responses from a dense 0/1 matrix (NaN = missing), labelled s0.. and i0.. by default."""
    y = np.asarray(y, dtype=float)
    n_subjects, n_items = y.shape
    subjects = [f"s{j}" for j in range(n_subjects)] if subjects is None else subjects
    items = [f"i{i}" for i in range(n_items)] if items is None else items
    observed = ~np.isnan(y)
    subject_index, item_index = np.nonzero(observed)
    return Responses(
        subject_index=subject_index,
        item_index=item_index,
        response=y[observed].astype(np.int8),
        subjects=pd.Index(subjects),
        items=pd.Index(items),
    )


def simulated_fit(
    n_subjects: int = 8,
    n_items: int = 30,
    *,
    n_chain: int = 2,
    n_draw: int = 50,
    noise: float = 0.3,
    seed: int = 0,
):
    """A 2PL 'fit': responses simulated from true parameters, draws = truth + noise.

    Returns the InferenceData and the true ability of each subject.
    """
    rng = np.random.default_rng(seed)
    true_theta = np.sort(rng.normal(size=n_subjects))[::-1]
    a = np.exp(rng.normal(0.0, 0.3, n_items))
    b = rng.normal(size=n_items)
    y = (rng.random((n_subjects, n_items)) < expit(a * (true_theta[:, None] - b))).astype(float)
    shape = (n_chain, n_draw)
    theta_draws = true_theta + noise * rng.normal(size=(*shape, n_subjects))
    a_draws = a * np.exp(0.05 * rng.normal(size=(*shape, n_items)))
    b_draws = b + 0.05 * rng.normal(size=(*shape, n_items))
    idata = make_idata(theta_draws, a_draws, b_draws, complete_responses(y))
    return idata, true_theta
