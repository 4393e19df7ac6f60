"""Coverage of the Bayesian estimator's intervals for every design of the tiny-benchmark
harness (issue 24), on real leaderboards.

The same subsampling, splits, fits (``--method``), budgets and seeds as ``subsets_real.py`` (whose
tables, made before the calibration became conformal, are the "before" numbers), but only
the Bayesian estimator: for every selection method (adaptive tests included) and budget,
the share of held-out models whose full-benchmark accuracy lies in the calibrated 90%
interval and in the model's own (τ = 0), the mean width of both, the calibrated τ, the
calibrated interval's central mass of the draws (below 0.9 where it is narrowed) and the
MAE, pooled over seeds and splits (``--splits``, default :data:`SPLITS`: AlpacaEval has 9
calibration and 12 test models per split, so it gets more).

    python benchmarks/subsets_coverage.py                        # the three data sets
    python benchmarks/subsets_coverage.py --datasets truthfulqa

Writes ``results/subsets_coverage.md`` (one section per data set, appended to a section
already there for the others) and ``--out``/``coverage_<name>.json``.
"""

from __future__ import annotations

import os

# The benchmark machine has 2 shared cores: multithreaded BLAS only oversubscribes them.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from subsets_real import DATASETS, add_arguments, fit_label, harness_fit, prepare

from bayesirt.analysis import SubsetEvaluation, evaluate_subsets

RESULTS = Path(__file__).parent / "results" / "subsets_coverage.md"
#: Splits per data set: enough held-out models and calibration sets per cell for a coverage
#: to ±0.02–0.03 (AlpacaEval has 9 calibration and 12 test models per split).
SPLITS = {"gsm8k": 3, "truthfulqa": 3, "alpacaeval2": 12}
#: The issue's band for the calibrated 90% intervals, per cell.
BAND = (0.85, 0.95)
METRICS = (
    "coverage",
    "coverage_model",
    "interval_width",
    "interval_width_model",
    "discrepancy",
    "interval_mass",
    "mae",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sections = _sections()
    for name in args.datasets:
        sections[name] = run(name, args)
        RESULTS.write_text("\n\n".join(sections[k] for k in DATASETS if k in sections) + "\n")
        print(sections[name], flush=True)


def _sections() -> dict[str, str]:
    """The sections already in the results file, by data set."""
    if not RESULTS.exists():
        return {}
    parts = RESULTS.read_text().split("### ")[1:]
    return {part.split()[0]: "### " + part.strip() for part in parts}


def run(name: str, args) -> str:
    started = time.perf_counter()
    responses, n_all, budgets, methods = prepare(name, args)
    n_splits = args.splits or SPLITS.get(name, 1)
    evaluations, fit_seconds = [], []
    for split_seed in range(n_splits):
        fit = harness_fit(args, split_seed, {}, fit_seconds)
        evaluations.append(
            evaluate_subsets(
                responses,
                fit=fit,
                methods=methods,
                estimators=("bayes",),
                budgets=budgets,
                seeds=args.seeds,
                split=args.test_share,
                split_seed=split_seed,
                max_test_subjects=args.max_test,
            )
        )
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
    # pooled over seeds and splits, weighting each run by its test models
    table = evaluation.table.assign(
        covered=lambda t: t["coverage"] * t["n_test"],
        covered_model=lambda t: t["coverage_model"] * t["n_test"],
    )
    cells = table.groupby(["method", "budget"])
    pooled = cells[["covered", "covered_model", "n_test"]].sum()
    summary = cells[[m for m in METRICS if not m.startswith("coverage")]].mean()
    summary["coverage"] = pooled["covered"] / pooled["n_test"]
    summary["coverage_model"] = pooled["covered_model"] / pooled["n_test"]
    summary["n_test"] = pooled["n_test"]
    record = {
        "dataset": name,
        "settings": evaluation.settings,
        "fit_seconds": float(np.mean(fit_seconds)),
        "total_seconds": time.perf_counter() - started,
        "cells": summary.reset_index().to_dict(orient="records"),
        "table": evaluation.to_dict()["table"],
    }
    (args.out / f"coverage_{name}.json").write_text(json.dumps(record, indent=1, default=float))
    return markdown(name, n_all, evaluation.settings, summary, record, args)


def markdown(name, n_all, settings, summary, record, args) -> str:
    inside = summary["coverage"].between(*BAND)
    head = (
        f"### {name}\n\n{n_all} subjects in the file"
        + (f", {args.max_subjects} kept at random" if n_all > args.max_subjects else "")
        + f"; per split {settings['n_train']} fitted (2PL, {fit_label(args)}), "
        f"{settings['n_calibration']} calibration and {settings['n_test']} test models; "
        f"{settings['n_items']} items; {settings['n_splits']} split(s); seeds "
        f"{settings['seeds']}; whole run {record['total_seconds'] / 60:.1f} min.\n\n"
        f"Calibrated coverage within {BAND[0]}–{BAND[1]} in {int(inside.sum())} of "
        f"{len(inside)} cells (range {summary['coverage'].min():.3f}–"
        f"{summary['coverage'].max():.3f}; pooled "
        f"{(summary['coverage'] * summary['n_test']).sum() / summary['n_test'].sum():.3f}); "
        f"the model's own intervals: {summary['coverage_model'].min():.3f}–"
        f"{summary['coverage_model'].max():.3f}.\n"
    )
    shown = summary.reset_index()
    columns = ["method", "budget", "n_test", *METRICS]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in shown[columns].itertuples(index=False):
        cells = [str(row.method), str(row.budget), str(int(row.n_test))]
        cells += [f"{getattr(row, m):.3f}" if m != "mae" else f"{row.mae:.4f}" for m in METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n" + "\n".join(lines)


if __name__ == "__main__":
    main()
