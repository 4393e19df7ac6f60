"""Convergence panel: default ``bayesirt fit`` on real leaderboards, no tuning options.

Runs the command line exactly as a user would (``bayesirt fit DATA`` with data options only)
on each member of the panel of issue 17 and prints, per data set, the wall time of the
command, the time of the fit itself, the draws per chain it took, the leapfrog steps per
draw, the peak memory of the command, and the diagnostics stored with the fit. Results are
appended to ``benchmarks/results/panel_results.json`` and printed as a Markdown table.

    python benchmarks/panel.py                 # the whole panel, 2PL
    python benchmarks/panel.py --model 3pl --only chembench alpacaeval2
    python benchmarks/panel.py --list
    python benchmarks/panel.py --only example alpacaeval2 --fit-args "--chains 2"

Needs ``../shared/data`` beside the repository (``BAYESIRT_DATA_CACHE`` is pointed at its
``raw/`` folder for ChemBench). One fit at a time: on two cores a fit uses both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "panel_results.json"


def _simulated(folder: Path) -> list[str]:
    """A simulated 40 × 600 2PL with 10% of the cells missing, written as a wide CSV."""
    from bayesirt import simulate_responses

    responses, _ = simulate_responses(40, 600, seed=17, missing_fraction=0.1)
    path = folder / "sim40x600.csv"
    responses.to_wide().rename_axis("subject").to_csv(path)
    return [str(path)]


#: name -> (arguments of ``bayesirt fit`` after DATA, or a callable writing the data first).
PANEL = {
    "chembench": ["dataset:chembench"],
    "alpacaeval2": [
        str(SHARED / "alpacaeval2/responses_tidy.csv"),
        "--response",
        "correct",
        "--threshold",
        "0.5",
    ],
    "truthfulqa": [str(SHARED / "metabench/truthfulqa_train_responses_wide.csv")],
    "arc": [str(SHARED / "metabench/arc_train_responses_wide.csv")],
    "opencompass": [str(SHARED / "opencompass-psn-irt/responses_wide.csv")],
    "lsat7": [str(SHARED / "classic-irt/lsat7_wide.csv")],
    "example": ["example"],
    "sim40x600": _simulated,
}


def run_member(
    name: str, model: str, folder: Path, fit_args: list[str], log: Path | None = None
) -> dict:
    """One panel fit; with ``log``, its progress lines (one per convergence check) go there."""
    spec = PANEL[name]
    data = spec(folder) if callable(spec) else spec
    out = folder / f"{name}-{model}.nc"
    command = [sys.executable, "-m", "bayesirt", "fit", *data, "--model", model]
    command += ["--out", str(out), "--overwrite", "--no-progress" if log is None else "--progress"]
    command += fit_args
    env = {**os.environ, "BAYESIRT_DATA_CACHE": str(SHARED / "raw")}
    started = time.perf_counter()
    with open(log, "w+") if log is not None else tempfile.TemporaryFile("w+") as stderr:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        errors = stderr.read()
    wall = time.perf_counter() - started
    record = {
        "data": name,
        "model": model,
        "fit_args": fit_args,
        "wall_seconds": round(wall, 1),
        "peak_memory_gb": round(usage.ru_maxrss / 2**20, 2),  # ru_maxrss is in KiB on Linux
    }
    if child.returncode != 0:
        record["error"] = errors.strip().splitlines()[-1:] or [f"exit {child.returncode}"]
        return record
    import arviz as az

    from bayesirt.inference import fit_info, load_fit

    idata = load_fit(out)
    info = fit_info(idata)
    settings, diag = info["inference"], info["diagnostics"]
    stats = idata.sample_stats
    record.update(
        {
            "fit_seconds": settings["seconds"],
            "draws_per_chain": settings["draws"],
            "chains": settings["chains"],
            "tune": settings["tune"],
            "checks": settings.get("checks"),
            "check_seconds": settings.get("check_seconds"),
            "budget_exhausted": settings.get("budget_exhausted"),
            "steps_per_draw": round(float(stats["n_steps"].mean()), 1),
            "step_size": round(float(stats["step_size"].mean()), 4),
            "max_rhat": diag["max_rhat"],
            "worst_rhat": diag["worst_rhat"],
            "min_ess_bulk": diag["min_ess_bulk"],
            "worst_ess_bulk": diag["worst_ess_bulk"],
            "min_ess_tail": diag["min_ess_tail"],
            "divergences": diag["divergences"],
            "min_bfmi": diag["min_bfmi"],
            "converged": diag["converged"],
            "shape": [idata.posterior.sizes["subject"], idata.posterior.sizes["item"]],
            "file_mb": round(out.stat().st_size / 2**20, 1),
        }
    )
    del az
    return record


def table(records: list[dict]) -> str:
    head = (
        "| data | model | subjects × items | fit s | draws/chain | steps/draw | max R-hat "
        "| min bulk ESS | min tail ESS | div. | converged |"
    )
    rows = [head, "|" + " --- |" * 11]
    for r in records:
        if "error" in r:
            rows.append(f"| {r['data']} | {r['model']} | error: {r['error']} |" + " |" * 8)
            continue
        shape = " × ".join(f"{n:,}" for n in r["shape"])
        rows.append(
            f"| {r['data']} | {r['model']} | {shape} | {r['fit_seconds']:.0f} "
            f"| {r['draws_per_chain']} | {r['steps_per_draw']} | {r['max_rhat']:.3f} "
            f"| {r['min_ess_bulk']:.0f} | {r['min_ess_tail']:.0f} | {r['divergences']} "
            f"| {'yes' if r['converged'] else 'NO'} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="2pl")
    parser.add_argument("--only", nargs="*", choices=list(PANEL))
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--fit-args", default="", help="more options of 'bayesirt fit'")
    parser.add_argument(
        "--log-dir", type=Path, help="keep each fit's progress lines in LOG_DIR/NAME-MODEL.log"
    )
    args = parser.parse_args()
    if args.list:
        print("\n".join(PANEL))
        return
    names = args.only or list(PANEL)
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            log = None if args.log_dir is None else args.log_dir / f"{name}-{args.model}.log"
            record = run_member(name, args.model, Path(tmp), args.fit_args.split(), log)
            record["when"] = datetime.now(UTC).isoformat(timespec="seconds")
            print(json.dumps(record), flush=True)
            records.append(record)
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(history + records, indent=1, default=_plain) + "\n")
    print(table(records))


def _plain(value):
    return value.item() if isinstance(value, np.generic) else str(value)


if __name__ == "__main__":
    main()
