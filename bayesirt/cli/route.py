"""``bayesirt route FIT QUESTIONS``: send new questions to the fitted models.

``QUESTIONS`` is a table of new questions (an ``item`` column with their labels and the
fit's feature columns, made as the fitted items' features were; see
:mod:`bayesirt.data.features`), for a fit of an explanatory model. Each question goes to the
model with the highest posterior mean P(correct) or, with ``--min-p P`` and ``--costs``, to
the cheapest model whose P(correct) reaches ``P`` (:func:`bayesirt.analysis.route`). Printed:
the choice per question with its P(correct) interval, the routing's expected accuracy with
its interval, its cost, and with costs the accuracy-cost curve (``--plot`` draws it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from bayesirt.analysis.routing import route
from bayesirt.cli._common import (
    UsageError,
    _add_csv_option,
    _add_fit_argument,
    _add_json_option,
    _add_seed_option,
    _command,
    _note_written,
    _open_probability,
    _write_csv,
)
from bayesirt.data.features import read_item_features
from bayesirt.inference import load_fit

__all__ = ["add_command"]


def add_command(commands: Any) -> None:
    """Add ``route`` to the subcommands of ``bayesirt``."""
    cmd = _command(
        commands,
        "route",
        _run_route,
        "route new questions to the fitted models",
        "Choose, for every question of QUESTIONS, the fitted model most likely to answer it "
        "(posterior mean P(correct), predicted from the question's features by an "
        "explanatory fit), or with --min-p the cheapest model likely enough to; print the "
        "choices, the routing's expected accuracy and cost with intervals.",
    )
    _add_fit_argument(cmd, "a .nc fit of an explanatory model (2pl- or mirt-explanatory)")
    cmd.add_argument(
        "questions",
        type=Path,
        metavar="QUESTIONS",
        help="CSV of new questions: an 'item' column and the fit's feature columns",
    )
    cmd.add_argument(
        "--benchmark",
        metavar="COLUMN",
        help="column of QUESTIONS naming each question's benchmark (fits pooled by benchmark; "
        "default: each question of unknown origin)",
    )
    cmd.add_argument(
        "--costs",
        type=Path,
        metavar="FILE",
        help="CSV with columns 'subject' and 'cost' (one question's cost per model); the "
        "candidates are the costed models",
    )
    cmd.add_argument(
        "--min-p",
        type=_open_probability,
        metavar="P",
        help="route to the cheapest model with P(correct) >= P (needs --costs)",
    )
    cmd.add_argument(
        "--interval",
        type=_open_probability,
        default=0.9,
        help="mass of the intervals (default: %(default)s)",
    )
    cmd.add_argument("--plot", type=Path, metavar="PNG", help="draw the accuracy-cost curve")
    _add_seed_option(cmd, 0, "seed of the predicted items' draws")
    _add_json_option(cmd)
    _add_csv_option(cmd, "also write the choices as CSV")


def _run_route(args: argparse.Namespace) -> None:
    if args.min_p is not None and args.costs is None:
        raise UsageError("--min-p needs --costs (the cheapest model likely enough)")
    if args.plot is not None and args.costs is None:
        raise UsageError("--plot draws the accuracy-cost curve, which needs --costs")
    costs = None if args.costs is None else _read_costs(args.costs)
    table = pd.read_csv(args.questions)
    if "item" not in table.columns:
        raise UsageError(
            f"QUESTIONS: {args.questions} has no 'item' column with the questions' labels (its "
            f"columns: {', '.join(map(str, table.columns))})"
        )
    benchmark = None
    if args.benchmark is not None:
        if args.benchmark not in table.columns:
            raise UsageError(
                f"--benchmark: no column {args.benchmark!r} in {args.questions} (its columns: "
                f"{', '.join(map(str, table.columns))})"
            )
        benchmark = table.set_index("item")[args.benchmark]
        table = table.drop(columns=args.benchmark)
    features = read_item_features(table)
    idata = load_fit(args.fit)
    routed = route(
        idata,
        features,
        costs=costs,
        policy="best" if args.min_p is None else "cheapest",
        min_p=args.min_p,
        benchmark=benchmark,
        interval=args.interval,
        random_seed=args.seed,
    )
    _write_csv(routed.choices.reset_index(), args.csv)
    if args.plot is not None:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        routed.plot_curve().figure.savefig(args.plot, dpi=120, bbox_inches="tight")
    if args.json:
        print(json.dumps(routed.to_dict(), indent=2, allow_nan=False))
    else:
        _print_routing(routed)
    _note_written(args.json, choices=args.csv, plot=args.plot)


def _read_costs(path: Path) -> pd.Series:
    table = pd.read_csv(path)
    missing = [c for c in ("subject", "cost") if c not in table.columns]
    if missing:
        raise UsageError(
            f"--costs: {path} needs columns 'subject' and 'cost'; missing {', '.join(missing)}"
        )
    if table["subject"].duplicated().any():
        repeated = table.loc[table["subject"].duplicated(), "subject"].astype(str).tolist()
        raise UsageError(f"--costs: repeated subject(s) {', '.join(repeated)} in {path}")
    return table.set_index(table["subject"].astype(str))["cost"]


def _print_routing(routed) -> None:
    shown = routed.choices.copy()
    for column in ("p", "p_lo", "p_hi", "p_runner_up"):
        shown[column] = shown[column].map("{:.3f}".format)
    print(shown.to_string())
    acc = routed.accuracy
    print(
        f"\nexpected accuracy of the routing: {acc['mean']:.3f} "
        f"[{acc['lo']:.3f}, {acc['hi']:.3f}] ({routed.interval:.0%} interval)"
    )
    if routed.cost is not None:
        print(
            f"cost: {routed.cost['total']:.4g} in all, {routed.cost['per_question']:.4g} "
            "per question"
        )
        print("\naccuracy-cost curve:")
        print(routed.curve.to_string(index=False, float_format="{:.3f}".format))
    if routed.policy == "cheapest" and routed.choices["fallback"].any():
        n = int(routed.choices["fallback"].sum())
        print(
            f"\n{n} question(s) had no model with P(correct) >= {routed.min_p}: most likely taken"
        )
