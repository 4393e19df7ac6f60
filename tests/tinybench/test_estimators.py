"""estimate_scores: every estimator against a direct computation on a small case."""

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy.special import expit
from tinybench_fakes import simulate_benchmark, truth_fit

from bayesirt.analysis import score_new
from bayesirt.testing import complete_responses, simulated_fit
from bayesirt.tinybench import ESTIMATORS, estimate_scores, select_items

N_ITEMS = 30


@pytest.fixture(scope="module")
def case():
    """A 2PL fit of 40 subjects on 30 items, four new subjects and an anchor selection."""
    idata, _ = simulated_fit(40, N_ITEMS, n_draws=200, seed=7)
    rng = np.random.default_rng(8)
    y = (rng.random((4, N_ITEMS)) < np.array([0.9, 0.6, 0.3, 0.5])[:, None]).astype(float)
    y[3, :20] = np.nan  # the last subject skipped two thirds of the benchmark
    new = complete_responses(y, subjects=[f"new{j}" for j in range(4)])
    selection = select_items(idata, method="anchor", budget=8, seed=0)
    return idata, new, selection, y


def _posterior_means(idata):
    post = idata.posterior
    return post["a"].mean(("chain", "draw")).values, post["b"].mean(("chain", "draw")).values


def _subset_answers(y, selection):
    cols = [int(i[1:]) for i in selection.items]
    out = np.full_like(y, np.nan)
    out[:, cols] = y[:, cols]
    return out


def _map(y_row, a, b):
    seen = ~np.isnan(y_row)

    def neg_log_post(t):
        p = expit(a[seen] * (t - b[seen]))
        return 0.5 * t * t - np.sum(np.where(y_row[seen] == 1, np.log(p), np.log1p(-p)))

    return optimize.minimize_scalar(neg_log_post, bounds=(-6, 6), method="bounded").x


def _direct_pirt(answers, a, b):
    out = []
    for row in answers:
        seen = ~np.isnan(row)
        if not seen.any():  # nothing answered: the prior mode predicts every item
            out.append(expit(a * (0.0 - b)).mean())
            continue
        lam = seen.sum() / len(row)
        p = expit(a * (_map(row, a, b) - b))
        out.append(lam * row[seen].mean() + (1 - lam) * p[~seen].mean())
    return np.array(out)


def test_registry_and_unknown_estimator(case):
    idata, new, selection, _ = case
    assert list(ESTIMATORS) == ["mean", "weighted", "pirt", "gpirt", "bayes"]
    with pytest.raises(ValueError, match="mean, weighted, pirt, gpirt, bayes"):
        estimate_scores(idata, new, selection=selection, estimator="median")


def test_mean_and_weighted_against_direct_sums(case):
    idata, new, selection, y = case
    answers = _subset_answers(y, selection)
    weight = pd.Series(selection.weights, index=selection.items)
    w = np.array([weight.get(f"i{i}", 0.0) for i in range(N_ITEMS)])
    mean = estimate_scores(None, new, selection=selection, estimator="mean")
    weighted = estimate_scores(idata, new, selection=selection, estimator="weighted")
    seen = ~np.isnan(answers)
    np.testing.assert_allclose(mean["estimate"], np.nanmean(answers, axis=1))
    direct = (np.nan_to_num(answers) * w).sum(1) / (seen * w).sum(1)
    np.testing.assert_allclose(weighted["estimate"], direct)
    np.testing.assert_array_equal(mean["n_answered"], seen.sum(1))
    assert mean[["lo", "hi"]].isna().all().all()
    assert not np.allclose(weighted["estimate"], mean["estimate"])


def test_pirt_follows_the_published_formula(case):
    idata, new, selection, y = case
    a, b = _posterior_means(idata)
    result = estimate_scores(idata, new, selection=selection, estimator="pirt")
    expected = _direct_pirt(_subset_answers(y, selection), a, b)
    np.testing.assert_allclose(result["estimate"], expected, atol=2e-3)


