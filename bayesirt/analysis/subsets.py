r"""Tiny benchmarks: choose a few items, estimate the full score from them, and check how well.

Three steps, each a pure function:

* :func:`select_items` picks ``budget`` items and a weight per item with one of the methods
  of :data:`SELECTION_METHODS`: random and stratified baselines; anchor points (Polo et al.
  2024, tinyBenchmarks); Fisher information across ability levels (Kipnis et al. 2024,
  metabench); a Bayesian design that integrates the information over the posterior of the
  item parameters and over the target abilities; a genetic search that minimises the error
  of the reconstructed score on the training subjects.
* :func:`estimate_scores` estimates, for new subjects that answered only the chosen items,
  their accuracy on the full benchmark with one of :data:`ESTIMATORS`: plain or weighted
  mean, p-IRT and gp-IRT (tinyBenchmarks), or the Bayesian posterior predictive with a
  credible interval and a posterior rank among the fitted subjects.
* :func:`evaluate_subsets` splits the subjects of a data set into training (fit, selection)
  and test subjects, and scores every method × estimator × budget × seed by the error of
  the estimated full accuracy of the test subjects, the Kendall :math:`\tau` of their
  estimated ranking, and the coverage of the Bayesian intervals; adaptive testing
  (:mod:`bayesirt.analysis.adaptive`) competes at equal budget.

Randomness comes only from ``numpy.random.default_rng(seed)``; no model is fitted here except
through the ``fit`` callable handed to :func:`evaluate_subsets`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from bayesirt.analysis import _subsets_estimators as est
from bayesirt.analysis import _subsets_methods as sel
from bayesirt.analysis._posterior import fitted_responses, posterior_draws
from bayesirt.analysis.adaptive import SdOrBudgetStopper, simulate_adaptive_test
from bayesirt.data import Responses
from bayesirt.data.validation import describe_values

__all__ = [
    "ESTIMATORS",
    "RANDOM_DESIGNS",
    "SELECTION_METHODS",
    "SubsetEvaluation",
    "SubsetSelection",
    "estimate_scores",
    "evaluate_subsets",
    "select_items",
]

#: Selection methods by name: ``method(data, budget, rng, **options) -> (codes, weights,
#: details)``; see :mod:`bayesirt.analysis._subsets_methods` for each one's maths.
SELECTION_METHODS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray, dict]]] = {
    "random": sel.select_random,
    "stratified": sel.select_stratified,
    "anchor": sel.select_anchor,
    "fisher": sel.select_fisher,
    "bayesian": sel.select_bayesian,
    "search": sel.select_search,
}

#: Score estimators by name: ``estimator(EstimationData) -> DataFrame``.
ESTIMATORS: dict[str, Callable[[est.EstimationData], pd.DataFrame]] = {
    "mean": est.estimate_mean,
    "weighted": est.estimate_weighted,
    "pirt": est.estimate_pirt,
    "gpirt": est.estimate_gpirt,
    "bayes": est.estimate_bayes,
}

#: Designs whose items are drawn at random: the gp-IRT rule takes κ = 1 for them, 4 otherwise.
RANDOM_DESIGNS = ("random", "stratified")

#: The harness's name for adaptive testing among the selection methods.
ADAPTIVE = "adaptive"


@dataclass(frozen=True)
class SubsetSelection:
    """Items chosen for a tiny benchmark, with their weights.

    Attributes
    ----------
    items : pandas.Index
        The chosen item labels.
    weights : numpy.ndarray
        One non-negative weight per item, summing to one: the weighted mean of the answers
        stands for the full benchmark (equal weights unless the method says otherwise).
    method : str
    budget : int
    seed : int
    n_candidates : int
        Number of items the choice was made from.
    details : dict
        Method-specific, JSON-friendly diagnostics (e.g. the search's training error).
    """

    items: pd.Index
    weights: np.ndarray
    method: str
    budget: int
    seed: int
    n_candidates: int
    details: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per chosen item: ``item``, ``weight``."""
        return pd.DataFrame({"item": self.items, "weight": self.weights})

    def to_dict(self) -> dict:
        """Plain-Python form for JSON."""
        return {
            "method": self.method,
            "budget": self.budget,
            "seed": self.seed,
            "n_candidates": self.n_candidates,
            "items": [str(i) for i in self.items],
            "weights": [float(w) for w in self.weights],
            "details": self.details,
        }


def select_items(
    source,
    *,
    method: str = "anchor",
    budget: int,
    seed: int = 0,
    **options: Any,
) -> SubsetSelection:
    """Choose ``budget`` items of a benchmark to stand for all of it.

    Parameters
    ----------
    source : arviz.InferenceData or Responses
        A fitted model (its items, posterior and training responses), or bare training
        responses for the methods that need no item parameters (``random``, ``stratified``,
        ``anchor`` with the correctness representation, ``search``).
    method : str
        A key of :data:`SELECTION_METHODS`:

        ``"random"``
            Uniform without replacement.
        ``"stratified"``
            Proportional allocation over the groups of item metadata ``by`` (default
            ``"category"``), weights restoring the group shares.
        ``"anchor"``
            tinyBenchmarks anchor points: k-means on item representations
            (``representation="irt"`` or ``"correctness"``), the item nearest each centre,
            weighted by its cluster's share.
        ``"fisher"``
            metabench: the most informative item at each of ``budget`` ability quantiles.
        ``"bayesian"``
            Greedy minimum expected posterior variance, information integrated over the
            item posterior and the abilities of the target subjects (``target_subjects``).
        ``"search"``
            Genetic search minimising the training error of the subset mean
            (``population``, ``max_evaluations``, ``mutation_rate``, ``n_elite``).
    budget : int
        Number of items, 1 .. number of items.
    seed : int
        Seed of ``numpy.random.default_rng`` (methods without randomness ignore it).
    **options
        Method-specific keyword arguments (above).

    Returns
    -------
    SubsetSelection

    Raises
    ------
    ValueError
        For an unknown method (listing the known ones), a budget out of range, or a method
        that needs item parameters given bare responses.
    """
    if method not in SELECTION_METHODS:
        raise ValueError(
            f"unknown selection method {method!r}; choose one of {', '.join(SELECTION_METHODS)}"
        )
    data = _selection_data(source)
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer):
        raise ValueError(f"budget must be an integer, got {budget!r}")
    if not 1 <= budget <= data.n_items:
        raise ValueError(f"budget must lie between 1 and the {data.n_items} items, got {budget}")
    rng = np.random.default_rng(seed)
    codes, weights, details = SELECTION_METHODS[method](data, int(budget), rng, **options)
    return SubsetSelection(
        items=pd.Index(data.items[codes], name="item"),
        weights=np.asarray(weights, dtype=float),
        method=method,
        budget=int(budget),
        seed=seed,
        n_candidates=data.n_items,
        details=details,
    )


