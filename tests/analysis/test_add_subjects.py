"""New subjects added to a fit without a refit: they join the ranking where their truth puts
them, the fit stays loadable, and item drift is found when (and only when) the items moved
for them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import bayesirt
from bayesirt.analysis import rank
from bayesirt.analysis.scoring import ADDED_ATTR, add_subjects, item_drift
from bayesirt.data import Responses
from bayesirt.inference import load_fit, save_fit
from bayesirt.testing import complete_responses, fake_fit

N_FITTED, N_NEW, N_ITEMS = 40, 12, 200


def _answers(theta, a, b, rng, prefix):
    y = (rng.random((len(theta), len(a))) < expit(a * (theta[:, None] - b))).astype(float)
    wide = pd.DataFrame(
        y,
        index=[f"{prefix}{j:02d}" for j in range(len(theta))],
        columns=[f"item_{i:03d}" for i in range(len(a))],
    )
    return Responses.from_wide(wide)


@pytest.fixture(scope="module")
def world():
    """A fit whose draws scatter around a known 2PL truth, and the truth."""
    rng = np.random.default_rng(0)
    a = np.exp(rng.normal(0.3, 0.3, N_ITEMS))
    b = rng.normal(0, 1, N_ITEMS)
    theta = np.sort(rng.normal(size=N_FITTED))
    fitted = _answers(theta, a, b, rng, "old_")
    shape = (2, 100)
    idata = fake_fit(
        fitted,
        theta=theta + 0.2 * rng.normal(size=(*shape, N_FITTED)),
        a=a * np.exp(0.05 * rng.normal(size=(*shape, N_ITEMS))),
        b=b + 0.05 * rng.normal(size=(*shape, N_ITEMS)),
    )
    return idata, a, b, theta


def test_added_subjects_join_the_ranking_where_their_truth_puts_them(world, tmp_path):
    idata, a, b, theta = world
    rng = np.random.default_rng(1)
    new_theta = np.linspace(-1.8, 1.8, N_NEW)
    new = _answers(new_theta, a, b, rng, "new_")
    updated = add_subjects(idata, new)
    posterior = updated.posterior["theta"]
    assert posterior.sizes["subject"] == N_FITTED + N_NEW
    np.testing.assert_array_equal(  # the fitted subjects are untouched
        posterior.isel(subject=slice(0, N_FITTED)).values, idata.posterior["theta"].values
    )
    means = posterior.mean(("chain", "draw")).to_series()
    sds = posterior.std(("chain", "draw")).to_series()
    added = [f"new_{j:02d}" for j in range(N_NEW)]
    error = (means.loc[added] - new_theta) / sds.loc[added]
    assert np.abs(error).max() < 3.5 and np.corrcoef(means.loc[added], new_theta)[0, 1] > 0.97
    mean_rank = rank(updated)["mean_rank"].to_series()
    truth = pd.Series(np.concatenate([theta, new_theta]), index=posterior["subject"].values)
    assert len(mean_rank) == N_FITTED + N_NEW
    assert mean_rank.corr(truth.loc[mean_rank.index], method="spearman") < -0.95
    thinned = add_subjects(idata, new, max_draws=50).posterior["theta"]
    assert thinned.sizes["chain"] * thinned.sizes["draw"] <= 50
    np.testing.assert_array_equal(
        thinned.isel(subject=slice(0, N_FITTED)).values,
        idata.posterior["theta"].sel(draw=thinned["draw"]).values,
    )
    # saved and loaded like any fit, the added subjects named
    save_fit(updated, tmp_path / "updated.nc")
    again = load_fit(tmp_path / "updated.nc")
    assert again.attrs[ADDED_ATTR].count("new_") == N_NEW
    assert bayesirt.analysis.posterior.fitted_responses(again).n_subjects == N_FITTED + N_NEW


def test_clashing_names_and_unknown_items_are_refused(world):
    idata, a, b, _ = world
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError, match="old_03"):
        add_subjects(idata, _answers(np.zeros(5), a, b, rng, "old_"))
    other = complete_responses(np.ones((2, 3)))
    with pytest.raises(ValueError, match="not in the fitted model"):
        add_subjects(idata, other)
    with pytest.raises(ValueError, match="no subjects added"):
        item_drift(idata)


def test_item_drift_is_found_only_when_the_items_moved(world):
    idata, a, b, _ = world
    rng = np.random.default_rng(3)
    new_theta = rng.normal(size=40)
    null_p = []
    for seed in range(3):
        same = _answers(new_theta, a, b, np.random.default_rng(10 + seed), "new_")
        drift = item_drift(add_subjects(idata, same, random_seed=seed), random_seed=seed)
        null_p.append(drift.attrs["p_overall"])
        assert drift["flagged"].mean() <= 0.1  # nominal 0.05 per item
        assert (drift["n_added"] == 40).all() and len(drift) == N_ITEMS
    assert min(null_p) > 0.05
    moved = b.copy()
    shifted = rng.choice(N_ITEMS, size=40, replace=False)
    moved[shifted] += np.where(rng.random(40) < 0.5, -1.5, 1.5)
    changed = _answers(new_theta, a, moved, rng, "new_")
    drift = item_drift(add_subjects(idata, changed))
    assert drift.attrs["refit"] and drift.attrs["p_overall"] < 0.01
    flagged = set(drift.loc[drift["flagged"], "item"])
    labels = {f"item_{i:03d}" for i in shifted}
    assert len(flagged & labels) >= 0.6 * len(labels)
    assert len(flagged - labels) <= 0.1 * (N_ITEMS - len(labels))
