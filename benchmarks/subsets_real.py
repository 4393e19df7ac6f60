"""Tiny benchmarks on real leaderboards: error of the estimated full score vs the budget.

For each data set: subsample the subjects (models), hold out a share for testing, fit the 2PL
on the rest (``--method``: ADVI by default, or NUTS until converged), then run
:func:`bayesirt.analysis.evaluate_subsets` over selection methods × estimators × budgets ×
seeds; then compare adaptive tests with fixed subsets at a posterior sd of 0.3 for the held-out
models, two ways: each model's adaptive test stops at sd 0.3 (items used), and the shortest
length at which the *mean* posterior sd over the models is at most 0.3, for adaptive tests of
that length and for fixed subsets. Writes the tables of each data set to
``--results``/``subsets_<name>.md`` (``benchmarks/results``, described in
``benchmarks/README.md``), and under ``--out`` one JSON file with every number and one
error-vs-budget figure per data set.

    python benchmarks/subsets_real.py                       # all three data sets
    python benchmarks/subsets_real.py --datasets truthfulqa --seeds 0 1

The data live beside the repository in ``../shared/data`` (see ``tests/conftest.py``).
"""

from __future__ import annotations

import os

# The benchmark machine has 2 shared cores: multithreaded BLAS only oversubscribes them.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd

import bayesirt
from bayesirt.analysis import (
    SubsetEvaluation,
    evaluate_subsets,
    score_new,
    select_items,
    simulate_adaptive_test,
)
from bayesirt.reports import plot_subset_errors
from bayesirt.tinybench import SdOrBudgetStopper

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

#: Data set name -> file under ``../shared/data``.
DATASETS = {
    "gsm8k": "metabench/gsm8k_train_responses_wide.csv",
    "truthfulqa": "metabench/truthfulqa_train_responses_wide.csv",
    "alpacaeval2": "alpacaeval2/responses_tidy.csv",
}
SHARES = (0.05, 0.10, 0.20)
METHODS = ("random", "anchor", "fisher", "bayesian", "search", "adaptive")
ESTIMATORS = ("mean", "weighted", "pirt", "gpirt", "bayes")
#: Held-out splits per data set (more where the test set of one split is small).
SPLITS = {"alpacaeval2": 3}
#: Fixed designs compared with the adaptive test at a posterior sd of 0.3.
FIXED_SD = ("random", "anchor", "fisher", "bayesian")
#: Longest test length searched for a mean posterior sd of 0.3.
MAX_LENGTH = 80
#: The issue's check: at 10% of the items the best MAE is at most RATIO × the random subset's.
RATIO = 0.6


