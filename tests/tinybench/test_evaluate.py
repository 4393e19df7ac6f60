"""evaluate_subsets on simulated data with a truth-based posterior: accuracy and calibration."""

import json

import numpy as np
import pytest
from tinybench_fakes import simulate_benchmark, truth_fit

from bayesirt.analysis.posterior import posterior_draws
from bayesirt.testing import simulated_fit
from bayesirt.tinybench import evaluate_subsets
from bayesirt.tinybench.evaluate import _thinned

METHODS = ("random", "stratified", "anchor", "fisher", "bayesian", "search", "adaptive")
ESTIMATORS = ("mean", "weighted", "pirt", "gpirt", "bayes")


@pytest.fixture(scope="module")
def simulated():
    responses, truth = simulate_benchmark(500, 150, seed=21)
    return responses, truth_fit(truth, seed=1)


@pytest.fixture(scope="module")
def evaluation(simulated):
    responses, fit = simulated
    return evaluate_subsets(
        responses,
        fit=fit,
        methods=METHODS,
        estimators=ESTIMATORS,
        budgets=(15,),  # 10% of the items
        seeds=(0,),
        max_test_subjects=100,
        method_options={"search": {"max_evaluations": 800}},
    )


def test_table_has_one_row_per_configuration(evaluation):
    table = evaluation.table
    assert len(table) == len(METHODS) * len(ESTIMATORS)
    assert set(table["method"]) == set(METHODS) and set(table["estimator"]) == set(ESTIMATORS)
    assert (table["n_test"] == 100).all() and (table["n_answered"] == 15).all()
    assert table.loc[table["estimator"] != "bayes", "coverage"].isna().all()
    # 100 test subjects, 20% of the other 400 calibrate, 320 are fitted
    settings = evaluation.settings
    assert (settings["n_train"], settings["n_calibration"], settings["n_items"]) == (320, 80, 150)
    estimates = evaluation.estimates
    assert len(estimates) == len(table) * 100
    assert {"subject", "estimate", "lo", "hi", "truth", "method", "estimator"} <= set(estimates)
    json.dumps(evaluation.to_dict())


def test_best_method_beats_random_subsets_at_ten_percent_of_the_items(evaluation):
    summary = evaluation.summary().set_index(["method", "estimator"])
    random_mae = summary.loc[("random", "mean"), "mae"]
    best = summary["mae"].idxmin()
    fixed = summary.drop(index="adaptive", level="method")["mae"]
    print(
        f"\nMAE at 15/150 items: random subset mean {random_mae:.4f}; best {best} "
        f"{summary['mae'].min():.4f}; best fixed subset {fixed.idxmin()} {fixed.min():.4f}"
    )
    print(summary[["mae", "kendall_tau", "coverage"]].round(3).to_string())
    assert summary["mae"].min() <= 0.6 * random_mae
    assert fixed.min() <= 0.6 * random_mae
    assert (
        summary.loc[fixed.idxmin(), "kendall_tau"] > summary.loc[("random", "mean"), "kendall_tau"]
    )


def test_bayesian_intervals_are_calibrated(evaluation):
    bayes = evaluation.table[evaluation.table["estimator"] == "bayes"]
    estimates = evaluation.estimates[evaluation.estimates["estimator"] == "bayes"]
    inside = (estimates["lo"] <= estimates["truth"]) & (estimates["truth"] <= estimates["hi"])
    print(f"\n90% intervals cover {inside.mean():.1%} of {len(inside)} (subject, method) pairs")
    print(bayes.set_index("method")["coverage"].to_string())
    assert 0.80 <= inside.mean() <= 0.97
    assert (bayes["coverage"] >= 0.7).all()


def test_split_by_order_holds_out_the_last_subjects(simulated):
    responses, fit = simulated
    order = list(responses.subjects[::-1])
    result = evaluate_subsets(
        responses,
        fit=fit,
        methods=("random",),
        estimators=("mean",),
        budgets=(10,),
        seeds=(0, 1),
        split=0.1,
        split_order=order,
        max_test_subjects=None,
    )
    test = set(result.estimates["subject"])
    assert test == set(order[-50:])
    assert result.settings["split"] == "last in the given order"
    assert list(result.table["seed"]) == [0, 1]
    assert len(result.summary()) == 1 and np.isfinite(result.summary()["mae_sd"]).all()


def test_budgets_too_large_are_skipped_with_a_warning(simulated):
    responses, fit = simulated
    with pytest.warns(UserWarning, match=r"budgets \[400\] skipped"):
        evaluate_subsets(
            responses,
            fit=fit,
            methods=("random",),
            estimators=("mean",),
            budgets=(10, 400),
            seeds=(0,),
        )


def test_a_given_fit_defines_the_training_subjects(simulated):
    responses, fit = simulated
    idata = fit(responses.subset(subjects=list(responses.subjects[:450])))
    result = evaluate_subsets(
        responses, fit=idata, methods=("fisher",), estimators=("pirt",), budgets=(10,), seeds=(0,)
    )
    # the 50 subjects outside the fit: 20% calibrate, the others are tested
    test = set(result.estimates["subject"])
    assert test < set(responses.subjects[450:]) and len(test) == 40
    assert result.settings["split"] == "given fit" and result.settings["n_calibration"] == 10


def test_argument_errors(simulated):
    responses, fit = simulated
    with pytest.raises(ValueError, match="unknown method"):
        evaluate_subsets(responses, fit=fit, methods=("oracle",))
    with pytest.raises(ValueError, match="unknown estimator"):
        evaluate_subsets(responses, fit=fit, estimators=("oracle",))
    with pytest.raises(ValueError, match="split"):
        evaluate_subsets(responses, fit=fit, split=1.5)
    with pytest.raises(ValueError, match="split_order"):
        evaluate_subsets(responses, fit=fit, split_order=["m0000"])
    with pytest.raises(TypeError, match="callable"):
        evaluate_subsets(responses, fit="advi")


def test_thinning_keeps_the_fit_attributes():
    # A testlet fit says so in its attributes, and its draws then evaluate the testlet's own
    # item curve (pair_probability); without them the estimators would read it as a 4PL.
    idata, _ = simulated_fit(8, 30, n_chains=2, n_draws=50)
    idata.attrs.update(
        bayesirt_config=json.dumps({"model": "testlet"}),
        bayesirt_inference=json.dumps({"method": "nuts"}),
        bayesirt_data_fingerprint="0" * 64,
    )
    idata.posterior.attrs["sampler"] = "nutpie"
    idata.constant_data.attrs["source"] = "simulated"
    thinned = _thinned(idata, 20)
    assert thinned.posterior.sizes["chain"] * thinned.posterior.sizes["draw"] <= 20
    assert dict(thinned.attrs) == dict(idata.attrs)
    for group in ("posterior", "constant_data"):
        assert getattr(thinned, group).attrs == getattr(idata, group).attrs
    assert posterior_draws(idata).pair_probability is not None
    assert posterior_draws(thinned).pair_probability is not None