def _selection_data(source) -> sel.SelectionData:
    if isinstance(source, Responses):
        return sel.SelectionData(
            responses=source, items=pd.Index(source.items.astype(str), name="item"), draws=None
        )
    if isinstance(source, az.InferenceData):
        draws = posterior_draws(source)
        return sel.SelectionData(responses=fitted_responses(source), items=draws.items, draws=draws)
    raise TypeError(
        f"select_items needs an InferenceData or Responses, got {type(source).__name__}"
    )


def estimate_scores(
    idata,
    responses: Responses,
    *,
    selection: SubsetSelection | None = None,
    estimator: str = "bayes",
    interval: float = 0.9,
    target: str = "realised",
    seed: int = 0,
    calibration: Responses | None = None,
) -> pd.DataFrame:
    """Estimate the full-benchmark accuracy of new subjects from a few answers.

    Parameters
    ----------
    idata : arviz.InferenceData or None
        The fitted model; its items are the full benchmark. ``None`` is allowed for
        ``"mean"`` and ``"weighted"``, which then need ``selection``.
    responses : Responses
        The new subjects' answers. With ``selection``, only the answers to its items are
        used; without, every answer to a fitted item counts (e.g. an adaptive test's).
    selection : SubsetSelection, optional
        The tiny benchmark: its items and weights (for ``"weighted"`` and ``"gpirt"``) and
        its method (random designs get κ = 1 in the gp-IRT rule, others 4). Without it the
        weights are equal and κ = 4.
    estimator : str
        A key of :data:`ESTIMATORS`: ``"mean"``, ``"weighted"`` (anchor-weighted mean),
        ``"pirt"``, ``"gpirt"`` (Polo et al. 2024), ``"bayes"`` (posterior predictive with
        credible interval and rank; see :mod:`bayesirt.analysis._subsets_estimators` for
        the formulas).
    interval : float in (0, 1)
        Mass of the Bayesian credible interval.
    target : {"realised", "expected"}
        ``"bayes"`` only: interval for the accuracy on these exact items (Bernoulli draws
        for the unanswered ones) or for the expected accuracy.
    seed : int
        Seed of the Bayesian estimator's draws.
    calibration : Responses, optional
        ``"bayes"`` only: subjects that were not in the fit, with their answers to the full
        benchmark, that calibrate the intervals: they answer the ``selection`` (required
        then) as the new subjects did, and the model-discrepancy sd τ is chosen so that the
        intervals cover their full accuracy at the rate ``interval``
        (:func:`~bayesirt.analysis._subsets_estimators.calibrate_discrepancy`). Without it,
        τ = 0 (the model's own intervals). Fitted subjects may be passed, but the fit has
        seen their answers, so the calibration is then optimistic.

    Returns
    -------
    pandas.DataFrame
        Indexed by subject: ``estimate``, ``lo``, ``hi`` (NaN for point estimators),
        ``n_answered``; ``"gpirt"`` adds its ``weight`` λ, ``"bayes"`` adds ``sd``,
        ``discrepancy`` (τ), ``model_lo``, ``model_hi`` (the interval at τ = 0),
        ``theta_mean``, ``theta_sd``, ``rank_mean``, ``rank_lo``, ``rank_hi``.
    """
    if not isinstance(responses, Responses):
        raise TypeError(f"responses must be a Responses, got {type(responses).__name__}")
    if idata is None and selection is None:
        raise ValueError("without a fitted model, pass the selection that defines the items")
    items = posterior_draws(idata).items if idata is not None else selection.items
    answers = _answers(responses, items)
    if selection is None:
        weights = np.ones(len(items))
        kappa = 4.0
    else:
        where = items.get_indexer(selection.items)
        if np.any(where < 0):
            raise ValueError(
                "selection items not in the fitted model: "
                f"{describe_values(selection.items[where < 0])}"
            )
        weights = np.zeros(len(items))
        weights[where] = selection.weights
        answers[:, weights == 0] = np.nan
        kappa = 1.0 if selection.method in RANDOM_DESIGNS else 4.0
    if calibration is not None:
        if selection is None or idata is None:
            raise ValueError(
                "calibration needs the fitted model and the selection that the calibration "
                "subjects answer"
            )
        if not isinstance(calibration, Responses):
            raise TypeError(f"calibration must be a Responses, got {type(calibration).__name__}")
        full = _answers(calibration, items)
        calibration = (np.where(weights[None, :] > 0, full, np.nan), np.nanmean(full, axis=1))
    return _estimate(
        estimator,
        idata,
        pd.Index(responses.subjects.astype(str)),
        items,
        answers,
        weights,
        kappa,
        interval=interval,
        target=target,
        seed=seed,
        calibration=calibration,
    )


