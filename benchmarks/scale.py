"""Large single fits (issue 11): minibatch ADVI on leaderboard-size data, time and peak memory.

Two cases, each fitted in a fresh subprocess so that its peak resident memory is its own:

* ``dense``: a simulated 2PL leaderboard of 400 models × 30,000 questions, every cell
  observed (12M responses), simulated in the fitting process itself;
* ``sparse``: 4,000 × 28,000 with 10% of the cells observed (11.2M responses), drawn block by
  block and written once as a long-format parquet file by a separate process (see
  :func:`write_sparse`), then loaded with :func:`bayesirt.load_responses` and fitted in a
  process that never sees a dense matrix.

Each fit is ``bayesirt.fit(..., method="advi", batch_size=B)``: stochastic-gradient ADVI on
random minibatches of ``B`` responses per step, stopped by the package's loss-plateau rule.
Reported: wall and CPU seconds, ADVI steps, whether the stopping rule fired, correlation of the
posterior-mean θ and b with the truth, and the peak resident set size (``ru_maxrss``).

Run (give it the machine to itself for a timing):

    python benchmarks/scale.py --out benchmarks/results/scale.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

CASES = {
    "dense": {"n_subjects": 400, "n_items": 30_000, "missing_fraction": 0.0, "seed": 1104},
    "sparse": {"n_subjects": 4_000, "n_items": 28_000, "missing_fraction": 0.9, "seed": 1105},
}


def _simulate(case: dict):
    import bayesirt

    return bayesirt.simulate_responses(
        case["n_subjects"],
        case["n_items"],
        model="2pl",
        seed=case["seed"],
        missing_fraction=case["missing_fraction"],
    )


def write_sparse(case: dict, workdir: Path, block: int = 250) -> None:
    """Simulate the sparse case and store responses (long parquet) and truth (netCDF).

    ``simulate_responses`` draws the full subject × item table (it was killed for memory at
    4,000 × 28,000 on a 24 GB machine), so the sparse case is drawn here, a block of subjects
    at a time, from the same kind of 2PL: θ ~ N(0, 1), b ~ N(0, 1), log a ~ N(0, 0.3²), each
    cell observed independently with probability ``1 - missing_fraction``; only the observed
    cells are ever held.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(case["seed"])
    n_subjects, n_items = case["n_subjects"], case["n_items"]
    theta = rng.normal(size=n_subjects)
    b = rng.normal(size=n_items)
    a = np.exp(rng.normal(0.0, 0.3, n_items))
    subjects = np.array([f"model_{j}" for j in range(n_subjects)])
    items = np.array([f"item_{i}" for i in range(n_items)])
    writer = None
    for start in range(0, n_subjects, block):
        rows = np.arange(start, min(start + block, n_subjects))
        observed = rng.random((rows.size, n_items)) >= case["missing_fraction"]
        s, i = np.nonzero(observed)
        s = rows[s]
        p = 1.0 / (1.0 + np.exp(-a[i] * (theta[s] - b[i])))
        y = (rng.random(p.size) < p).astype(np.int8)
        table = pa.Table.from_pandas(
            pd.DataFrame({"subject": subjects[s], "item": items[i], "response": y}),
            preserve_index=False,
        )
        writer = writer or pq.ParquetWriter(workdir / "responses.parquet", table.schema)
        writer.write_table(table)
    writer.close()
    xr.Dataset(
        {"theta": ("subject", theta), "b": ("item", b)},
        coords={"subject": subjects, "item": items},
    ).to_netcdf(workdir / "truth.nc")


def fit_case(name: str, batch_size: int, draws: int, workdir: Path) -> dict:
    import bayesirt
    from bayesirt.inference.io import fit_settings

    case = CASES[name]
    started_cpu, started = time.process_time(), time.perf_counter()
    if name == "sparse":
        responses = bayesirt.load_responses(workdir / "responses.parquet")
        truth = xr.load_dataset(workdir / "truth.nc")
    else:
        responses, truth = _simulate(case)
    loaded = time.perf_counter()
    idata = bayesirt.fit(
        responses,
        model="2pl",
        method="advi",
        batch_size=batch_size,
        draws=draws,
        chains=1,
        random_seed=1,
        progressbar=False,
    )
    info = fit_settings(idata)
    post = idata.posterior
    theta = post["theta"].mean(("chain", "draw")).to_series()
    b = post["b"].mean(("chain", "draw")).to_series()
    true_theta, true_b = truth["theta"].to_series(), truth["b"].to_series()
    r_theta = np.corrcoef(theta.values, true_theta.loc[theta.index].values)[0, 1]
    r_b = np.corrcoef(b.values, true_b.loc[b.index].values)[0, 1]
    return {
        "case": name,
        **case,
        "n_observed": int(responses.n_observed),
        "batch_size": batch_size,
        "load_s": round(loaded - started, 1),
        "fit_s": round(time.perf_counter() - loaded, 1),
        "cpu_s": round(time.process_time() - started_cpu, 1),
        "advi_steps": info["advi_steps"],
        "advi_converged": info["advi_converged"],
        "r_theta": round(float(r_theta), 4),
        "r_b": round(float(r_b), 4),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="dense,sparse")
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker == "write-sparse":
        write_sparse(CASES["sparse"], args.workdir)
        return
    if args.worker:
        print(json.dumps(fit_case(args.worker, args.batch_size, args.draws, args.workdir)))
        return

    workdir = Path(tempfile.mkdtemp(prefix="bayesirt-scale-"))
    records = []
    for name in args.cases.split(","):
        if name == "sparse":
            _run_worker("write-sparse", args, workdir)
        out = _run_worker(name, args, workdir)
        record = json.loads(out.strip().splitlines()[-1])
        print(json.dumps(record), flush=True)
        records.append(record)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(records, indent=2) + "\n")


def _run_worker(worker: str, args, workdir: Path) -> str:
    command = [sys.executable, __file__, "--worker", worker, "--workdir", str(workdir)]
    command += ["--batch-size", str(args.batch_size), "--draws", str(args.draws)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{worker} failed:\n{done.stderr[-3000:]}")
    return done.stdout


if __name__ == "__main__":
    main()
