"""Default NUTS fits of the models with asymptotes (3PL, 4PL): mass matrix against mass matrix.

The 3PL and 4PL are sampled by nutpie with its low-rank modified mass matrix
(``ThreePL.nutpie_options``). This script fits a simulated table with the package defaults and
with the diagonal mass matrix instead (``sampler_kwargs={"low_rank_modified_mass_matrix":
False}``), one fit after the other, and prints per fit: seconds, draws per chain, leapfrog
steps per draw, gradient evaluations (chains × draws × steps), and the diagnostics. Records are
appended to ``benchmarks/results/asymptotes.json``, with the recovery of each parameter
(correlation of posterior means with the truth, coverage of the 90% intervals).

    python benchmarks/asymptotes.py                          # 3PL, 150 × 200, seed 22
    python benchmarks/asymptotes.py --model 4pl --shape 400 400 --seed 23 --only default

One fit at a time: on two cores a fit uses both.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "asymptotes.json"
VARIANTS = {"default": None, "diagonal": {"low_rank_modified_mass_matrix": False}}


def _standardised(truth) -> dict:
    """True parameters on the fit's scale (abilities of mean 0 and sd 1 over the subjects)."""
    theta = truth["theta"].values
    m, s = theta.mean(), theta.std()
    out = {"theta": (theta - m) / s, "b": (truth["b"].values - m) / s, "a": truth["a"].values * s}
    out.update({name: truth[name].values for name in ("c", "d") if name in truth})
    return out


def _recovery(posterior, true: dict) -> dict:
    """Per parameter: correlation of the posterior means with the truth and the share of true
    values inside the central 90% intervals."""
    out = {}
    for name, value in true.items():
        draws = posterior[name].stack(sample=("chain", "draw")).transpose(..., "sample").values
        lo, hi = np.quantile(draws, [0.05, 0.95], axis=-1)
        out[f"corr_{name}"] = round(float(np.corrcoef(draws.mean(-1), value)[0, 1]), 3)
        out[f"coverage90_{name}"] = round(float(np.mean((value >= lo) & (value <= hi))), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="3pl", choices=("3pl", "4pl"))
    parser.add_argument("--shape", nargs=2, type=int, default=(150, 200), metavar=("N", "I"))
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--only", nargs="*", choices=list(VARIANTS))
    parser.add_argument("--max-seconds", type=float, default=1800)
    args = parser.parse_args()

    import bayesirt
    from bayesirt.inference import fit, fit_info

    responses, truth = bayesirt.simulate_responses(*args.shape, model=args.model, seed=args.seed)
    true = _standardised(truth)
    records = []
    for variant in args.only or list(VARIANTS):
        started = time.perf_counter()
        idata = fit(
            responses,
            model=args.model,
            random_seed=args.seed,
            max_seconds=args.max_seconds,
            sampler_kwargs=VARIANTS[variant],
        )
        seconds = time.perf_counter() - started
        info = fit_info(idata)
        diag, settings = info["diagnostics"], info["inference"]
        steps = float(idata.sample_stats["n_steps"].mean())
        record = {
            "model": args.model,
            "shape": list(args.shape),
            "seed": args.seed,
            "variant": variant,
            "seconds": round(seconds, 1),
            "draws": settings["draws"],
            "steps_per_draw": round(steps, 1),
            "gradients": int(settings["chains"] * settings["draws"] * steps),
            **{key: diag[key] for key in ("max_rhat", "worst_rhat", "min_ess_bulk")},
            **{key: diag[key] for key in ("worst_ess_bulk", "min_ess_tail", "divergences")},
            "converged": diag["converged"],
            **_recovery(idata.posterior, true),
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        print(json.dumps(record), flush=True)
        records.append(record)
    history = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(history + records, indent=1) + "\n")


if __name__ == "__main__":
    main()
