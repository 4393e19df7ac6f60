"""A sweep of 20 fits on the local process pool and on a Dask LocalCluster (issue 11).

Steps, each on a fresh cache under ``--work`` (default: a temporary folder):

1. ``local``: ``bayesirt.sweep(spec, engine="local")`` from scratch, timed.
2. ``interrupted``: ``bayesirt sweep SPEC`` in a subprocess, killed (SIGKILL to its whole
   process group, workers included) once ``--kill-after`` results are cached; then
   ``bayesirt.sweep`` again on that cache, timed. Checks that the files finished before the
   kill are untouched (same modification times) and that only the rest was computed.
3. ``dask``: ``bayesirt.sweep(spec, engine="dask")`` on a LocalCluster of ``--workers``
   processes on 127.0.0.1, timed.

The three gathered datasets must be identical (``xarray.testing.assert_identical`` without
the run attributes). Also measured: the cost of an empty task round trip on each engine
(start-up of the pool / cluster, then ``--noop-tasks`` trivial tasks), which is the
engine's own overhead per sweep point.

    python benchmarks/sweep_engines.py                      # benchmarks/sweep_demo.toml
    python benchmarks/sweep_engines.py --spec my.toml --workers 4 --out results.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import xarray as xr

HERE = Path(__file__).resolve().parent


def _noop(x: int) -> int:
    return x


def engine_overhead(n_workers: int, n_tasks: int) -> dict[str, dict[str, float]]:
    """Seconds to start each engine and to run ``n_tasks`` trivial tasks on it."""
    from distributed import Client, LocalCluster

    out = {}
    start = time.perf_counter()
    with ProcessPoolExecutor(n_workers, mp_context=get_context("spawn")) as pool:
        list(pool.map(_noop, range(n_workers)))  # workers up
        ready = time.perf_counter()
        list(pool.map(_noop, range(n_tasks)))
        done = time.perf_counter()
    out["local"] = {"start_s": ready - start, "per_task_ms": 1e3 * (done - ready) / n_tasks}
    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.gather(client.map(_noop, range(n_workers), pure=False))
        ready = time.perf_counter()
        client.gather([client.submit(_noop, i, pure=False) for i in range(n_tasks)])
        done = time.perf_counter()
    out["dask"] = {"start_s": ready - start, "per_task_ms": 1e3 * (done - ready) / n_tasks}
    return out


def _results(cache: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (cache / "results").glob("*.nc")}


def interrupted_run(spec: Path, cache: Path, workers: int, kill_after: int) -> dict:
    """Start the CLI, kill it with everything it started once ``kill_after`` results exist."""
    command = ["bayesirt", "sweep", str(spec), "--cache-dir", str(cache), "--no-progress"]
    command += ["--workers", str(workers)]
    process = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    start = time.perf_counter()
    try:
        while len(_results(cache)) < kill_after:
            if process.poll() is not None:
                raise RuntimeError(f"the sweep ended (status {process.returncode}) before the kill")
            time.sleep(0.5)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return {"killed_after_s": time.perf_counter() - start, "finished": _results(cache)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=HERE / "sweep_demo.toml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-after", type=int, default=6, help="results cached before kill")
    parser.add_argument("--noop-tasks", type=int, default=200)
    parser.add_argument("--work", type=Path, help="folder of the caches (default: temporary)")
    parser.add_argument("--out", type=Path, help="write the measurements as JSON")
    args = parser.parse_args()

    from bayesirt import sweep

    work = args.work or Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    report: dict = {"spec": str(args.spec), "workers": args.workers, "cpus": os.cpu_count()}
    report["overhead"] = engine_overhead(args.workers, args.noop_tasks)
    print("engine overhead:", json.dumps(report["overhead"]), flush=True)

    start = time.perf_counter()
    local = sweep(args.spec, cache_dir=work / "local", n_workers=args.workers, progress=False)
    report["local_s"] = time.perf_counter() - start
    report["n_fits"] = local.attrs["n_fits"]
    print(f"local pool: {local.attrs['n_fits']} fits in {report['local_s']:.0f} s", flush=True)

    killed = interrupted_run(args.spec, work / "interrupted", args.workers, args.kill_after)
    start = time.perf_counter()
    resumed = sweep(
        args.spec, cache_dir=work / "interrupted", n_workers=args.workers, progress=False
    )
    report["resume_s"] = time.perf_counter() - start
    untouched = {k: v for k, v in _results(work / "interrupted").items() if k in killed["finished"]}
    report["interrupted"] = {
        "killed_after_s": killed["killed_after_s"],
        "finished_before_kill": len(killed["finished"]),
        "finished_files_untouched": untouched == killed["finished"],
        "resume_read_from_cache": resumed.attrs["n_cached"],
        "resume_fitted": resumed.attrs["n_fitted"],
    }
    print("interrupted and resumed:", json.dumps(report["interrupted"]), flush=True)

    start = time.perf_counter()
    on_dask = sweep(
        args.spec, engine="dask", cache_dir=work / "dask", n_workers=args.workers, progress=False
    )
    report["dask_s"] = time.perf_counter() - start
    print(f"dask LocalCluster: {on_dask.attrs['n_fits']} fits in {report['dask_s']:.0f} s")

    xr.testing.assert_identical(local.drop_attrs(), on_dask.drop_attrs())
    xr.testing.assert_identical(local.drop_attrs(), resumed.drop_attrs())
    report["identical"] = True
    report["converged"] = int(local["converged"].sum())
    print(f"identical results on all three runs; {report['converged']} fits converged")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    sys.exit(main())
