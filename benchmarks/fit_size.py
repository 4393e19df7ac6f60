"""Size, save and load time of a fit file, before and after the compact stored form (issue 18).

Fits the 2PL to a public data set with the package defaults and writes the fit twice, in
the same run:

* **before**: ``idata.to_netcdf(...)``, what :func:`bayesirt.inference.save_fit` wrote up to
  commit 745ba53 — every posterior variable (``b`` included) in float64, ArviZ's zlib;
* **after**: :func:`bayesirt.inference.save_fit` — ``b`` derived on loading, draws as float32
  (item parameters) rounded to 16 significand bits, shuffle + zlib (see
  :mod:`bayesirt.inference.io`).

It then checks that nothing a user reads changes: every number of
:func:`bayesirt.summarize_fit`, of :func:`bayesirt.analysis.rank_table` and the R-hat / bulk / tail
ESS of every parameter element as the package shows them
(:func:`bayesirt.inference.diagnostics.fit_statistics`), from the loaded file, against the same
from the fit in memory (largest relative difference, and whether all agree to 4 significant
digits: relative difference ≤ 5e-5, or absolute ≤ 1e-6 for numbers near 0); and, for the
record, R-hat / ESS recomputed from the stored (rounded) draws.

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
    """Largest relative difference, and how many numbers differ beyond 4 significant digits."""
    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    both = np.isfinite(before) & np.isfinite(after)
    same_nan = bool(np.array_equal(np.isfinite(before), np.isfinite(after)))
    diff = np.abs(before[both] - after[both])
    relative = diff / np.maximum(np.abs(before[both]), 1e-300)
    differ = int(np.sum((diff > RTOL * np.abs(before[both])) & (diff > ATOL)))
    return {
        "numbers": int(before.size),
        "max_relative": float(relative.max()),
        "differ": differ,
        "agree": differ == 0 and same_nan,
    }


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
    parser.add_argument(
        "--bits", nargs="*", type=int, help="significand bits to compare (default: the package's)"
    )
    args = parser.parse_args()

    from bayesirt import datasets, rank, summarize_fit
    from bayesirt.analysis import rank_table
    from bayesirt.inference import fit, io, load_fit, save_fit
    from bayesirt.inference.diagnostics import fit_statistics, parameter_statistics

    name = args.dataset
    started = time.perf_counter()
    idata = fit(datasets.load(name), model="2pl", progressbar=False)
    common = {
        "data": name,
        "shape": [idata.posterior.sizes["subject"], idata.posterior.sizes["item"]],
        "draws": [idata.posterior.sizes["chain"], idata.posterior.sizes["draw"]],
        "fit_s": round(time.perf_counter() - started, 1),
        "steps_per_draw": round(float(idata.sample_stats["n_steps"].mean()), 1),
    }
    summary = _numbers(summarize_fit(idata))
    ranked = rank_table(rank(idata)).select_dtypes("number").to_numpy().ravel()
    stats = _flat(fit_statistics(idata))  # as computed on the draws in memory
    records = []
    with tempfile.TemporaryDirectory() as folder:
        before = Path(folder) / "before.nc"
        _, before_save = _timed(lambda: idata.to_netcdf(str(before), engine="h5netcdf"))
        _, before_load = _timed(lambda: _read_all(before))
        for bits in args.bits or [io.STORED_BITS]:
            io.STORED_BITS = bits
            after = Path(folder) / f"after-{bits}.nc"
            _, after_save = _timed(lambda after=after: save_fit(idata, after))
            loaded, after_load = _timed(lambda after=after: load_fit(after))
            record = {
                **common,
                "stored_bits": bits,
                "before_mb": round(before.stat().st_size / 2**20, 2),
                "after_mb": round(after.stat().st_size / 2**20, 2),
                "before_save_s": round(before_save, 2),
                "after_save_s": round(after_save, 2),
                "before_load_s": round(before_load, 2),
                "after_load_s": round(after_load, 2),
                "summary": _compare(summary, _numbers(summarize_fit(loaded))),
                "rank_table": _compare(
                    ranked, rank_table(rank(loaded)).select_dtypes("number").to_numpy().ravel()
                ),
                # what the package shows after loading (the statistics stored with the fit) ...
                "rhat_ess": _compare(stats, _flat(fit_statistics(loaded))),
                # ... and what the rounded draws would give if recomputed
                "rhat_ess_recomputed": _compare(
                    stats, _flat(parameter_statistics(loaded.posterior.drop_vars("b")))
                ),
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            record["size_ratio"] = round(record["after_mb"] / record["before_mb"], 4)
            print(json.dumps(record), flush=True)
            records.append(record)
    history = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps([*history, *records], indent=1) + "\n")


def _read_all(path: Path) -> az.InferenceData:
    """A netCDF fit read by ArviZ with every group loaded into memory, as load_fit does."""
    idata = az.from_netcdf(str(path), engine="h5netcdf")
    for group in idata.groups():
        idata[group].load()
    return idata


def _flat(statistics) -> np.ndarray:
    """R-hat, bulk and tail ESS of every element, as one vector."""
    return np.concatenate([np.concatenate(statistics[name][:3]) for name in sorted(statistics)])


if __name__ == "__main__":
    main()