def _direct_gpirt_constants(idata, a, b):
    training = idata.constant_data
    y = np.full((40, N_ITEMS), np.nan)
    y[training["subject_index"].values, training["item_index"].values] = training["response"]
    errors = []
    for row in y[::5]:
        seen = row.copy()
        seen[1::2] = np.nan
        theta = _map(seen, a, b)
        errors.append(abs(expit(a * (theta - b))[1::2].mean() - row[1::2].mean()))
    return np.mean(errors), np.mean(np.var(y, axis=1))


@pytest.mark.parametrize(("method", "kappa"), [("anchor", 4.0), ("random", 1.0)])
def test_gpirt_follows_the_published_formula(case, method, kappa):
    idata, new, _, y = case
    selection = select_items(idata, method=method, budget=8, seed=0)
    a, b = _posterior_means(idata)
    bias, variance = _direct_gpirt_constants(idata, a, b)
    answers = _subset_answers(y, selection)
    m = (~np.isnan(answers)).sum(axis=1)
    # a subject that answered none of the subset (new3, random design) gets λ = 0
    lam = np.where(m > 0, bias**2 / (bias**2 + variance / (kappa * np.maximum(m, 1))), 0.0)
    weighted = estimate_scores(idata, new, selection=selection, estimator="weighted")["estimate"]
    weighted = weighted.fillna(0.0)
    pirt = _direct_pirt(answers, a, b)
    result = estimate_scores(idata, new, selection=selection, estimator="gpirt")
    np.testing.assert_allclose(result["weight"], lam, rtol=5e-3)  # MAP on a 0.01 grid
    np.testing.assert_allclose(result["estimate"], lam * weighted + (1 - lam) * pirt, atol=2e-3)


def _direct_bayes_draws(idata, new, selection, y, seed):
    """Per-draw expected full accuracy from score_new's θ draws, computed by hand."""
    subset = new.subset(items=list(selection.items))
    scored = score_new(idata, subset, random_seed=seed)
    theta = scored["theta"].values.reshape(-1, 4)
    post = idata.posterior
    a = post["a"].values.reshape(-1, N_ITEMS)
    b = post["b"].values.reshape(-1, N_ITEMS)
    answers = _subset_answers(y, selection)
    seen = ~np.isnan(answers)
    prob = expit(a[:, None, :] * (theta[:, :, None] - b[:, None, :]))
    filled = np.where(seen[None], np.nan_to_num(answers)[None], prob)
    return filled.mean(axis=-1), prob, seen, scored


def test_bayes_expected_target_against_score_new_draws(case):
    idata, new, selection, y = case
    draws, _, _, scored = _direct_bayes_draws(idata, new, selection, y, seed=3)
    result = estimate_scores(
        idata, new, selection=selection, estimator="bayes", target="expected", seed=3
    )
    np.testing.assert_allclose(result["estimate"], draws.mean(axis=0))
    np.testing.assert_allclose(result["lo"], np.quantile(draws, 0.05, axis=0))
    np.testing.assert_allclose(result["hi"], np.quantile(draws, 0.95, axis=0))
    for column in ("theta_mean", "theta_sd", "rank_mean", "rank_lo", "rank_hi"):
        np.testing.assert_allclose(result[column], scored[column].values)


def test_bayes_realised_target_adds_the_bernoulli_variance_of_unseen_items(case):
    idata, new, selection, y = case
    draws, prob, seen, _ = _direct_bayes_draws(idata, new, selection, y, seed=3)
    result = estimate_scores(idata, new, selection=selection, estimator="bayes", seed=3)
    unseen_var = (np.where(seen[None], 0.0, prob * (1 - prob)).sum(-1) / N_ITEMS**2).mean(0)
    total_var = draws.var(axis=0) + unseen_var
    np.testing.assert_allclose(result["sd"] ** 2, total_var, rtol=0.25)
    # the estimate is the posterior mean of the expected accuracy (no Bernoulli noise)
    np.testing.assert_allclose(result["estimate"], draws.mean(axis=0))
    width = (result["hi"] - result["lo"]).to_numpy()
    narrow = np.quantile(draws, 0.95, axis=0) - np.quantile(draws, 0.05, axis=0)
    assert np.all(width > narrow)
    assert result["lo"].le(result["estimate"]).all() and result["hi"].ge(result["estimate"]).all()


