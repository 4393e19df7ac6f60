r"""How well does a tiny benchmark recover the full scores of subjects it has not seen?

:func:`evaluate_subsets` splits the subjects of a data set into training subjects (the fit
and the item selection), calibration subjects (the Bayesian intervals' discrepancy) and test
subjects, and scores every selection method × estimator × budget × seed by how well the
estimated full accuracy :math:`\hat A_j` of the test subjects recovers their observed
accuracy :math:`A_j` on the fitted items:

* the mean absolute error :math:`\frac{1}{n}\sum_j |\hat A_j - A_j|`;
* Kendall's :math:`\tau_b` between the estimated and the full-benchmark ranking;
* the coverage :math:`\frac{1}{n}\sum_j \mathbb{1}\{L_j \le A_j \le U_j\}` of the credible
  intervals (Bayesian estimator), calibrated and the model's own.

Adaptive testing (:mod:`bayesirt.tinybench.adaptive`) competes at equal budget: the method
:data:`ADAPTIVE` gives each subject the first ``budget`` items of its own adaptive test.
The estimators see the posterior thinned to at most ``bayes_draws`` draws, evenly spaced in
every chain (every :math:`k`-th draw with :math:`k = \lceil \text{chains} \cdot
\text{draws} / \text{bayes\_draws} \rceil`), the fit's attributes kept.

Randomness comes only from ``numpy.random.default_rng(seed)``; no model is fitted here except
through the ``fit`` callable handed to :func:`evaluate_subsets`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from bayesirt._json import json_records
from bayesirt._validate import check_probability
from bayesirt.analysis.posterior import posterior_draws
from bayesirt.data import Responses
from bayesirt.tinybench.adaptive import SdOrBudgetStopper, simulate_adaptive_test
from bayesirt.tinybench.design import RANDOM_DESIGNS, SELECTION_METHODS, select_items
from bayesirt.tinybench.estimators import ESTIMATORS, answer_matrix, run_estimator

__all__ = ["ADAPTIVE", "SubsetEvaluation", "evaluate_subsets"]

#: The harness's name for adaptive testing among the selection methods.
ADAPTIVE = "adaptive"


@dataclass(frozen=True)
class SubsetEvaluation:
    """Results of :func:`evaluate_subsets`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per budget × seed × method × estimator: ``mae`` (mean absolute error of the
        estimated full accuracy), ``kendall_tau`` (estimated vs full-benchmark ranking of the
        test subjects), ``coverage`` (share of test subjects whose full accuracy lies in the
        interval; NaN for point estimators), ``coverage_model`` (the same for the model's own
        interval, without the calibration), ``discrepancy`` (the calibrated τ) and
        ``interval_mass`` (the calibrated interval's central mass of the accuracy draws,
        below the nominal level where the model alone covers more than it should),
        ``interval_width`` and ``interval_width_model`` (mean width of the two intervals:
        the price of the calibration), ``theta_sd`` (mean posterior sd of θ, Bayesian estimator),
        ``n_answered`` (mean items answered), ``n_test``,
        ``select_seconds`` (time to choose the items; for ``"adaptive"`` the whole run of the
        adaptive tests of that seed, calibration subjects included).
    estimates : pandas.DataFrame
        One row per test subject and configuration: ``estimate``, ``lo``, ``hi``, ``truth``.
    settings : dict
        The split and the sizes (JSON-friendly).
    """

    table: pd.DataFrame
    estimates: pd.DataFrame
    settings: dict

    def summary(self) -> pd.DataFrame:
        """Means over seeds by budget, method and estimator (``mae_sd``: sd over seeds)."""
        keys = ["budget", "method", "estimator"]
        metrics = [
            "mae",
            "kendall_tau",
            "coverage",
            "coverage_model",
            "discrepancy",
            "interval_mass",
            "interval_width",
            "interval_width_model",
            "theta_sd",
            "n_answered",
        ]
        grouped = self.table.groupby(keys, sort=False)
        out = grouped[metrics].mean()
        out.insert(1, "mae_sd", grouped["mae"].std(ddof=1))
        return out.reset_index()

    def pivot(self, metric: str = "mae") -> pd.DataFrame:
        """``metric`` of :meth:`summary` with one row per (method, estimator) that has values
        and one column per budget: the error-vs-budget table."""
        summary = self.summary()
        if metric not in summary:
            metrics = [c for c in summary.columns if c not in ("budget", "method", "estimator")]
            raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(metrics)}")
        return summary.pivot_table(index=["method", "estimator"], columns="budget", values=metric)

    def to_dict(self) -> dict:
        """Plain-Python form for JSON: settings, summary and per-seed table."""
        return {
            "settings": self.settings,
            "summary": json_records(self.summary()),
            "table": json_records(self.table),
        }


def evaluate_subsets(
    responses: Responses,
    *,
    fit: Callable[[Responses], Any] | az.InferenceData,
    methods: Sequence[str] = ("random", "anchor", "fisher", "bayesian", "search", ADAPTIVE),
    estimators: Sequence[str] = ("mean", "weighted", "pirt", "gpirt", "bayes"),
    budgets: Sequence[int] = (10, 25, 50, 100, 200),
    seeds: Sequence[int] = (0, 1, 2),
    split: float = 0.2,
    split_order: Sequence | None = None,
    split_seed: int = 0,
    calibration_share: float | None = 0.2,
    max_test_subjects: int | None = 200,
    bayes_draws: int | None = 200,
    interval: float = 0.9,
    method_options: Mapping[str, Mapping[str, Any]] | None = None,
    adaptive_selector: str = "variance",
) -> SubsetEvaluation:
    r"""How well does each tiny benchmark recover the full scores of held-out subjects?

    1. **Split.** A share ``split`` of the subjects is held out for testing: drawn at random
       with ``split_seed``, or, with ``split_order`` (every subject label, e.g. by release
       date), the last ones in that order. A share ``calibration_share`` of the remaining
       subjects is kept out of the fit as well, to calibrate the Bayesian intervals (drawn at
       random, or the last remaining ones in ``split_order``); ``None`` fits on all of them
       and reports the model's own intervals. When ``fit`` is an InferenceData, its
       subjects are the training set, and the other subjects of ``responses`` are split
       into calibration (the share ``calibration_share`` of them, at random) and test
       subjects. At most ``max_test_subjects`` test subjects, and as many calibration
       subjects, are kept (random subsamples, seeded by ``split_seed``), the same for every
       estimator, which bounds the cost of the Bayesian estimator.
    2. **Fit.** ``fit(training_responses)`` returns the fitted model (use ADVI for thousands
       of subjects); its items are the full benchmark. For the estimators the posterior is
       thinned to at most ``bayes_draws`` draws, evenly spaced in every chain.
    3. For every seed, budget and method, the items are chosen on the fit
       (:func:`select_items` with ``method_options[method]``), the test subjects' answers
       to them are kept, and every estimator estimates their full accuracy; the Bayesian
       estimator's discrepancy τ is calibrated on the calibration subjects' answers to the
       same items (:func:`estimate_scores`). The method ``"adaptive"`` instead runs an
       adaptive test per test (and calibration) subject
       (:func:`~bayesirt.tinybench.adaptive.simulate_adaptive_test` with
       ``adaptive_selector``, answers looked up in their recorded responses, run once per
       seed up to the largest budget) and uses its first ``budget`` answers.
    4. **Scores**, over the test subjects, against their observed accuracy on the fitted
       items :math:`A_j`: MAE :math:`\frac{1}{n}\sum_j |\hat A_j - A_j|`; Kendall
       :math:`\tau_b` between :math:`\hat A` and :math:`A`; coverage of the ``interval``
       credible intervals (Bayesian estimator), calibrated and the model's own.

    Budgets that are not below the number of items are skipped with a warning.

    Returns
    -------
    SubsetEvaluation
    """
    options = {k: dict(v) for k, v in (method_options or {}).items()}
    unknown = [m for m in methods if m not in SELECTION_METHODS and m != ADAPTIVE]
    if unknown:
        raise ValueError(
            f"unknown method(s) {unknown}; choose from {', '.join([*SELECTION_METHODS, ADAPTIVE])}"
        )
    bad = [e for e in estimators if e not in ESTIMATORS]
    if bad:
        raise ValueError(f"unknown estimator(s) {bad}; choose from {', '.join(ESTIMATORS)}")
    if calibration_share is not None and not 0 < calibration_share < 1:
        raise ValueError(
            "calibration_share must be None or lie strictly between 0 and 1, got "
            f"{calibration_share!r}"
        )

    idata, held_out, settings = _split_and_fit(
        responses,
        fit,
        split=split,
        split_order=split_order,
        split_seed=split_seed,
        calibration_share=calibration_share,
    )
    rng = np.random.default_rng(split_seed)
    for role, subjects in held_out.items():
        if max_test_subjects is not None and len(subjects) > max_test_subjects:
            keep = np.sort(rng.choice(len(subjects), max_test_subjects, replace=False))
            held_out[role] = subjects[keep]
    draws = posterior_draws(idata)
    items = draws.items
    usable = [b for b in budgets if b < len(items)]
    if len(usable) < len(budgets):
        warnings.warn(
            f"budgets {sorted(set(budgets) - set(usable))} skipped: the benchmark has only "
            f"{len(items)} items",
            stacklevel=2,
        )
    groups = {role: responses.subset(subjects=list(s)) for role, s in held_out.items() if len(s)}
    dense = {role: answer_matrix(group, items) for role, group in groups.items()}
    truth = np.nanmean(dense["test"], axis=1)
    cal_truth = np.nanmean(dense["calibration"], axis=1) if "calibration" in dense else None
    thinned = _thinned(idata, bayes_draws)
    settings.update(
        n_items=len(items),
        n_test=len(held_out["test"]),
        n_calibration=len(held_out.get("calibration", [])),
        bayes_draws=int(posterior_draws(thinned).n_samples),
        budgets=[int(b) for b in usable],
        seeds=[int(s) for s in seeds],
        interval=interval,
    )

    rows, estimate_frames = [], []
    for seed in seeds:
        adaptive = {}
        if ADAPTIVE in methods and usable:
            started = time.perf_counter()
            stopper = SdOrBudgetStopper(target_sd=None, max_items=max(usable))
            adaptive = {
                role: simulate_adaptive_test(
                    idata, group, selector=adaptive_selector, stopper=stopper, seed=seed
                )
                for role, group in groups.items()
            }
            adaptive_seconds = time.perf_counter() - started
        for budget in usable:
            for method in methods:
                started = time.perf_counter()
                if method == ADAPTIVE:
                    answers = {
                        role: _adaptive_answers(run, budget, items, dense[role].shape)
                        for role, run in adaptive.items()
                    }
                    weights, kappa = np.ones(len(items)), 4.0
                    seconds = adaptive_seconds
                else:
                    chosen = select_items(
                        idata, method=method, budget=budget, seed=seed, **options.get(method, {})
                    )
                    seconds = time.perf_counter() - started
                    weights = np.zeros(len(items))
                    weights[items.get_indexer(chosen.items)] = chosen.weights
                    answers = {
                        role: np.where(weights[None, :] > 0, full, np.nan)
                        for role, full in dense.items()
                    }
                    kappa = 1.0 if method in RANDOM_DESIGNS else 4.0
                calibration = (answers["calibration"], cal_truth) if cal_truth is not None else None
                for name in estimators:
                    frame = run_estimator(
                        name,
                        thinned,
                        pd.Index(groups["test"].subjects.astype(str)),
                        items,
                        answers["test"],
                        weights,
                        kappa,
                        interval=interval,
                        target="realised",
                        seed=seed,
                        calibration=calibration,
                    )
                    key = {
                        "budget": int(budget),
                        "seed": int(seed),
                        "method": method,
                        "estimator": name,
                    }
                    rows.append({**key, **_metrics(frame, truth), "select_seconds": seconds})
                    estimate_frames.append(
                        frame[["estimate", "lo", "hi"]].assign(truth=truth, **key).reset_index()
                    )
    table = pd.DataFrame(rows)
    estimates = pd.concat(estimate_frames, ignore_index=True) if estimate_frames else pd.DataFrame()
    return SubsetEvaluation(table=table, estimates=estimates, settings=settings)


def _adaptive_answers(run, budget: int, items: pd.Index, shape: tuple[int, int]) -> np.ndarray:
    """The first ``budget`` answers of each adaptive test as a subjects × items matrix."""
    given = run.responses(max_items=budget)
    answers = np.full(shape, np.nan)
    answers[given.subject_index, items.get_indexer(given.items[given.item_index])] = given.response
    return answers


def _coverage(
    frame: pd.DataFrame, truth: np.ndarray, ok: np.ndarray, prefix: str
) -> tuple[float, float]:
    """Coverage of the interval ``{prefix}lo``–``{prefix}hi`` and its mean width (NaN for
    point estimators)."""
    if f"{prefix}lo" not in frame:
        return np.nan, np.nan
    lo, hi = frame[f"{prefix}lo"].to_numpy()[ok], frame[f"{prefix}hi"].to_numpy()[ok]
    if not (ok.any() and np.isfinite(lo).all()):
        return np.nan, np.nan
    return float(((lo <= truth[ok]) & (truth[ok] <= hi)).mean()), float((hi - lo).mean())


def _column_mean(frame: pd.DataFrame, column: str) -> float:
    """Mean of a column that only the Bayesian estimator reports (NaN for the others)."""
    return float(frame[column].mean()) if column in frame else np.nan


def _metrics(frame: pd.DataFrame, truth: np.ndarray) -> dict:
    estimate = frame["estimate"].to_numpy()
    ok = np.isfinite(estimate) & np.isfinite(truth)
    coverage, width = _coverage(frame, truth, ok, "")
    coverage_model, width_model = _coverage(frame, truth, ok, "model_")
    tau = kendalltau(estimate[ok], truth[ok]).statistic if ok.sum() > 1 else np.nan
    return {
        "mae": float(np.abs(estimate[ok] - truth[ok]).mean()) if ok.any() else np.nan,
        "kendall_tau": float(tau),
        "coverage": coverage,
        "coverage_model": coverage_model,
        "discrepancy": _column_mean(frame, "discrepancy"),
        "interval_mass": _column_mean(frame, "interval_mass"),
        "interval_width": width,
        "interval_width_model": width_model,
        "theta_sd": _column_mean(frame, "theta_sd"),
        "n_answered": float(frame["n_answered"].mean()),
        "n_test": int(ok.sum()),
    }


def _split_and_fit(
    responses: Responses,
    fit,
    *,
    split: float,
    split_order: Sequence | None,
    split_seed: int,
    calibration_share: float | None,
) -> tuple[Any, dict[str, pd.Index], dict]:
    """The fitted model, the held-out subjects by role and a description of the split."""
    subjects = pd.Index(responses.subjects.astype(str))
    rng = np.random.default_rng(split_seed)
    if isinstance(fit, az.InferenceData):
        training = posterior_draws(fit).subjects
        held_out = subjects.difference(training, sort=False)
        n_cal = _n_calibration(calibration_share, len(held_out), "held-out")
        if len(held_out) - n_cal < 1:
            raise ValueError(
                "every subject of responses is in the fit or calibrates: nothing is held out"
            )
        picked = np.zeros(len(held_out), dtype=bool)
        picked[rng.choice(len(held_out), n_cal, replace=False)] = True
        roles = {"test": held_out[~picked], "calibration": held_out[picked]}
        return fit, roles, {"split": "given fit", "n_train": len(training)}
    if not callable(fit):
        raise TypeError("fit must be an InferenceData or a callable Responses -> InferenceData")
    check_probability("split (the test share)", split, show=str)
    n_test = max(1, round(split * len(subjects)))
    n_cal = _n_calibration(calibration_share, len(subjects) - n_test, "training")
    if n_test + n_cal >= len(subjects) - 1:
        raise ValueError("the split leaves fewer than two training subjects")
    if split_order is not None:
        order = pd.Index([str(s) for s in split_order])
        if not (len(order) == len(subjects) and order.sort_values().equals(subjects.sort_values())):
            raise ValueError("split_order must list every subject of responses exactly once")
        test, how = order[len(order) - n_test :], "last in the given order"
        calibration = order[len(order) - n_test - n_cal : len(order) - n_test]
    else:
        picked = rng.permutation(len(subjects))
        test = subjects[np.sort(picked[:n_test])]
        calibration = subjects[np.sort(picked[n_test : n_test + n_cal])]
        how = f"random (seed {split_seed})"
    training = subjects.difference(test.append(calibration), sort=False)
    idata = fit(responses.subset(subjects=list(training)))
    return (
        idata,
        {"test": test, "calibration": calibration},
        {"split": how, "n_train": len(training)},
    )


def _n_calibration(share: float | None, n: int, pool: str) -> int:
    if share is None:
        return 0
    n_cal = round(share * n)
    if n_cal < 1:
        raise ValueError(
            f"calibration_share {share} of the {n} {pool} subjects keeps no calibration subject"
        )
    return n_cal


def _thinned(idata, max_draws: int | None):
    """The fit with at most ``max_draws`` posterior draws (every k-th draw of each chain), its
    attributes and those of its groups kept; the groups other than the posterior and the
    fitted data are left out."""
    posterior = idata.posterior
    total = posterior.sizes["chain"] * posterior.sizes["draw"]
    if max_draws is None or total <= max_draws:
        return idata
    step = int(np.ceil(total / max_draws))
    # The attributes say which model was fitted (a testlet fit's own item curve, not the 4PL).
    return az.InferenceData(
        attrs=dict(idata.attrs),
        posterior=posterior.isel(draw=slice(None, None, step)),
        constant_data=idata.constant_data,
    )
