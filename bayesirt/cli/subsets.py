"""``bayesirt select`` and ``bayesirt evaluate-subsets``: tiny benchmarks on the command line.

``select FIT``
    Choose ``--budget`` items of a saved fit with a selection method and print them with
    their weights (:func:`bayesirt.analysis.select_items`).
``evaluate-subsets SOURCE``
    Hold out subjects, fit (or take a saved fit), and score every method × estimator ×
    budget × seed by the error of the estimated full accuracy of the held-out subjects
    (:func:`bayesirt.analysis.evaluate_subsets`); print the error-vs-budget tables, write
    JSON, CSV or a plot.

Method names, estimators and adaptive selectors are read from the library's registries, the
options of each selection method and the numeric defaults from the signatures of the functions
wrapped, and the data and inference options of ``evaluate-subsets`` are those of
``bayesirt fit`` itself, so that the command line cannot drift from the library.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import json
import sys
import typing
from pathlib import Path
from typing import Any

from bayesirt.cli._common import (
    ADVI_OPTIONS,
    DATA_OPTIONS,
    NUTS_OPTIONS,
    ModelOption,
    UsageError,
    _add_csv_option,
    _add_defaulted,
    _add_fit_argument,
    _add_json_option,
    _add_out_option,
    _add_seed_option,
    _check_settings,
    _chosen_model,
    _command,
    _defaults,
    _fit_path,
    _fit_settings,
    _flag,
    _method_label,
    _model_arguments,
    _note_written,
    _positive_int,
    _print_diagnostics,
    _read_data,
    _save,
    _write_csv,
)
from bayesirt.data import Responses
from bayesirt.inference import fit, load_fit
from bayesirt.tinybench import (
    ADAPTIVE,
    ESTIMATORS,
    SELECTION_METHODS,
    SELECTORS,
    evaluate_subsets,
    select_items,
)

__all__ = ["add_command"]

#: The inference options of ``bayesirt fit`` that ``evaluate-subsets`` takes over unchanged
#: for the fit of the training subjects, which a saved fit makes meaningless.
INFERENCE_OPTIONS = (
    "model",
    "model_option",
    "pool_by",
    "method",
    *NUTS_OPTIONS,
    *ADVI_OPTIONS,
    "draws",
    "chains",
    "seed",
)
#: All the options of ``bayesirt fit`` that ``evaluate-subsets`` takes over: the data read
#: and the fit of the training subjects.
FIT_OPTIONS = (*DATA_OPTIONS, *INFERENCE_OPTIONS, "progress")
_SELECT_DEFAULTS = _defaults(select_items)
_EVALUATE_DEFAULTS = _defaults(evaluate_subsets)


def _listed(name: str) -> str:
    return " ".join(map(str, _EVALUATE_DEFAULTS[name]))


def add_command(commands: Any) -> None:
    """Add ``select`` and ``evaluate-subsets`` to the subcommands of ``bayesirt``."""
    _add_select_command(commands)
    _add_evaluate_command(commands)


# --------------------------------------------------------------- method options
def _method_options() -> dict[str, dict[str, Any]]:
    """Keyword options of every selection method: name -> type, default, methods using it."""
    options: dict[str, dict[str, Any]] = {}
    for method, function in SELECTION_METHODS.items():
        hints = typing.get_type_hints(function)
        for name, parameter in inspect.signature(function).parameters.items():
            if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
                continue
            kinds = [t for t in typing.get_args(hints[name]) or (hints[name],) if t is not None]
            kind = next(t for t in kinds if t is not type(None))
            entry = options.setdefault(
                name, {"type": kind, "default": parameter.default, "methods": []}
            )
            entry["methods"].append(method)
    return options


def _add_method_options(cmd: argparse.ArgumentParser) -> None:
    group = cmd.add_argument_group(
        "selection method options (see bayesirt.analysis.select_items; each applies to the "
        "methods named)"
    )
    for name, entry in _method_options().items():
        kind = entry["type"]
        default = "automatic" if entry["default"] is None else entry["default"]
        extra = {"nargs": "+", "type": str} if kind is list else {"type": kind}
        group.add_argument(
            _flag(name),
            metavar=name.upper(),
            help=f"{', '.join(entry['methods'])} (default: {default})",
            **extra,
        )


def _given_method_options(args: argparse.Namespace, methods: list[str]) -> dict[str, dict]:
    """``method_options`` from the command line; an option for no method asked is an error."""
    chosen: dict[str, dict] = {}
    for name, entry in _method_options().items():
        value = getattr(args, name)
        if value is None:
            continue
        users = [m for m in entry["methods"] if m in methods]
        if not users:
            raise UsageError(f"{_flag(name)}: only for method(s) {', '.join(entry['methods'])}")
        for method in users:
            chosen.setdefault(method, {})[name] = value
    return chosen


# ------------------------------------------------------------------------ select
def _add_select_command(commands: Any) -> None:
    cmd = _command(
        commands,
        "select",
        _run_select,
        "choose a few items of a saved fit to stand for the whole benchmark",
        "Choose --budget items of a saved fit with a selection method; print them "
        "with their weights (the weighted mean of the answers stands for the full accuracy).",
    )
    _add_fit_argument(cmd)
    _add_defaulted(
        cmd,
        "--method",
        _SELECT_DEFAULTS["method"],
        "selection method",
        choices=list(SELECTION_METHODS),
    )
    cmd.add_argument(
        "--budget", type=_positive_int, required=True, metavar="K", help="number of items"
    )
    _add_seed_option(cmd, _SELECT_DEFAULTS["seed"])
    _add_json_option(cmd)
    _add_csv_option(cmd, "also write the items as CSV")
    _add_method_options(cmd)


def _run_select(args: argparse.Namespace) -> None:
    options = _given_method_options(args, [args.method]).get(args.method, {})
    idata = load_fit(args.fit)
    selection = select_items(
        idata, method=args.method, budget=args.budget, seed=args.seed, **options
    )
    table = selection.to_frame()
    _write_csv(table, args.csv)
    if args.json:
        print(json.dumps(selection.to_dict(), indent=2, allow_nan=False))
    else:
        print(
            f"{args.fit}: {selection.method} selection of {selection.budget} of "
            f"{selection.n_candidates} items (seed {selection.seed})"
        )
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        scalars = [
            f"{key.replace('_', ' ')}: {value:.4g}"
            for key, value in selection.details.items()
            if isinstance(value, int | float)
        ]
        if scalars:
            print("; ".join(scalars))
    _note_written(args.json, items=args.csv)


# --------------------------------------------------------------- evaluate-subsets
def _add_evaluate_command(commands: Any) -> None:
    fit_parser = commands.choices["fit"]
    defaults = {name: fit_parser.get_default(name) for name in INFERENCE_OPTIONS}
    cmd = _command(
        commands,
        "evaluate-subsets",
        functools.partial(_run_evaluate, fit_defaults=defaults),
        "how well do tiny benchmarks recover the full scores of held-out subjects",
        "Hold out subjects, fit the others (or take a saved fit), choose items "
        "with every method at every budget and seed, estimate the held-out subjects' full "
        "accuracy with every estimator, and print the mean absolute error, Kendall's tau and "
        "the coverage of the Bayesian intervals against the budget.",
    )
    cmd.add_argument(
        "data",
        metavar="SOURCE",
        help="benchmark results (as DATA of 'bayesirt fit': a file or folder, 'example', "
        "'dataset:NAME'), split into training and held-out subjects; or a saved fit (.nc) "
        "whose subjects are the training set, with --held-out",
    )
    cmd.add_argument(
        "--held-out",
        metavar="DATA",
        help="with a saved fit: results of subjects not in it (subjects in the fit are "
        "ignored); the data options apply to it",
    )
    harness = cmd.add_argument_group("evaluation (see bayesirt.analysis.evaluate_subsets)")
    harness.add_argument(
        "--methods",
        nargs="+",
        choices=[*SELECTION_METHODS, ADAPTIVE],
        default=list(_EVALUATE_DEFAULTS["methods"]),
        metavar="METHOD",
        help=f"selection methods, from {', '.join([*SELECTION_METHODS, ADAPTIVE])} "
        f"(default: {_listed('methods')})",
    )
    harness.add_argument(
        "--estimators",
        nargs="+",
        choices=list(ESTIMATORS),
        default=list(_EVALUATE_DEFAULTS["estimators"]),
        metavar="NAME",
        help=f"score estimators, from {', '.join(ESTIMATORS)} (default: {_listed('estimators')})",
    )
    harness.add_argument(
        "--budgets",
        nargs="+",
        type=_positive_int,
        metavar="K",
        help="numbers of items, each below the benchmark's (default: those of "
        f"{_listed('budgets')} below it)",
    )
    harness.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=list(_EVALUATE_DEFAULTS["seeds"]),
        metavar="S",
        help=f"selection seeds (default: {_listed('seeds')})",
    )
    _add_defaulted(
        harness,
        "--split",
        _EVALUATE_DEFAULTS["split"],
        "share of the subjects held out for testing",
        type=float,
        metavar="SHARE",
    )
    harness.add_argument(
        "--split-by",
        metavar="COLUMN",
        help="hold out the last subjects in the order of this subject metadata column (e.g. "
        "a release date) instead of a random share",
    )
    _add_defaulted(
        harness,
        "--split-seed",
        _EVALUATE_DEFAULTS["split_seed"],
        "seed of the random split and subsamples",
        type=int,
    )
    _add_defaulted(
        harness,
        "--calibration-share",
        _EVALUATE_DEFAULTS["calibration_share"],
        "share of the training subjects kept out of the fit to calibrate the Bayesian "
        "intervals; 0 for the model's own intervals",
        type=float,
        metavar="SHARE",
    )
    _add_defaulted(
        harness,
        "--max-test",
        _EVALUATE_DEFAULTS["max_test_subjects"],
        "at most N test (and N calibration) subjects; 0 for all",
        type=int,
        metavar="N",
    )
    _add_defaulted(
        harness,
        "--bayes-draws",
        _EVALUATE_DEFAULTS["bayes_draws"],
        "posterior draws used by the estimators",
        type=_positive_int,
        metavar="N",
    )
    _add_defaulted(
        harness,
        "--interval",
        _EVALUATE_DEFAULTS["interval"],
        "mass of the Bayesian credible intervals",
        type=float,
        metavar="MASS",
    )
    _add_defaulted(
        harness,
        "--adaptive-selector",
        _EVALUATE_DEFAULTS["adaptive_selector"],
        "next-item rule of the adaptive tests",
        choices=list(SELECTORS),
    )
    output = cmd.add_argument_group("output")
    _add_json_option(output, "print the full result as JSON")
    _add_csv_option(output, "write the per-seed table as CSV")
    output.add_argument(
        "--plot", type=Path, metavar="PATH", help="draw the MAE against the budget to PATH"
    )
    _add_out_option(output, "also save the fit of the training subjects here (.nc)")
    _add_method_options(cmd)
    # The data and inference options are those of `bayesirt fit`: the same argparse actions,
    # added to this parser as argparse's own `parents=` mechanism does.
    data_group = cmd.add_argument_group("data options (see 'bayesirt fit --help')")
    fit_group = cmd.add_argument_group(
        "fit of the training subjects (SOURCE data only; see 'bayesirt fit --help')"
    )
    for action in fit_parser._actions:
        if action.dest in FIT_OPTIONS:
            group = data_group if action.dest in DATA_OPTIONS else fit_group
            group._add_action(action)


def _run_evaluate(args: argparse.Namespace, *, fit_defaults: dict[str, Any]) -> None:
    if args.plot is not None:
        from bayesirt.reports import plot_subset_errors  # matplotlib only when drawing

    method_options = _given_method_options(args, args.methods)
    if args.out is not None:
        _fit_path(args.out, overwrite=True)
    calibration = args.calibration_share or None
    info = sys.stderr if args.json else sys.stdout
    if str(args.data).endswith(".nc"):
        source, responses, n_items = _given_fit(args, fit_defaults)
    else:
        if args.held_out is not None:
            raise UsageError("--held-out: only with a saved fit as SOURCE")
        model = _chosen_model(args)
        responses = _read_data(args)
        n_items = responses.n_items
        source = _training_fit(args, model, info)
    budgets = args.budgets
    if budgets is None:
        budgets = [b for b in _EVALUATE_DEFAULTS["budgets"] if b < n_items]
        if not budgets:
            raise UsageError(f"the benchmark has only {n_items} items: choose --budgets")
    too_large = [b for b in budgets if b >= n_items]
    if too_large:
        raise UsageError(
            f"--budgets {' '.join(map(str, too_large))}: a budget must be below the "
            f"{n_items} items of the benchmark"
        )
    split_order = None
    if args.split_by is not None:
        split_order = _order_by(responses, args.split_by)
    with contextlib.redirect_stdout(info):
        result = evaluate_subsets(
            responses,
            fit=source,
            methods=args.methods,
            estimators=args.estimators,
            budgets=budgets,
            seeds=args.seeds,
            split=args.split,
            split_order=split_order,
            split_seed=args.split_seed,
            calibration_share=calibration,
            max_test_subjects=args.max_test or None,
            bayes_draws=args.bayes_draws,
            interval=args.interval,
            method_options=method_options,
            adaptive_selector=args.adaptive_selector,
        )
    _write_csv(result.table, args.csv)
    if args.plot is not None:
        ax = plot_subset_errors(result)
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        ax.figure.savefig(args.plot, dpi=120, bbox_inches="tight")
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    else:
        print(_format_evaluation(result))
    _note_written(args.json, table=args.csv, plot=args.plot)


def _given_fit(args: argparse.Namespace, defaults: dict[str, Any]) -> tuple[Any, Responses, int]:
    """A saved fit as SOURCE: the fit, the held-out responses and the number of items."""
    changed = [_flag(name) for name in INFERENCE_OPTIONS if getattr(args, name) != defaults[name]]
    changed += ["--split-by"] if args.split_by is not None else []
    if changed:
        raise UsageError(f"{', '.join(changed)}: only when SOURCE is data, not a saved fit")
    if args.held_out is None:
        raise UsageError("with a saved fit as SOURCE, --held-out DATA names the held-out subjects")
    if args.out is not None:
        raise UsageError("--out: only when SOURCE is data (the fit is already saved)")
    idata = load_fit(args.data)
    data_args = argparse.Namespace(**{**vars(args), "data": args.held_out})
    responses = _read_data(data_args)
    return idata, responses, len(idata.posterior["item"])


def _training_fit(args: argparse.Namespace, model: tuple[str, list[ModelOption]], info) -> Any:
    """``fit(training_responses)`` with the options of ``bayesirt fit``; ``model``: the model
    and its options (:func:`~bayesirt.cli._common._chosen_model`)."""
    settings = _fit_settings(args)
    _check_settings(args.method, settings)

    def fit_training(training: Responses):
        print(
            f"fitting the {args.model.upper()} by {_method_label(args.method, settings)} to the "
            f"training subjects: {training!r}",
            file=info,
        )
        idata = fit(training, **_model_arguments(args, training, model), **settings)
        with contextlib.redirect_stdout(info):
            _print_diagnostics(idata)
            if args.out is not None:
                _save(idata, args.out, overwrite=True)
        return idata

    return fit_training


def _order_by(responses: Responses, column: str) -> list[str]:
    meta = responses.subject_meta
    if meta is None or column not in meta:
        known = ", ".join(map(str, meta.columns)) if meta is not None and len(meta.columns) else ""
        raise UsageError(
            f"--split-by {column!r}: no such subject metadata column"
            + (
                f" (the data have {known})"
                if known
                else " (the data have none; see --subject-meta)"
            )
        )
    values = meta[column].reindex(responses.subjects)
    if values.isna().any():
        missing = list(values.index[values.isna()][:3])
        raise UsageError(f"--split-by {column!r}: no value for subject(s) {missing}")
    return [str(s) for s in values.sort_values(kind="stable").index]


def _format_evaluation(result) -> str:
    s = result.settings
    head = (
        f"{s['n_train']} training, {s.get('n_calibration', 0)} calibration and {s['n_test']} "
        f"test subjects, {s['n_items']} items; split {s['split']}; seeds {s['seeds']}"
    )
    blocks = [head]
    titles = {
        "mae": "mean absolute error of the estimated full accuracy (columns: items)",
        "kendall_tau": "Kendall tau of the estimated ranking of the test subjects",
        "coverage": f"coverage of the Bayesian {s['interval']:.0%} intervals (calibrated)",
        "coverage_model": f"coverage of the model's own {s['interval']:.0%} intervals",
        "interval_width": "mean width of the calibrated intervals",
        "interval_width_model": "mean width of the model's own intervals",
    }
    for metric, title in titles.items():
        table = result.pivot(metric)
        if table.empty:
            continue
        fmt = "{:.4f}" if metric == "mae" else "{:.3f}" if metric == "kendall_tau" else "{:.2f}"
        shown = table.map(fmt.format)
        shown.columns = [str(c) for c in shown.columns]
        blocks.append(f"\n{title}:\n{shown.to_string(sparsify=False)}")
    return "\n".join(blocks)