def test_without_selection_every_answer_counts(case):
    idata, new, _, y = case
    result = estimate_scores(idata, new, estimator="mean")
    np.testing.assert_allclose(result["estimate"], np.nanmean(y, axis=1))
    gp = estimate_scores(idata, new, estimator="gpirt")
    assert np.all((gp["weight"] > 0) & (gp["weight"] < 1))


def test_estimators_need_what_they_use(case):
    idata, new, selection, _ = case
    with pytest.raises(ValueError, match="needs a fitted model"):
        estimate_scores(None, new, selection=selection, estimator="pirt")
    with pytest.raises(ValueError, match="pass the selection"):
        estimate_scores(None, new, estimator="mean")
    with pytest.raises(ValueError, match="target"):
        estimate_scores(idata, new, selection=selection, target="both")
    with pytest.raises(TypeError, match="Responses"):
        estimate_scores(idata, np.ones((2, 2)), selection=selection)


# ------------------------------------------------------------ calibrated discrepancy
def _two_ability_subjects(truth, chosen, n, *, shift_sd, seed, prefix):
    """Subjects whose ability on the items outside ``chosen`` is θ + u, u ~ N(0, shift_sd²)."""
    rng = np.random.default_rng(seed)
    a, b = truth["a"].to_numpy(), truth["b"].to_numpy()
    theta = rng.normal(size=(n, 1))
    on_design = truth["a"].index.isin(chosen)
    ability = np.where(on_design[None, :], theta, theta + shift_sd * rng.normal(size=(n, 1)))
    y = (rng.random((n, len(a))) < expit(a * (ability - b))).astype(float)
    return complete_responses(
        y, subjects=[f"{prefix}{j}" for j in range(n)], items=list(truth["a"].index)
    )


@pytest.fixture(scope="module")
def design():
    responses, truth = simulate_benchmark(300, 120, seed=5)
    idata = truth_fit(truth, n_draw=50, item_noise=0.02)(responses)
    return idata, truth, select_items(idata, method="fisher", budget=12)


def _coverage(frame, responses, lo="lo", hi="hi"):
    accuracy = responses.subject_accuracy().loc[frame.index]
    return float(((frame[lo] <= accuracy) & (accuracy <= frame[hi])).mean())


def _calibrated_draws(idata, selection, pool, n_calibration, n_draws=60):
    """``n_draws`` random splits of ``pool`` (seed 0) into ``n_calibration`` calibration
    subjects and 100 new ones: each split's calibrated estimates and its new subjects."""
    rng = np.random.default_rng(0)
    for _ in range(n_draws):
        chosen = rng.permutation(pool.subjects)
        calibration = pool.subset(subjects=chosen[:n_calibration])
        new = pool.subset(subjects=chosen[n_calibration : n_calibration + 100])
        yield estimate_scores(idata, new, selection=selection, calibration=calibration), new


@pytest.mark.parametrize(("shift_sd", "tau_range"), [(0.0, (0.0, 0.25)), (0.8, (0.4, 1.2))])
def test_calibrated_discrepancy_restores_the_coverage(design, shift_sd, tau_range):
    idata, truth, selection = design
    items = selection.items
    calibration = _two_ability_subjects(truth, items, 150, shift_sd=shift_sd, seed=1, prefix="c")
    new = _two_ability_subjects(truth, items, 150, shift_sd=shift_sd, seed=2, prefix="n")
    result = estimate_scores(idata, new, selection=selection, calibration=calibration)
    tau = result["discrepancy"].iloc[0]
    model, calibrated = _coverage(result, new, "model_lo", "model_hi"), _coverage(result, new)
    print(f"\nshift sd {shift_sd}: tau {tau:.3f}, coverage {model:.2f} -> {calibrated:.2f}")
    assert tau_range[0] <= tau <= tau_range[1]
    assert 0.82 <= calibrated <= 0.97
    if shift_sd > 0:  # the model alone misses the second ability
        assert model < 0.75
    # the defining property: the calibration subjects themselves are covered at 90%
    own = estimate_scores(idata, calibration, selection=selection, calibration=calibration)
    assert own["discrepancy"].iloc[0] == tau and _coverage(own, calibration) >= 0.9
    # and τ changes neither p-IRT, nor the model's interval, nor the estimate (it widens the
    # interval only: the mean over τz would pull the estimates towards the middle)
    plain = estimate_scores(idata, new, selection=selection)
    np.testing.assert_array_equal(plain[["lo", "hi"]], result[["model_lo", "model_hi"]])
    np.testing.assert_array_equal(plain["estimate"], result["estimate"])
    assert ((result["lo"] <= result["estimate"]) & (result["estimate"] <= result["hi"])).all()


