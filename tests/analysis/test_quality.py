"""Benchmark quality (bayesirt.analysis.quality): hand-computed curves on fake fits, and the
recovery of flipped answer keys on a simulated fit.

Flipped keys: 5% of the items of a simulated 2PL benchmark (40 subjects × 300 items) have
their responses inverted; the flagged-items table must contain at least 80% of them and few
other items. The default run fits by ADVI (cheap); the slow set repeats it with NUTS.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

import bayesirt
from bayesirt.analysis.quality import (
    assess_quality,
    flag_items,
    information,
    item_parameters,
    saturated_items,
    separability,
    wright_map,
)
from bayesirt.data import Responses
from bayesirt.testing import complete_responses, fake_fit

N_SUBJECTS, N_ITEMS, N_FLIPPED = 40, 300, 15


def fixed_fit(theta, a, b, y, *, shape=(2, 50), noise=0.0, seed=0):
    """A posterior whose every draw is (near) the given parameters."""
    rng = np.random.default_rng(seed)
    theta, a, b = (np.asarray(v, dtype=float) for v in (theta, a, b))

    def draws(v):
        return v + noise * rng.normal(size=(*shape, len(v)))

    return fake_fit(complete_responses(y), theta=draws(theta), a=np.abs(draws(a)), b=draws(b))


@pytest.fixture(scope="module")
def fake():
    rng = np.random.default_rng(4)
    theta = np.linspace(-1.5, 1.5, 12)
    a = np.array([1.0, 2.0, 0.5, 1.5, 0.05, 1.0])
    b = np.array([-1.0, 0.0, 1.0, 0.5, 0.0, -4.0])
    y = (rng.random((12, 6)) < expit(a * (theta[:, None] - b))).astype(float)
    y[:, 5] = 1.0  # everyone right: saturated
    return theta, a, b, fixed_fit(theta, a, b, y)


def test_information_matches_the_2pl_formula(fake):
    theta, a, b, idata = fake
    grid = np.linspace(-3, 3, 61)
    info = information(idata, theta=grid, se_max=0.8)
    p = expit(a * (grid[:, None] - b))
    expected = (a**2 * p * (1 - p)).sum(axis=1)
    np.testing.assert_allclose(info["test_information"].values, expected, rtol=1e-10)
    np.testing.assert_allclose(info["se"].values, expected**-0.5, rtol=1e-10)
    np.testing.assert_allclose(info["item_information"].sum("item").values, expected, rtol=1e-10)
    # the precise range is exactly the grid points with information >= 1 / se_max^2
    precise = grid[expected >= 0.8**-2]
    assert info.attrs["precise_segments"] == [[precise.min(), precise.max()]]
    inside = (theta >= precise.min()) & (theta <= precise.max())
    assert info.attrs["n_subjects_precise"] == inside.sum()
    assert info.attrs["n_subjects_below"] + info.attrs["n_subjects_above"] == (~inside).sum()


def test_information_with_asymptotes():
    """3PL item information, a^2 (P - c)^2 (1 - P) / ((1 - c)^2 P), by hand."""
    y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    idata = fixed_fit([0.0, 1.0, -1.0], [1.2, 0.8], [0.3, -0.5], y)
    idata.posterior["c"] = idata.posterior["a"] * 0 + 0.2
    grid = np.array([-1.0, 0.0, 2.0])
    info = information(idata, theta=grid)
    p = 0.2 + 0.8 * expit(np.array([1.2, 0.8]) * (grid[:, None] - np.array([0.3, -0.5])))
    expected = (np.array([1.2, 0.8]) ** 2 * (p - 0.2) ** 2 * (1 - p) / (0.64 * p)).sum(axis=1)
    np.testing.assert_allclose(info["test_information"].values, expected, rtol=1e-10)


def test_saturated_items(fake):
    *_, idata = fake
    table = saturated_items(idata, min_accuracy=0.1, max_accuracy=0.9)
    accuracy = bayesirt.analysis.posterior.fitted_responses(idata).item_accuracy()
    expected = set(accuracy.index[(accuracy <= 0.1) | (accuracy >= 0.9)].astype(str))
    assert set(table.index) == expected
    assert "i5" in expected
    assert table.loc["i5", "side"] == "right"
    with pytest.raises(ValueError, match="min_accuracy"):
        saturated_items(idata, min_accuracy=0.6, max_accuracy=0.4)


def test_near_zero_discrimination_is_flagged(fake):
    *_, idata = fake
    flagged = flag_items(idata, a_min=0.25, n_draws=50)
    assert "near-zero discrimination" in flagged.loc["i4", "reasons"]
    assert flagged.loc["i4", "p_a_below"] == 1.0
    assert "saturated" in flagged.loc["i5", "reasons"]
    assert not {"i0", "i1", "i3"} & set(flagged.index)
    # a common discrimination (1PL) flags nothing for discrimination
    common = idata.copy()
    common.posterior["a"] = common.posterior["a"] * 0 + 0.1
    assert not flag_items(common, n_draws=20)["reasons"].str.contains("discrimination").any()


def test_item_parameters_and_wright_map(fake):
    theta, a, b, idata = fake
    table = item_parameters(idata, by=None)
    np.testing.assert_allclose(table["a"], a)
    np.testing.assert_allclose(table["b"], b)
    np.testing.assert_allclose(table["a_sd"], 0.0, atol=1e-12)
    wright = wright_map(idata, by=None)
    np.testing.assert_allclose(wright.loc[wright["kind"] == "subject", "location"], theta)
    np.testing.assert_allclose(wright.loc[wright["kind"] == "item", "location"], b)
    with pytest.raises(ValueError, match="'nope'"):
        item_parameters(idata, by="nope")


def test_separability_counts_adjacent_pairs():
    y = np.tile([[1.0, 0.0]], (6, 1))
    # three subjects far apart, three on top of each other
    theta = np.array([6.0, 3.0, 0.0, -1.0, -1.0, -1.0])
    idata = fixed_fit(theta, [1.0, 1.0], [0.0, 0.0], y, noise=0.2, seed=1)
    result = separability(idata, top=6, level=0.95)
    assert result.n_adjacent == 5
    assert result.n_separated == 3  # 6 > 3 > 0 > {-1, -1, -1}
    assert [len(t) for t in result.tiers] == [1, 1, 1, 3]
    assert "3 of 5" in result.sentence


def test_expected_chance_flags_match_flags_under_the_model():
    """Data drawn from the posterior's own parameters: flags are chance, and about as many
    as flag_items expects (summed over six data sets: shared abilities make one noisy)."""
    flagged = expected = 0.0
    for seed in range(6):
        responses, truth = bayesirt.simulate_responses(15, 400, seed=seed, discrimination_sd=0.8)
        posterior = {
            k: np.broadcast_to(truth[k].values, (1, 200, truth.sizes[d]))
            for k, d in (("theta", "subject"), ("a", "item"), ("b", "item"))
        }
        idata = fake_fit(responses, **posterior)
        table = flag_items(idata, n_draws=None, random_seed=seed)
        flagged += table["reasons"].str.contains("against ability").sum()
        expected += table.attrs["n_against_expected"]
    assert expected > 40  # weak items at 15 subjects: chance flags are common
    assert 0.7 < flagged / expected < 1.4


# ------------------------------------------------------------------- flipped keys
def flipped_benchmark():
    responses, _ = bayesirt.simulate_responses(N_SUBJECTS, N_ITEMS, model="2pl", seed=7)
    flipped = np.random.default_rng(1).choice(N_ITEMS, N_FLIPPED, replace=False)
    y = responses.response.copy()
    inverted = np.isin(responses.item_index, flipped)
    y[inverted] = 1 - y[inverted]
    data = Responses(
        subject_index=responses.subject_index,
        item_index=responses.item_index,
        response=y,
        subjects=responses.subjects,
        items=responses.items,
    )
    return data, set(responses.items[flipped].astype(str))


def recovery(flagged, flipped: set[str]) -> dict:
    against = set(flagged.index[flagged["reasons"].str.contains("against ability")])
    table = set(flagged.index)
    return {
        "recall": len(flipped & table) / len(flipped),
        "precision_table": len(flipped & table) / max(len(table), 1),
        "precision_against": len(flipped & against) / max(len(against), 1),
        "n_flagged": len(table),
    }


def test_flipped_answer_keys_are_recovered_advi():
    responses, flipped = flipped_benchmark()
    idata = bayesirt.fit(
        responses,
        model="2pl",
        method="advi",
        advi_iterations=10_000,
        draws=200,
        chains=2,
        random_seed=1,
        progressbar=False,
    )
    quality = assess_quality(idata)
    scores = recovery(quality.flagged, flipped)
    print("flipped keys, ADVI:", scores)
    assert scores["recall"] >= 0.8
    assert scores["precision_against"] >= 0.8
    assert scores["precision_table"] >= 0.7
    summary = quality.summary()
    assert summary["n_against_ability"] >= 0.8 * N_FLIPPED
    # the expected number of chance flags is an upper estimate: at least the false ones
    false_flags = summary["n_against_ability"] - round(scores["recall"] * N_FLIPPED)
    assert false_flags <= summary["n_against_expected"] < summary["n_against_ability"]
    # 40 subjects with abilities of sd 1: the benchmark is precise around them
    assert summary["n_subjects_precise"] >= 0.8 * N_SUBJECTS


@pytest.mark.slow
def test_flipped_answer_keys_are_recovered_nuts():
    responses, flipped = flipped_benchmark()
    idata = bayesirt.fit(
        responses, model="2pl", draws=300, tune=300, random_seed=1, progressbar=False
    )
    scores = recovery(flag_items(idata), flipped)
    print("flipped keys, NUTS:", scores)
    assert scores["recall"] >= 0.8
    assert scores["precision_against"] >= 0.8
    assert scores["precision_table"] >= 0.7
