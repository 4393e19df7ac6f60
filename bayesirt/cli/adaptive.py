"""``bayesirt adaptive FIT --answers FILE``: replay recorded results as live adaptive tests.

Each subject of ``FILE`` takes an adaptive test (:class:`bayesirt.AdaptiveTest`) on the items
of the fit it has an answer for, its recorded answers standing in for the model; the tests
run one after another, sharing exposure control. Printed per subject: the items it took, why
it stopped, the ability, the expected accuracy on the fitted items and the rank among the
fitted subjects with their intervals, and its accuracy on all its answered items beside them
(what the whole run scored, to compare with the estimate).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import pandas as pd

from bayesirt.analysis.posterior import fitted_responses
from bayesirt.cli._common import (
    UsageError,
    _add_csv_option,
    _add_data_options,
    _add_fit_argument,
    _add_json_option,
    _add_seed_option,
    _command,
    _fitted_items_only,
    _note_written,
    _open_probability,
    _positive_float,
    _positive_int,
    _rate,
    _read_data,
    _whole,
    _write_csv,
)
from bayesirt.inference import load_fit
from bayesirt.tinybench import (
    SELECTORS,
    AdaptiveTest,
    ContentBalance,
    DecisionStopper,
    ExposureControl,
    ItemBank,
    RankWidthStopper,
    SdOrBudgetStopper,
    VarianceSelector,
)
from bayesirt.tinybench.adaptive import Stopper

__all__ = ["add_command"]


def add_command(commands: Any) -> None:
    """Add ``adaptive`` to the subcommands of ``bayesirt``."""
    cmd = _command(
        commands,
        "adaptive",
        _run_adaptive,
        "replay recorded results as adaptive tests against a saved fit",
        "Give every subject of --answers an adaptive test on the fit's items, its recorded "
        "answers standing in for the model, and print what each test concluded and after "
        "how many items. The test stops at a posterior sd (default 0.3), at a decision "
        "against a fitted subject (--beats), at a rank interval width (--rank-width), or "
        "at --max-items.",
    )
    _add_fit_argument(cmd)
    cmd.add_argument(
        "--answers",
        dest="data",
        required=True,
        metavar="FILE",
        help="results file or folder whose subjects take the tests",
    )
    stop = cmd.add_argument_group("when a test stops (one of sd, --beats, --rank-width)")
    stop.add_argument(
        "--target-sd",
        type=_positive_float,
        metavar="SD",
        help="posterior sd of the ability (default 0.3 unless --beats or --rank-width)",
    )
    stop.add_argument(
        "--beats",
        metavar="SUBJECT",
        help="stop once P(beats SUBJECT) >= --level or <= 1 - --level",
    )
    stop.add_argument(
        "--level",
        type=_open_probability,
        default=0.95,
        help="certainty of the --beats decision, in (0.5, 1) (default: %(default)s)",
    )
    stop.add_argument(
        "--rank-width",
        type=_whole,
        metavar="W",
        help="stop once the rank interval spans at most W places",
    )
    stop.add_argument("--max-items", type=_positive_int, metavar="N", help="item budget")
    stop.add_argument(
        "--min-items",
        type=_whole,
        default=5,
        metavar="N",
        help="answers before --beats or --rank-width may stop a test (default: %(default)s)",
    )
    choice = cmd.add_argument_group("which items")
    choice.add_argument(
        "--select",
        choices=list(SELECTORS),
        default="variance",
        help="next-item rule (default: %(default)s; with --beats it minimises the expected "
        "variance of the decision instead of θ's)",
    )
    choice.add_argument(
        "--balance",
        metavar="COLUMN",
        help="hold each test to the fit's shares of the item metadata COLUMN",
    )
    choice.add_argument(
        "--max-exposure",
        type=_rate,
        metavar="R",
        help="no item in more than a share R of the tests (restricted method)",
    )
    choice.add_argument(
        "--randomesque",
        type=_positive_int,
        default=1,
        metavar="K",
        help="choose at random among the K best items (default: %(default)s)",
    )
    cmd.add_argument(
        "--interval",
        type=_open_probability,
        default=0.9,
        help="mass of the intervals (default: %(default)s)",
    )
    _add_data_options(cmd)
    _add_seed_option(cmd, 0, "seed of random choices")
    _add_json_option(cmd)
    _add_csv_option(cmd)


def _run_adaptive(args: argparse.Namespace) -> None:
    stopper = _stopper(args)
    exposure = ExposureControl(max_rate=args.max_exposure, randomesque=args.randomesque)
    idata = load_fit(args.fit)
    bank = ItemBank.from_idata(idata)
    if args.beats is not None:
        bank.subject_code(args.beats)
    content = None
    if args.balance is not None:
        fitted = fitted_responses(idata)
        codes, labels = fitted.item_groups(args.balance)
        content = ContentBalance(
            pd.Series(np.asarray(labels)[codes], index=fitted.items.astype(str))
        )
    responses, unknown = _fitted_items_only(idata, _read_data(args), args)
    dense = pd.DataFrame(
        responses.dense(), index=responses.subjects.astype(str), columns=responses.items.astype(str)
    )
    beats = [] if args.beats is None else [args.beats]
    # the default selector aims at the decision when there is one to make
    select = (
        VarianceSelector(beats=args.beats) if beats and args.select == "variance" else args.select
    )
    rows, asked = [], {}
    for k, (subject, answers) in enumerate(dense.iterrows()):
        answered = answers.dropna()
        test = AdaptiveTest(
            bank,
            stop=stopper,
            select=select,
            content=content,
            exposure=exposure,
            items=answered.index,
            interval=args.interval,
            seed=args.seed + k,
            subject=subject,
        )
        test.run(lambda item, answered=answered: int(answered[item]))
        rows.append(
            {
                "subject": subject,
                **test.estimate(beats).to_dict(),
                "answered": len(answered),
                "full_accuracy": float(answered.mean()),
            }
        )
        asked[subject] = list(test.history["item"])
    table = pd.DataFrame(rows)
    order = ["subject", "n_items", "stopped", "answered", "full_accuracy"]
    table = table[order + [c for c in table.columns if c not in order]]
    _write_csv(table, args.csv)
    rates = exposure.rates()
    if args.json:
        payload = {
            "fit": str(args.fit),
            "stop": str(stopper),
            "subjects": [
                {**record, "items": asked[record["subject"]]}
                for record in json.loads(table.to_json(orient="records"))
            ],
            "max_exposure": float(rates.max()) if len(rates) else 0.0,
            "unknown_items": [str(label) for label in unknown],
        }
        print(json.dumps(payload, indent=2, allow_nan=False))
    else:
        print(
            f"{args.fit}: {len(table)} adaptive test(s) replayed from {args.data}, stopping "
            f"by {_describe(stopper)}; {args.interval:.0%} intervals; score: expected accuracy "
            f"on the fit's {bank.n_items} items; full_accuracy: on all the subject's answers"
        )
        print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        if len(rates):
            print(f"largest item exposure: {rates.max():.2f} of {exposure.n_tests} tests")
    _note_written(args.json, table=args.csv)


def _stopper(args: argparse.Namespace) -> Stopper:
    """The stopping rule the options ask for; a usage error where they conflict."""
    if args.beats is not None and args.rank_width is not None:
        raise UsageError("--beats and --rank-width are two stopping rules: give one")
    if args.target_sd is not None and (args.beats is not None or args.rank_width is not None):
        raise UsageError("--target-sd is a third stopping rule beside --beats/--rank-width")
    if args.level <= 0.5:
        raise UsageError(f"--level must be above 0.5, got {args.level}")
    if args.beats is not None:
        return DecisionStopper(
            args.beats, level=args.level, max_items=args.max_items, min_items=args.min_items
        )
    if args.rank_width is not None:
        return RankWidthStopper(
            args.rank_width, args.interval, max_items=args.max_items, min_items=args.min_items
        )
    return SdOrBudgetStopper(
        target_sd=0.3 if args.target_sd is None else args.target_sd, max_items=args.max_items
    )


def _describe(stopper: Stopper) -> str:
    budget = f" or {stopper.max_items} items" if stopper.max_items is not None else ""
    if isinstance(stopper, DecisionStopper):
        return (
            f"P(beats {stopper.subject}) outside ({1 - stopper.level:g}, {stopper.level:g}){budget}"
        )
    if isinstance(stopper, RankWidthStopper):
        return f"rank interval width <= {stopper.width}{budget}"
    return f"posterior sd <= {stopper.target_sd:g}{budget}"
