"""``bayesirt sweep SPEC``: a grid of fits and ranking analyses (:func:`bayesirt.sweep`).

Runs the grid on a local process pool or on Dask distributed, resuming from the cache, prints
one line per fit (convergence, the top subjects, Kendall's τ and the number of reordered
pairs against the first fit) and writes the gathered results as netCDF with ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from bayesirt.analysis.scenarios import rank_stability
from bayesirt.cli._common import (
    UsageError,
    _add_defaulted,
    _add_out_option,
    _add_progress_option,
    _command,
    _defaults,
    _print_error,
    _progress,
)
from bayesirt.sweep import DEFAULT_CACHE_DIR, ENGINES, SweepError, sweep, sweep_scenarios

__all__ = ["add_command"]

#: Subjects named per fit in the printed summary.
TOP_SHOWN = 3


def add_command(commands: Any) -> None:
    """Add ``sweep`` to the subcommands of ``bayesirt``."""
    cmd = _command(
        commands,
        "sweep",
        _run_sweep,
        "run a grid of fits and ranking analyses, cached, on a process pool or Dask",
        "Fit every point of the grid declared in a TOML spec (data sources, item "
        "subsets and bootstrap replicates, models, priors, seeds), rank the subjects of each "
        "fit under the spec's scenarios, and gather the results; finished points are cached, "
        "so an interrupted sweep resumes where it stopped.",
    )
    cmd.add_argument("spec", type=Path, metavar="SPEC", help="the sweep spec (.toml)")
    _add_defaulted(
        cmd,
        "--engine",
        _defaults(sweep)["engine"],
        "local process pool or Dask distributed",
        choices=list(ENGINES),
    )
    cmd.add_argument(
        "--address",
        metavar="ADDR",
        help="Dask scheduler of an existing cluster, e.g. tcp://host:8786 (default: start a "
        "local cluster on 127.0.0.1)",
    )
    cmd.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes of the pool or local cluster (default: the CPU count)",
    )
    _add_defaulted(
        cmd,
        "--cache-dir",
        DEFAULT_CACHE_DIR,
        "where fits and results are cached",
        type=Path,
        metavar="DIR",
    )
    _add_out_option(cmd, "write the gathered results here (.nc)")
    _add_progress_option(cmd, "the progress bar")


def _run_sweep(args: argparse.Namespace) -> None:
    if args.out is not None and args.out.suffix != ".nc":
        raise UsageError(f"--out must end in .nc, got {str(args.out)!r}")
    try:
        result = sweep(
            args.spec,
            engine=args.engine,
            address=args.address,
            cache_dir=args.cache_dir,
            n_workers=args.workers,
            progress=_progress(args),
        )
    except SweepError as err:
        _print_error(err)
        raise SystemExit(1) from err
    attrs = result.attrs
    print(
        f"sweep of {attrs['n_fits']} fits on the {attrs['engine']} engine: {attrs['n_fitted']} "
        f"fitted, {attrs['n_analysed']} analysed, {attrs['n_cached']} read from "
        f"{args.cache_dir}"
    )
    print(_summary(result).to_string())
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        result.to_netcdf(args.out, engine="h5netcdf")
        print(f"results written to {args.out}")


def _summary(result) -> pd.DataFrame:
    """One row per fit: convergence, best subjects by mean rank of θ, agreement with fit 1."""
    theta = result["mean_rank"].sel(scenario="theta")
    stability = rank_stability(sweep_scenarios(result))
    reference = stability.attrs["reference"]
    subjects = result["subject"].values
    tau = stability["kendall_tau"].sel(scenario2=reference).values
    rows = []
    for k, label in enumerate(result["fit"].values):
        ranks = theta.values[k]
        order = [subjects[j] for j in pd.Series(ranks).dropna().sort_values(kind="stable").index]
        rows.append(
            {
                "fit": label,
                "converged": "yes" if result["converged"].values[k] else "NO",
                f"top {TOP_SHOWN} (mean rank of θ)": ", ".join(map(str, order[:TOP_SHOWN])),
                "tau vs fit 1": round(float(tau[k]), 3),
                "pairs reordered": int(stability["n_flips"].values[k]),
            }
        )
    return pd.DataFrame(rows).set_index("fit")
