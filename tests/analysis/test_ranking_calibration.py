"""Calibration of posterior rankings on real NUTS fits of simulated leaderboards (slow).

Run with ``python -m pytest tests/analysis/test_ranking_calibration.py -m slow -s`` to see the
reliability table.
"""

import numpy as np
import pytest
from scipy.special import expit

import bayesirt
from bayesirt.analysis import rank, score_new
from bayesirt.data import Responses

pytestmark = pytest.mark.slow

if not hasattr(bayesirt, "fit"):
    pytest.skip("bayesirt.fit is not available yet", allow_module_level=True)

# (n_subjects, n_items, seed): a few leaderboards of different shapes
LEADERBOARDS = [(20, 200, 11), (40, 500, 12), (60, 1000, 13), (30, 2000, 14)]
FIT = {"model": "2pl", "method": "nuts", "draws": 500, "tune": 500, "chains": 2}


def simulate(n_subjects, n_items, seed, *, missing=0.1, theta=None):
    """2PL responses with about ``missing`` of the cells left out; returns data and true θ."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n_subjects) if theta is None else theta
    a = np.exp(rng.normal(0.0, 0.3, n_items))
    b = rng.normal(size=n_items)
    y = rng.random((n_subjects, n_items)) < expit(a * (theta[:, None] - b))
    observed = rng.random(y.shape) >= missing
    subject_index, item_index = np.nonzero(observed)
    responses = Responses(
        subject_index=subject_index,
        item_index=item_index,
        response=y[observed].astype(np.int8),
        subjects=[f"m{j:02d}" for j in range(n_subjects)],
        items=[f"q{i:04d}" for i in range(n_items)],
    )
    return responses, theta


@pytest.fixture(scope="module")
def rankings():
    out = []
    for n_subjects, n_items, seed in LEADERBOARDS:
        responses, theta = simulate(n_subjects, n_items, seed)
        idata = bayesirt.fit(responses, random_seed=seed, **FIT)
        result = rank(idata, n_boot=200)
        true = dict(zip(responses.subjects, theta, strict=True))
        out.append((result, np.array([true[s] for s in result["subject"].values])))
    return out


def test_rank_intervals_cover_the_true_rank(rankings):
    covered = []
    for result, theta in rankings:
        true_rank = 1 + (theta[None, :] > theta[:, None]).sum(axis=1)
        lo, hi = result["rank_lo"].values, result["rank_hi"].values
        covered.extend((lo <= true_rank) & (true_rank <= hi))
    rate = np.mean(covered)
    print(f"\n90% rank intervals cover the true rank for {rate:.1%} of {len(covered)} subjects")
    assert 0.85 <= rate <= 0.97


def test_pairwise_probabilities_are_reliable(rankings):
    bins = [(0.80, 0.85), (0.85, 0.90), (0.90, 0.95)]
    counts = np.zeros(len(bins), dtype=int)
    agree = np.zeros(len(bins))
    stated = np.zeros(len(bins))
    for result, theta in rankings:
        p = result["p_beats"].values
        for k, (low, high) in enumerate(bins):
            upper = p <= high if k == len(bins) - 1 else p < high
            a, b = np.nonzero((p >= low) & upper)
            counts[k] += len(a)
            agree[k] += (theta[a] > theta[b]).sum()
            stated[k] += p[a, b].sum()
    print("\nP(A beats B)   pairs   mean stated   observed agreement")
    for (low, high), n, s, g in zip(bins, counts, stated, agree, strict=True):
        if n:
            print(f"[{low:.2f}, {high:.2f}]  {n:7d}   {s / n:11.3f}   {g / n:18.3f}")
    total = counts.sum()
    print(f"all            {total:7d}   {stated.sum() / total:11.3f}   {agree.sum() / total:18.3f}")
    assert total >= 30
    assert 0.7 <= agree.sum() / total <= 1.0


def test_score_new_agrees_with_refitting():
    """With all items, the cut posterior of a held-out subject matches a refit including it."""
    theta = np.random.default_rng(21).normal(size=41)
    theta[-1] = 0.6
    responses, _ = simulate(41, 300, 21, missing=0.0, theta=theta)
    fitted = responses.subset(subjects=responses.subjects[:40])
    held_out = responses.subset(subjects=responses.subjects[40:])
    scored = score_new(bayesirt.fit(fitted, random_seed=21, **FIT), held_out)
    refit = bayesirt.fit(responses, random_seed=22, **FIT)
    label = responses.subjects[40]
    refit_mean = float(refit.posterior["theta"].sel(subject=label).mean())
    cut_mean = float(scored["theta_mean"].sel(subject=label))
    print(f"\nheld-out θ: score_new {cut_mean:.3f}, refit {refit_mean:.3f}")
    assert abs(cut_mean - refit_mean) < 0.1
