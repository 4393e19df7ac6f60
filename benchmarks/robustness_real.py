"""Robustness analysis of two real leaderboards: the numbers of issue 6's closing note.

For each data set: fit the 2PL (ADVI) and, as the model-based alternative, the 1PL (ADVI),
then run :func:`bayesirt.analysis.assess_robustness` and print the dependence test, the Q3
summaries, what each partition of the questions explains, and the stability of the ranking
across the scenarios, with the time of every step. Writes ``robustness_<name>_<method>.json``
(:func:`bayesirt.analysis.robustness_to_json`) under ``--out``. ``--method nuts`` fits by NUTS
instead (500 tuning steps and 500 draws per chain by default).

* ``alpacaeval2`` (58 LLMs × 805 instructions): ``responses_tidy.csv``, response ``correct``
  binarised with ``threshold=0.5``. The loader counts ``score >= threshold`` as correct, so
  the 949 exact ties (0.5) of the judge count as wins. Item metadata from ``items.csv``:
  ``category`` (5 source data sets) for the groups, ``instruction`` for the text clusters.
* ``opencompass`` (12 LLMs × 41,871 items): ``responses_wide.csv``; ``items.csv`` maps each
  item to its ``benchmark`` (11), the groups. No text.

    python benchmarks/robustness_real.py                      # both data sets
    python benchmarks/robustness_real.py --datasets alpacaeval2 --out /tmp/robustness

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

import numpy as np
import pandas as pd

import bayesirt
from bayesirt.analysis import assess_robustness, robustness_to_json
from bayesirt.analysis.robustness import cluster_table

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
#: ADVI steps per data set (the 502,452 responses of opencompass make a step 25 times dearer).
ADVI_ITERATIONS = {"alpacaeval2": 20_000, "opencompass": 10_000}


def load(name: str, data: Path) -> tuple[bayesirt.Responses, dict]:
    """The responses of a data set and the :func:`assess_robustness` options for it."""
    if name == "alpacaeval2":
        folder = data / "alpacaeval2"
        items = pd.read_csv(folder / "items.csv")[["item", "category", "instruction"]]
        responses = bayesirt.load_responses(
            folder / "responses_tidy.csv",
            response="correct",
            threshold=0.5,
            item_meta=items,
        )
        return responses, {"groups": "category", "text": "instruction"}
    if name == "opencompass":
        folder = data / "opencompass-psn-irt"
        responses = bayesirt.load_responses(
            folder / "responses_wide.csv", item_meta=folder / "items.csv"
        )
        return responses, {"groups": "benchmark", "text": None}
    raise ValueError(f"unknown data set {name!r}")


def fit(responses: bayesirt.Responses, model: str, *, method: str, draws: int, iterations: int):
    started = time.perf_counter()
    idata = bayesirt.fit(
        responses,
        model=model,
        method=method,
        draws=draws,
        tune=draws,
        chains=2,
        advi_iterations=iterations,
        random_seed=0,
        progressbar=False,
    )
    return idata, time.perf_counter() - started


def report(name: str, result, fit_seconds: dict[str, float]) -> None:
    dep, test, scen = result.dependence, result.test, result.scenarios
    print(f"\n=== {name}: {dep.attrs['n_subjects']} subjects × {dep.attrs['n_items']} items")
    print("fit seconds:", {k: round(v, 1) for k, v in fit_seconds.items()})
    print("analysis seconds:", {k: round(v, 1) for k, v in result.timings.items()})
    print(f"total analysis: {sum(result.timings.values()):.1f} s")
    mean_q3, mean_abs = dep["mean_q3"].mean().item(), dep["mean_abs_q3"].mean().item()
    print(
        f"Q3 ({dep.attrs['method']}, {dep.attrs['n_pairs']} pairs, {dep.attrs['n_draws']} "
        f"draws): mean {mean_q3:+.4f}, mean |Q3| {mean_abs:.4f}, between "
        f"{dep.attrs['partition']} {dep['between_q3'].mean().item():+.4f}"
    )
    print(cluster_table(dep).round(4).to_string())
    print("verdict:", test.attrs["verdict"])
    print(result.explained.round(4).to_string())
    names = [str(s) for s in scen["scenario"].values]
    for basis, stability in result.stability.items():
        tau = stability["kendall_tau"].to_pandas().round(3)
        print(f"\n-- {basis} ranks: Kendall tau between scenarios (reference {names[1]})")
        print(tau.to_string())
        print(
            "flips per scenario:",
            dict(zip(names, stability["n_flips"].values.tolist(), strict=True)),
        )
        table = pd.DataFrame(
            {
                "max_shift": stability["max_shift"].values,
                "scenario": stability["max_shift_scenario"].values,
                "p_rank_change": stability["p_rank_change"].values,
            },
            index=stability["subject"].values,
        )
        print(table.sort_values("max_shift", ascending=False).head(8).round(3).to_string())
        flips = result.flips[basis]
        if len(flips):
            print(flips.head(5).round(3).to_string())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["alpacaeval2", "opencompass"])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=Path("robustness_real"))
    parser.add_argument("--method", choices=("advi", "nuts"), default="advi")
    parser.add_argument(
        "--draws", type=int, default=500, help="draws per chain (2 chains; NUTS tunes as long)"
    )
    parser.add_argument(
        "--advi-iterations", type=int, help="ADVI steps (default: ADVI_ITERATIONS per data set)"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        responses, options = load(name, args.data)
        seconds = {}
        settings = {
            "method": args.method,
            "draws": args.draws,
            "iterations": args.advi_iterations or ADVI_ITERATIONS[name],
        }
        idata, seconds["2pl"] = fit(responses, "2pl", **settings)
        one_pl, seconds["1pl"] = fit(responses, "1pl", **settings)
        result = assess_robustness(idata, other_fits={"1pl": one_pl}, random_seed=0, **options)
        report(f"{name} ({args.method})", result, seconds)
        summary = robustness_to_json(result)
        summary["fit_seconds"] = seconds
        summary["fit"] = settings
        summary["data"] = {
            "n_subjects": responses.n_subjects,
            "n_items": responses.n_items,
            "fraction_missing": responses.fraction_missing,
            "mean_accuracy": float(np.mean(responses.response)),
        }
        path = args.out / f"robustness_{name}_{args.method}.json"
        path.write_text(json.dumps(summary, indent=1, allow_nan=False))
        print("wrote", path)


if __name__ == "__main__":
    main()
