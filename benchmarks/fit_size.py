"""Size, save and load time of a fit file, before and after the compact stored form (issue 18).

Fits the 2PL to a public data set with the package defaults and writes the fit twice, in
the same run:

* **before**: ``idata.to_netcdf(...)``, what :func:`bayesirt.inference.save_fit` wrote up to
  commit 745ba53 — every posterior variable (``b`` included) in float64, ArviZ's zlib;
* **after**: :func:`bayesirt.inference.save_fit` — ``b`` derived on loading, draws as float32
  rounded to 16 significand bits, shuffle + zlib (see :mod:`bayesirt.inference.io`).

It then checks that nothing a user reads changes: every number of
:func:`bayesirt.summarize_fit`, of :func:`bayesirt.analysis.rank_table` and the R-hat / bulk / tail
ESS of every parameter, computed from the loaded file, against the same computed from the
fit in memory (largest relative difference, and whether all agree to 4 significant digits:
relative difference ≤ 5e-5, or absolute ≤ 1e-6 for numbers near 0).

    python benchmarks/fit_size.py                      # ChemBench, default fit
    python benchmarks/fit_size.py --dataset NAME       # another public dataset

Results are appended to ``benchmarks/results/fit_size.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import arviz as az
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "fit_size.json"
RTOL, ATOL = 5e-5, 1e-6


def _numbers(tree) -> list[float]:
    if isinstance(tree, dict):
        return [x for value in tree.values() for x in _numbers(value)]
    if isinstance(tree, list):
        return [x for value in tree for x in _numbers(value)]
    if isinstance(tree, int | float) and not isinstance(tree, bool):
        return [float(tree)]
    return []


def _compare(before, after) -> dict:
    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    both = np.isfinite(before) & np.isfinite(after)
    same_nan = bool(np.array_equal(np.isfinite(before), np.isfinite(after)))
    diff = np.abs(before[both] - after[both])
    relative = diff / np.maximum(np.abs(before[both]), 1e-300)
    agree = bool(np.all((diff <= RTOL * np.abs(before[both])) | (diff <= ATOL)) and same_nan)
    return {"numbers": int(before.size), "max_relative": float(relative.max()), "agree": agree}


def _timed(function, repeat: int = 3):
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return result, float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="chembench", help="public dataset to fit")
    args = parser.parse_args()

    from bayesirt import datasets, rank, summarize_fit
    from bayesirt.analysis import rank_table
    from bayesirt.inference import fit, load_fit, save_fit
    from bayesirt.inference.diagnostics import parameter_statistics

    name = args.dataset
    idata = fit(datasets.load(name), model="2pl", progressbar=False)
    record = {
        "data": name,
        "shape": [idata.posterior.sizes["subject"], idata.posterior.sizes["item"]],
    }
    record["draws"] = [idata.posterior.sizes["chain"], idata.posterior.sizes["draw"]]
    with tempfile.TemporaryDirectory() as folder:
        before, after = Path(folder) / "before.nc", Path(folder) / "after.nc"
        _, record["before_save_s"] = _timed(lambda: idata.to_netcdf(str(before), engine="h5netcdf"))
        _, record["after_save_s"] = _timed(lambda: save_fit(idata, after))
        _, record["before_load_s"] = _timed(lambda: az.from_netcdf(str(before), engine="h5netcdf"))
        loaded, record["after_load_s"] = _timed(lambda: load_fit(after))
        record["before_mb"] = round(before.stat().st_size / 2**20, 2)
        record["after_mb"] = round(after.stat().st_size / 2**20, 2)
    record["size_ratio"] = round(record["after_mb"] / record["before_mb"], 4)

    record["summary"] = _compare(_numbers(summarize_fit(idata)), _numbers(summarize_fit(loaded)))
    ranked = [rank_table(rank(data)).select_dtypes("number").to_numpy() for data in (idata, loaded)]
    record["rank_table"] = _compare(ranked[0].ravel(), ranked[1].ravel())
    stats = [parameter_statistics(data.posterior) for data in (idata, loaded)]
    flat = [np.concatenate([np.concatenate(s[k][:3]) for k in sorted(s)]) for s in stats]
    record["rhat_ess"] = _compare(flat[0], flat[1])
    record["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(json.dumps(record))
    history = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps([*history, record], indent=1) + "\n")


if __name__ == "__main__":
    main()