def test_calibration_covers_on_average_even_with_few_calibration_subjects(design):
    """Fisher items, subjects with a second ability on the other items (the model alone
    under-covers): over 60 random draws of 10 calibration subjects from a pool, the intervals
    of the other subjects cover 90% on average. Choosing the smallest τ that covers 90% of
    the 10 (the 9th smallest score instead of the 10th) would cover about 9/11 = 0.82."""
    idata, truth, selection = design
    pool = _two_ability_subjects(truth, selection.items, 400, shift_sd=0.8, seed=3, prefix="p")
    coverage, taus = [], []
    for result, new in _calibrated_draws(idata, selection, pool, n_calibration=10):
        coverage.append(_coverage(result, new))
        taus.append(result["discrepancy"].iloc[0])
    print(f"\ncoverage {np.mean(coverage):.3f}, tau {np.median(taus):.2f}")
    assert 0.87 <= np.mean(coverage) <= 0.95
    model = _coverage(
        estimate_scores(idata, pool, selection=selection), pool, "model_lo", "model_hi"
    )
    assert model < 0.75


def test_calibration_narrows_intervals_that_cover_more_than_they_should():
    """Item draws far noisier than the truth, so the model's own intervals over-cover
    (about 0.94). With 9 calibration subjects (60 draws of them), the interval is narrowed
    below the nominal mass often enough that the other subjects are covered 0.9 on average.
    Without the scores below zero most calibration sets would score all 0 and keep the
    model's intervals, and the others would widen to their largest positive score: 0.958."""
    responses, truth = simulate_benchmark(300, 120, seed=5)
    idata = truth_fit(truth, n_draw=50, item_noise=1.0)(responses)
    selection = select_items(idata, method="random", budget=12)
    pool = _two_ability_subjects(truth, selection.items, 400, shift_sd=0.0, seed=3, prefix="p")
    model = _coverage(
        estimate_scores(idata, pool, selection=selection), pool, "model_lo", "model_hi"
    )
    coverage, mass = [], []
    for result, new in _calibrated_draws(idata, selection, pool, n_calibration=9):
        coverage.append(_coverage(result, new))
        mass.append(result["interval_mass"].iloc[0])
        if mass[-1] < 0.9:  # a narrowed interval is the model's, at a smaller mass
            assert (result["discrepancy"] == 0).all()
            assert (result["model_lo"] <= result["lo"]).all()
            assert (result["hi"] <= result["model_hi"]).all()
    narrowed = np.mean(np.array(mass) < 0.9)
    print(f"\nmodel {model:.3f}, calibrated {np.mean(coverage):.3f}, narrowed {narrowed:.2f}")
    assert model >= 0.93
    assert 0.87 <= np.mean(coverage) <= 0.93  # ±2.5 standard errors; the old rule: 0.958


def test_too_few_calibration_subjects_give_the_whole_range(design):
    idata, truth, selection = design
    calibration = _two_ability_subjects(truth, selection.items, 8, shift_sd=0.0, seed=4, prefix="c")
    new = _two_ability_subjects(truth, selection.items, 5, shift_sd=0.0, seed=5, prefix="n")
    result = estimate_scores(idata, new, selection=selection, calibration=calibration)
    assert np.isinf(result["discrepancy"]).all()  # 8 subjects cannot calibrate 90%
    assert (result["lo"] == 0).all() and (result["hi"] == 1).all()
    plain = estimate_scores(idata, new, selection=selection)
    np.testing.assert_array_equal(result["estimate"], plain["estimate"])


def test_calibration_needs_a_selection_and_responses(case):
    idata, new, selection, _ = case
    with pytest.raises(ValueError, match="calibration needs"):
        estimate_scores(idata, new, calibration=new)
    with pytest.raises(TypeError, match="calibration must be a Responses"):
        estimate_scores(idata, new, selection=selection, calibration=np.ones((2, 2)))