def load(name: str) -> bayesirt.Responses:
    path = DATA / DATASETS[name]
    if name == "alpacaeval2":
        # `correct` is 1 for a win, 0 for a loss and 0.5 for an exact tie: threshold=0.5
        # counts a tie as a win (the loader's rule is response >= threshold)
        return bayesirt.load_responses(
            path, format="long", response="correct", threshold=0.5, item_meta_columns=["category"]
        )
    return bayesirt.load_responses(path, format="wide")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared with ``subsets_coverage.py``."""
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--max-subjects", type=int, default=1250, help="subjects kept (random)")
    parser.add_argument("--test-share", type=float, default=0.2)
    parser.add_argument("--max-test", type=int, default=200)
    parser.add_argument("--splits", type=int, default=None, help="default: SPLITS or 1")
    parser.add_argument("--method", choices=["advi", "nuts"], default="advi", help="2PL fit")
    parser.add_argument("--advi-iterations", type=int, default=10_000)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bayesirt_subsets"))


def prepare(name: str, args):
    """The data set ``name`` subsampled to ``args.max_subjects`` (seed 0), its size in the file,
    the budgets (SHARES of its items) and the selection methods that apply to it."""
    responses = load(name)
    n_all = responses.n_subjects
    if n_all > args.max_subjects:
        keep = np.random.default_rng(0).choice(n_all, args.max_subjects, replace=False)
        responses = responses.subset(subjects=list(responses.subjects[np.sort(keep)]))
    budgets = sorted({max(2, round(share * responses.n_items)) for share in SHARES})
    methods = METHODS + (("stratified",) if "category" in responses.item_meta else ())
    return responses, n_all, budgets, methods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.results.mkdir(parents=True, exist_ok=True)

    for name in args.datasets:
        table = run(name, args)
        (args.results / f"subsets_{name}.md").write_text(table)
        print(table, flush=True)


def run(name: str, args) -> str:
    started = time.perf_counter()
    responses, n_all, budgets, methods = prepare(name, args)
    n_splits = args.splits or SPLITS.get(name, 1)

    evaluations, adaptive, lengths_per_split, fit_seconds = [], [], [], []
    for split_seed in range(n_splits):
        fitted = {}
        fit = harness_fit(args, split_seed, fitted, fit_seconds)
        evaluation = evaluate_subsets(
            responses,
            fit=fit,
            methods=methods,
            estimators=ESTIMATORS,
            budgets=budgets,
            seeds=args.seeds,
            split=args.test_share,
            split_seed=split_seed,
            max_test_subjects=args.max_test,
        )
        evaluations.append(evaluation)
        test = responses.subset(subjects=list(evaluation.estimates["subject"].unique()))
        cat = simulate_adaptive_test(fitted["idata"], test, selector="variance", seed=0)
        adaptive.append(cat.summary)
        lengths = {"adaptive": adaptive_length_for_sd(fitted["idata"], test)}
        lengths.update({m: fixed_length_for_sd(fitted["idata"], test, m) for m in FIXED_SD})
        lengths_per_split.append(lengths)
        print(f"{name}: split {split_seed} done after {time.perf_counter() - started:.0f} s")

    evaluation = SubsetEvaluation(
        table=pd.concat(
            [e.table.assign(split=k) for k, e in enumerate(evaluations)], ignore_index=True
        ),
        estimates=pd.concat(
            [e.estimates.assign(split=k) for k, e in enumerate(evaluations)], ignore_index=True
        ),
        settings={**evaluations[0].settings, "n_splits": n_splits},
    )
    cat = pd.concat(adaptive)
    record = {
        "dataset": name,
        "n_subjects_in_file": n_all,
        "settings": evaluation.settings,
        "advi_iterations": args.advi_iterations,
        "fit_seconds": float(np.mean(fit_seconds)),
        "total_seconds": time.perf_counter() - started,
        "adaptive_sd_0.3": {
            "mean_items": float(cat["n_items"].mean()),
            "median_items": float(cat["n_items"].median()),
            "mean_items_reached": float(cat.loc[cat["stopped"] == "sd", "n_items"].mean()),
            "max_items": int(cat["n_items"].max()),
            "reached": float((cat["stopped"] == "sd").mean()),
        },
        "mean_sd_0.3_length": {
            m: float(np.mean([k[m] for k in lengths_per_split])) for m in lengths_per_split[0]
        },
        "evaluation": evaluation.to_dict(),
    }
    (args.out / f"{name}.json").write_text(json.dumps(record, indent=1, default=float))
    ax = plot_subset_errors(evaluation, estimators=["mean", "pirt", "bayes"])
    ax.figure.savefig(args.out / f"{name}_mae.png", dpi=120, bbox_inches="tight")
    return markdown(name, n_all, evaluation, record, args)


def fit_label(args) -> str:
    """How the harness fitted the 2PL, for the tables."""
    if args.method == "nuts":
        return "NUTS until converged"
    return f"ADVI {args.advi_iterations} steps, {args.draws} draws"


def harness_fit(args, seed: int, fitted: dict, seconds: list):
    """``fit(training)`` of the 2PL by ``args.method`` (``"advi"``: ``args.advi_iterations``
    steps at most, ``args.draws`` draws; ``"nuts"``: the default fit, sampled until it
    converges) that keeps the fit in ``fitted`` and its time in ``seconds``."""

    def fit(training: bayesirt.Responses):
        t = time.perf_counter()
        options = {}
        if args.method == "advi":
            options = {
                "draws": args.draws,
                "chains": 1,
                "advi_iterations": args.advi_iterations,
            }
        fitted["idata"] = bayesirt.fit(
            training,
            model="2pl",
            method=args.method,
            random_seed=seed,
            progressbar=False,
            **options,
        )
        seconds.append(time.perf_counter() - t)
        return fitted["idata"]

    return fit


def adaptive_length_for_sd(idata, test: bayesirt.Responses, target: float = 0.3) -> int:
    """Shortest length k at which adaptive tests of k items give a mean posterior sd <= target.

    One run of adaptive tests (variance selector) of ``MAX_LENGTH`` items (at most half the
    benchmark), the mean over the models of the sd after each step; ``MAX_LENGTH + 1`` when
    not reached.
    """
    longest = min(MAX_LENGTH, test.n_items // 2)
    stopper = SdOrBudgetStopper(target_sd=None, max_items=longest)
    run = simulate_adaptive_test(idata, test, selector="variance", stopper=stopper, seed=0)
    mean_sd = run.history.groupby("step")["theta_sd"].mean()
    reached = mean_sd.index[mean_sd <= target]
    return int(reached[0]) if len(reached) else longest + 1


def fixed_length_for_sd(idata, test: bayesirt.Responses, method: str, target: float = 0.3) -> int:
    """Smallest fixed subset (``method``, seed 0) whose mean posterior sd of θ is <= target.

    The sd is :func:`bayesirt.score_new`'s (the cut posterior, as in the adaptive test), over
    the test subjects; found by bisection on the length, assuming it falls with the length.
    """

    def mean_sd(k: int) -> float:
        chosen = select_items(idata, method=method, budget=k, seed=0)
        scored = score_new(idata, test.subset(items=list(chosen.items)))
        return float(scored["theta_sd"].mean())

    lo, hi = 1, min(MAX_LENGTH, test.n_items // 2)
    if mean_sd(hi) > target:
        return hi + 1  # not reached
    while lo < hi:
        mid = (lo + hi) // 2
        if mean_sd(mid) <= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def markdown(name: str, n_all: int, evaluation, record: dict, args) -> str:
    settings = evaluation.settings
    summary = evaluation.summary()
    mae, tau = evaluation.pivot("mae"), evaluation.pivot("kendall_tau")
    tables = {
        key: evaluation.pivot(key).xs("bayes", level="estimator")
        for key in ("coverage", "coverage_model", "discrepancy", "theta_sd")
    }
    cat = record["adaptive_sd_0.3"]
    lengths = ", ".join(f"{m} {k:.1f}" for m, k in record["mean_sd_0.3_length"].items())
    head = (
        f"### {name}\n\n{n_all} subjects in the file"
        + (f", {args.max_subjects} kept at random" if n_all > args.max_subjects else "")
        + f"; per split {settings['n_train']} fitted (2PL, {fit_label(args)}), "
        f"{settings['n_calibration']} calibration and {settings['n_test']} "
        f"test subjects; {settings['n_items']} items; {settings['n_splits']} split(s) "
        f"({settings['split']}); seeds {settings['seeds']}; {settings['bayes_draws']} posterior "
        f"draws for the estimators. Fit {record['fit_seconds']:.0f} s, whole run "
        f"{record['total_seconds'] / 60:.1f} min (2 shared, loaded cores).\n"
    )
    parts = [
        head,
        check(summary, settings["n_items"]),
        "\nMAE of the estimated full accuracy (mean over seeds and splits; columns: items)\n",
        _md(mae, "{:.4f}"),
        "\nKendall τ of the estimated ranking of the test models\n",
        _md(tau, "{:.3f}"),
        "\nCoverage of the Bayesian 90% intervals, calibrated (discrepancy τ fitted on the "
        "calibration subjects)\n",
        _md(tables["coverage"], "{:.2f}"),
        "\nCoverage of the model's own 90% intervals (τ = 0)\n",
        _md(tables["coverage_model"], "{:.2f}"),
        "\nCalibrated discrepancy τ (sd of the ability shift of the unanswered items)\n",
        _md(tables["discrepancy"], "{:.3f}"),
        "\nMean posterior sd of θ (Bayesian estimator)\n",
        _md(tables["theta_sd"], "{:.3f}"),
        "\nAdaptive tests stopped at posterior sd 0.3 (variance selector): "
        f"{cat['reached']:.0%} of the test models reach it, after {cat['mean_items_reached']:.1f}"
        f" items on average (median over all models {cat['median_items']:.0f}; mean "
        f"{cat['mean_items']:.1f} and max {cat['max_items']} counting the models that use up "
        "the benchmark without reaching it).\n",
        "Shortest length at which the mean posterior sd over the test models is <= 0.3 "
        f"(adaptive tests of that length, fixed subsets): {lengths}.\n",
    ]
    return "\n".join(parts)


def check(summary: pd.DataFrame, n_items: int) -> str:
    """The issue's check at the budget nearest 10% of the items, as a short paragraph."""
    budget = min(summary["budget"].unique(), key=lambda b: abs(b - 0.1 * n_items))
    mae = summary[summary["budget"] == budget].set_index(["method", "estimator"])["mae"]
    baseline = mae[("random", "mean")]

    def line(label: str, key: tuple[str, str]) -> str:
        ratio = mae[key] / baseline
        return f"{label} {key[0]} / {key[1]} {mae[key]:.4f} = {ratio:.2f}×"

    best, fixed = mae.idxmin(), mae.drop(index="adaptive", level="method").idxmin()
    verdict = "passes" if mae[best] <= RATIO * baseline else "fails"
    return (
        f"Check at {budget} items ({budget / n_items:.0%}): random subset with the plain mean "
        f"{baseline:.4f}; {line('best', best)} ({verdict}: needs <= {RATIO}×); "
        f"{line('best fixed subset', fixed)}; "
        f"{line('random subset with its best estimator', mae.loc[['random']].idxmin())}.\n"
    )


def _md(frame: pd.DataFrame, fmt: str) -> str:
    frame = frame.copy()
    index_names = [n or "" for n in frame.index.names]
    rows = [
        [*(key if isinstance(key, tuple) else (key,)), *(fmt.format(v) for v in values)]
        for key, values in zip(frame.index, frame.to_numpy(), strict=True)
    ]
    header = [*index_names, *(str(c) for c in frame.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
