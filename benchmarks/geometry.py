"""Sampling geometry: the same fixed-length NUTS run under two versions of the package.

Runs ``bayesirt.fit(..., draws=D, tune=T, chains=C)`` (a fixed length, so that the versions
do the same work) on one data set and prints the sampling efficiency measures of issue 17:
the smallest bulk and tail ESS over every parameter and hyperparameter, the same per second
of the run, leapfrog steps per draw, E-BFMI, and the slowest variable. To compare with an
earlier commit, run it once with that commit's package first on ``PYTHONPATH``:

    git worktree add /tmp/before 485fcf4
    PYTHONPATH=/tmp/before python benchmarks/geometry.py example --label before
    python benchmarks/geometry.py example --label after

Records go to ``benchmarks/results/geometry_results.json``. ESS comes from ArviZ (the same
numbers in both versions), over the variables stored in the posterior except the ``*_z``
auxiliaries, as the package's own diagnostics do.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import arviz as az
import numpy as np

import bayesirt

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "geometry_results.json"


def load(name: str, model: str):
    if name == "example":
        return bayesirt.load_example()
    if name == "chembench":
        return bayesirt.load_responses(SHARED / "chembench" / "responses_wide.csv")
    if name == "alpacaeval2":
        return bayesirt.load_responses(
            SHARED / "alpacaeval2" / "responses_tidy.csv", response="correct", threshold=0.5
        )
    if name == "sim400":
        return bayesirt.simulate_responses(400, 400, model=model, seed=7)[0]
    raise SystemExit(f"unknown data set {name!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", choices=["example", "chembench", "alpacaeval2", "sim400"])
    parser.add_argument("--model", default="2pl")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    responses = load(args.data, args.model)
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    idata = bayesirt.fit(
        responses,
        model=args.model,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        random_seed=args.seed,
        progressbar=False,
    )
    seconds = time.perf_counter() - started
    names = [n for n in idata.posterior.data_vars if not n.endswith(("_z", "__"))]
    bulk = az.ess(idata, var_names=names, method="bulk")
    tail = az.ess(idata, var_names=names, method="tail")
    per_variable = {n: float(min(bulk[n].min(), tail[n].min())) for n in names}
    slowest = min(per_variable, key=per_variable.get)
    stats = idata.sample_stats
    record = {
        "label": args.label,
        "data": args.data,
        "model": args.model,
        "shape": [responses.n_subjects, responses.n_items],
        "draws": args.draws,
        "tune": args.tune,
        "chains": args.chains,
        "seed": args.seed,
        "seconds": round(seconds, 1),
        "min_ess_bulk": round(float(min(bulk[n].min() for n in names)), 1),
        "min_ess_tail": round(float(min(tail[n].min() for n in names)), 1),
        "min_ess_per_second": round(per_variable[slowest] / seconds, 2),
        "slowest": slowest,
        "steps_per_draw": round(float(stats["n_steps"].mean()), 1),
        "min_bfmi": round(float(np.min(az.bfmi(idata))), 3),
        "divergences": int(stats["diverging"].sum()),
        "max_rhat": round(float(max(az.rhat(idata, var_names=names)[n].max() for n in names)), 4),
        "version": bayesirt.__file__,
    }
    print(json.dumps(record))
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps([*history, record], indent=1) + "\n")


if __name__ == "__main__":
    main()
