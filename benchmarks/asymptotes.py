"""Default NUTS fits of the models with asymptotes (3PL, 4PL): mass matrix against mass matrix.

The 3PL and 4PL are sampled by nutpie with its low-rank modified mass matrix
(``ThreePL.nutpie_options``). This script fits a simulated table with the package defaults and
with the diagonal mass matrix instead (``sampler_kwargs={"low_rank_modified_mass_matrix":
False}``), one fit after the other, and prints per fit: seconds, draws per chain, leapfrog
steps per draw, gradient evaluations (chains × draws × steps), and the diagnostics. Records are
appended to ``benchmarks/results/asymptotes.json``.

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

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "asymptotes.json"
VARIANTS = {"default": None, "diagonal": {"low_rank_modified_mass_matrix": False}}


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

    responses, _ = bayesirt.simulate_responses(*args.shape, model=args.model, seed=args.seed)
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
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        print(json.dumps(record), flush=True)
        records.append(record)
    history = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(history + records, indent=1) + "\n")


if __name__ == "__main__":
    main()