def _answers(responses: Responses, items: pd.Index) -> np.ndarray:
    """Subjects × ``items`` matrix of 0/1, NaN where a subject has no response."""
    codes = responses.items.astype(str).get_indexer(items)
    return np.where(codes[None, :] >= 0, responses.dense()[:, np.maximum(codes, 0)], np.nan)


def _estimate(
    estimator: str,
    idata,
    subjects: pd.Index,
    items: pd.Index,
    answers: np.ndarray,
    weights: np.ndarray,
    kappa: float,
    *,
    interval: float,
    target: str,
    seed: int,
    calibration: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}")
    if target not in ("realised", "expected"):
        raise ValueError(f"target must be 'realised' or 'expected', got {target!r}")
    if not 0 < interval < 1:
        raise ValueError(f"interval must lie strictly between 0 and 1, got {interval!r}")
    data = est.EstimationData(
        subjects=subjects,
        items=items,
        answers=answers,
        weights=weights,
        variance_factor=kappa,
        idata=idata,
        interval=interval,
        target=target,
        seed=seed,
        calibration=calibration,
    )
    return ESTIMATORS[estimator](data)


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
        interval, without the calibrated discrepancy), ``discrepancy`` (the calibrated τ),
        ``interval_width``, ``theta_sd`` (mean posterior sd of θ, Bayesian estimator),
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
            "interval_width",
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
            "summary": _records(self.summary()),
            "table": _records(self.table),
        }


def _records(frame: pd.DataFrame) -> list[dict]:
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


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
       (:func:`~bayesirt.analysis.adaptive.simulate_adaptive_test` with
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
    dense = {role: _answers(group, items) for role, group in groups.items()}
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
                    frame = _estimate(
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


def _coverage(frame: pd.DataFrame, truth: np.ndarray, ok: np.ndarray, prefix: str) -> float:
    if f"{prefix}lo" not in frame:
        return np.nan
    lo, hi = frame[f"{prefix}lo"].to_numpy()[ok], frame[f"{prefix}hi"].to_numpy()[ok]
    if not (ok.any() and np.isfinite(lo).all()):
        return np.nan
    return float(((lo <= truth[ok]) & (truth[ok] <= hi)).mean())


def _metrics(frame: pd.DataFrame, truth: np.ndarray) -> dict:
    estimate = frame["estimate"].to_numpy()
    ok = np.isfinite(estimate) & np.isfinite(truth)
    coverage = _coverage(frame, truth, ok, "")
    width = (frame["hi"] - frame["lo"]).to_numpy()[ok].mean() if np.isfinite(coverage) else np.nan
    tau = kendalltau(estimate[ok], truth[ok]).statistic if ok.sum() > 1 else np.nan
    return {
        "mae": float(np.abs(estimate[ok] - truth[ok]).mean()) if ok.any() else np.nan,
        "kendall_tau": float(tau),
        "coverage": coverage,
        "coverage_model": _coverage(frame, truth, ok, "model_"),
        "discrepancy": float(frame["discrepancy"].mean()) if "discrepancy" in frame else np.nan,
        "interval_width": float(width),
        "theta_sd": float(frame["theta_sd"].mean()) if "theta_sd" in frame else np.nan,
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
    if not 0 < split < 1:
        raise ValueError(f"split (the test share) must lie strictly between 0 and 1, got {split}")
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
    """The fit with at most ``max_draws`` posterior draws (every k-th draw of each chain)."""
    posterior = idata.posterior
    total = posterior.sizes["chain"] * posterior.sizes["draw"]
    if max_draws is None or total <= max_draws:
        return idata
    step = int(np.ceil(total / max_draws))
    return az.InferenceData(
        posterior=posterior.isel(draw=slice(None, None, step)),
        constant_data=idata.constant_data,
    )
