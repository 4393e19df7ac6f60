"""``bayesirt report FIT [FIT ...] --out report.html``: the diagnostics report of saved fits.

Writes one self-contained HTML file (:func:`bayesirt.reports.report.build_report`): data,
convergence with a failure banner, posterior predictive checks, flagged items, benchmark
quality, ranking, and a LOO comparison when several fits of the same data are given. Prints
the convergence diagnostics of every fit.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from bayesirt.cli._common import (
    UsageError,
    _add_defaulted,
    _add_out_option,
    _add_seed_option,
    _command,
    _defaults,
    _print_diagnostics,
)
from bayesirt.data.filters import REMOVED_COLUMNS
from bayesirt.inference import load_fit
from bayesirt.reports.report import build_report

__all__ = ["add_command"]

_DEFAULTS = _defaults(build_report)


def add_command(commands: Any) -> None:
    """Add ``report`` to the subcommands of ``bayesirt``."""
    cmd = _command(
        commands,
        "report",
        _run_report,
        "self-contained HTML diagnostics report of one or several saved fits",
        "Write an HTML report (no network needed to view it) on saved fits: "
        "data, convergence (with a banner when a fit failed its checks), posterior "
        "predictive checks, flagged items, benchmark quality, ranking with uncertainty, and "
        "a LOO comparison when several fits of the same data are given. The first fit is "
        "analysed in detail.",
    )
    cmd.add_argument(
        "fits", type=Path, nargs="+", metavar="FIT", help=".nc files written by 'bayesirt fit'"
    )
    _add_out_option(cmd, "HTML file to write (.html)", required=True)
    cmd.add_argument("--title", default=_DEFAULTS["title"], help="heading of the report")
    cmd.add_argument(
        "--filters",
        type=Path,
        metavar="CSV",
        help="removal record of the filters applied before fitting (columns "
        f"{', '.join(REMOVED_COLUMNS)}), shown in the data section",
    )
    _add_defaulted(
        cmd,
        "--se-max",
        _DEFAULTS["se_max"],
        "largest standard error that counts as precise measurement",
        type=float,
        metavar="SE",
    )
    _add_defaulted(
        cmd,
        "--alpha",
        _DEFAULTS["alpha"],
        "level of the item-fit p-value that flags an item",
        type=float,
    )
    _add_defaulted(
        cmd,
        "--draws",
        _DEFAULTS["n_draws"],
        "posterior draws of the predictive checks",
        type=int,
        metavar="N",
    )
    cmd.add_argument(
        "--item-groups",
        metavar="COL",
        help="item metadata column whose values group the items (a benchmark, a category, "
        "before/after a date): the person-fit section screens each subject's answers per group",
    )
    _add_seed_option(cmd, _DEFAULTS["random_seed"], "seed")


def _run_report(args: argparse.Namespace) -> None:
    if args.out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out must end in .html, got {str(args.out)!r}")
    names = [path.stem for path in args.fits]
    if len(set(names)) < len(names):
        names = [str(path) for path in args.fits]
    fits = {name: load_fit(path) for name, path in zip(names, args.fits, strict=True)}
    filters = None
    if args.filters is not None:
        filters = pd.read_csv(args.filters)
        missing = [c for c in REMOVED_COLUMNS if c not in filters.columns]
        if missing:
            raise ValueError(f"{args.filters}: the filter record lacks column(s) {missing}")
    for name, idata in fits.items():
        print(f"{name}:")
        _print_diagnostics(idata)
    build_report(
        fits,
        out=args.out,
        title=args.title,
        filters=filters,
        se_max=args.se_max,
        alpha=args.alpha,
        n_draws=args.draws,
        random_seed=args.seed,
        item_groups=args.item_groups,
    )
    print(f"report written to {args.out}")
