"""The ``bayesirt`` command line: a thin layer over the public API.

Subcommands
-----------
``fit DATA``
    Read benchmark results (:func:`bayesirt.load_responses`, the shipped example, or a public
    dataset), fit a model (:func:`bayesirt.inference.fit`), print its diagnostics and save it
    with its card (:func:`bayesirt.inference.save_fit`).
``score FIT DATA``
    New subjects' results scored against a saved fit (:func:`bayesirt.score_new`): ability,
    rank among the fitted subjects and P(beats) the nearest, as text, JSON or CSV.
``summary FIT``
    Abilities (best first) with intervals, item parameters and diagnostics of a saved fit
    (:func:`bayesirt.summarize_fit`), as text or JSON.
``rank FIT``
    The uncertainty-aware ranking of a saved fit (:func:`bayesirt.rank`), as a table, JSON
    or CSV.
``robustness FIT``
    Local dependence between questions (Yen's Q3), its tests, clusters of questions and the
    ranking under other distributions of interest
    (:func:`bayesirt.analysis.robustness.assess_robustness`).
``demo``
    Fit the 2PL by NUTS to the shipped example leaderboard, print its ranking and save it.

Choices offered on the command line (models, methods, samplers, formats, ...) are read from
the package's registries, and numeric defaults from the signatures of the functions wrapped,
so the command line cannot drift from the library. Errors reach the user as one line,
``bayesirt: error: ...``, with a non-zero exit status; convergence problems as
``bayesirt: warning: ...`` lines that are never suppressed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import inspect
import json
import math
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import arviz as az
import pandas as pd
import xarray as xr

from bayesirt import __version__
from bayesirt.analysis import rank, rank_table, rank_to_json, score_new
from bayesirt.analysis.ranking import RANK_BY
from bayesirt.analysis.robustness import assess_robustness, robustness_to_json
from bayesirt.analysis.scoring import score_to_json
from bayesirt.data import (
    FORMATS,
    Responses,
    ResponsesError,
    ResponsesWarning,
    datasets,
    load_example,
    load_responses,
)
from bayesirt.data.example import EXAMPLE_SETTINGS
from bayesirt.data.validation import DUPLICATE_RULES, describe_values
from bayesirt.features import read_item_features, text_features
from bayesirt.inference import (
    METHODS,
    SAMPLERS,
    ConvergenceWarning,
    fit,
    fit_info,
    fit_model,
    load_fit,
    save_fit,
)
from bayesirt.inference.diagnostics import BFMI_MIN, ESS_MIN, RHAT_MAX
from bayesirt.inference.fit import BLAS_WARNING, FIXED_DRAWS
from bayesirt.inference.io import DEFAULT_FIT_DIR, FitFileError, card_path, check_fit_path
from bayesirt.inference.settings import SettingError, check_fit_settings
from bayesirt.models import MODELS, ExplanatoryTwoPL, TwoPL
from bayesirt.summary import DEFAULT_INTERVAL, NON_DISCRIMINATING_A, summarize_fit

__all__ = ["build_parser", "main"]

#: ``DATA`` argument naming the example leaderboard shipped with the package.
EXAMPLE = "example"
#: Prefix of a ``DATA`` argument naming a public dataset, e.g. ``dataset:chembench``.
DATASET_PREFIX = "dataset:"
#: Options of ``fit`` that are passed to :func:`bayesirt.load_responses` when given.
DATA_OPTIONS = (
    "format",
    "subject",
    "item",
    "response",
    "threshold",
    "duplicates",
    "item_meta",
    "subject_meta",
    "drop_constant",
    "sep",
    "sample_filter",
    "metric",
    "model_name",
)
#: Data options given once for every lm-eval task (run), or repeated as KEY=VALUE.
KEYED_DATA_OPTIONS = {"sample_filter": "task", "metric": "task", "model_name": "run folder"}
#: An argument of :func:`bayesirt.load_responses` set by a data option, as the data readers'
#: messages name it: ``threshold=``, ``drop_constant=True``, ``metric={'task': 'value'}``, or
#: followed by a value (``duplicates='mean'``; the empty group ``value_follows`` matches).
_ARGUMENT_IN_MESSAGE = re.compile(
    r"\b(?P<name>" + "|".join(DATA_OPTIONS) + r")="
    r"(?:(?P<true>True)\b|\{'(?P<key>[^']*)': '(?P<value>[^']*)'\}"
    r"|(?P<value_follows>(?=[\w'\"<\[{-])))?"
)
#: Options of ``fit`` that only NUTS uses, and the one only ADVI uses.
NUTS_OPTIONS = ("sampler", "tune", "target_accept", "max_draws", "max_seconds")
ADVI_OPTIONS = ("advi_iterations",)
#: NUTS settings of ``bayesirt demo`` (the defaults: sample until converged), and of
#: ``bayesirt demo --quick`` (a smoke run).
DEMO_SETTINGS: dict[str, int] = {}
QUICK_DEMO_SETTINGS = {"draws": 100, "tune": 100, "chains": 2}
DEMO_FIT = DEFAULT_FIT_DIR / "demo.nc"

_FIT_DEFAULTS = {
    name: parameter.default
    for function in (fit, fit_model)
    for name, parameter in inspect.signature(function).parameters.items()
    if parameter.default is not inspect.Parameter.empty
}
_RANK_TOP_K = tuple(inspect.signature(rank).parameters["top_k"].default)


#: Modules of ``bayesirt.cli`` that each add one subcommand through ``add_command(commands)``
#: (the subparsers object); they may use the helpers of this module.
COMMAND_MODULES: tuple[str, ...] = ("sweep", "subsets", "report")


class UsageError(Exception):
    """A command line that the parser rejects; the message says what is wrong."""


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises :class:`UsageError` instead of printing usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# ---------------------------------------------------------------------- entry point
def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``bayesirt ARGS``; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 on a malformed command line, 1 on any other error, 130 when
        interrupted, 141 when the reader of the output closed it early (``| head``).
        Errors are printed as one line on stderr, never as a traceback.
    """
    parser = build_parser()
    data_options = False
    try:
        args = parser.parse_args(argv)
        data_options = all(key in vars(args) for key in DATA_OPTIONS)
        with _user_facing_warnings(data_options=data_options):
            args.run(args)
    except SystemExit as done:  # --help and --version
        return done.code if isinstance(done.code, int) else 0
    except BrokenPipeError:  # the reader left early (e.g. `| head`): stop quietly
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except UsageError as err:
        _print_error(err)
        return 2
    except (ValueError, OSError, ImportError, datasets.DatasetUnavailableError) as err:
        _print_error(err, data_options=data_options)
        return 1
    except KeyboardInterrupt:
        print("bayesirt: interrupted", file=sys.stderr)
        return 130
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``bayesirt`` command and its subcommands."""
    parser = _Parser(
        prog="bayesirt",
        description="Bayesian item response theory for LLM benchmark results.",
    )
    parser.add_argument("--version", action="version", version=f"bayesirt {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_fit_command(commands)
    _add_score_command(commands)
    _add_summary_command(commands)
    _add_rank_command(commands)
    _add_robustness_command(commands)
    _add_demo_command(commands)
    for name in COMMAND_MODULES:
        importlib.import_module(f"bayesirt.cli.{name}").add_command(commands)
    return parser


# ----------------------------------------------------------------------- commands
def _add_fit_command(commands: Any) -> None:
    cmd = commands.add_parser(
        "fit",
        help="fit a model to benchmark results and save it",
        description="Fit an IRT model to benchmark results; print its diagnostics; save the "
        "fit (netCDF) and its card (Markdown) beside it.",
    )
    cmd.add_argument(
        "data",
        metavar="DATA",
        help=f"results file or folder (formats: {', '.join(FORMATS)}), '{EXAMPLE}' for the "
        f"shipped example leaderboard, or '{DATASET_PREFIX}NAME' for a public dataset "
        f"({', '.join(datasets.DATASETS)})",
    )
    _add_data_options(cmd)

    model = cmd.add_argument_group("model")
    model.add_argument(
        "--model",
        type=str.lower,
        choices=list(MODELS),
        default=_FIT_DEFAULTS["model"],
        help="IRT model (default: %(default)s)",
    )
    model.add_argument(
        "--pool-by",
        metavar="COL",
        help="item metadata column whose groups get partially pooled item means",
    )
    model.add_argument(
        "--item-features",
        metavar="FILE|text[:COL]",
        help="fit the explanatory 2PL (2pl-explanatory): item intercepts regressed on item "
        "features, from a CSV (an 'item' column and numeric feature columns) or, with "
        "'text[:COL]', TF-IDF + SVD features of the item metadata text column COL "
        "(default: text)",
    )

    inference = cmd.add_argument_group("inference")
    inference.add_argument(
        "--method",
        choices=list(METHODS),
        default=_FIT_DEFAULTS["method"],
        help="NUTS sampling or ADVI approximation (default: %(default)s)",
    )
    inference.add_argument(
        "--sampler",
        choices=list(SAMPLERS),
        help=f"NUTS implementation (default: {_FIT_DEFAULTS['sampler']})",
    )
    inference.add_argument(
        "--draws",
        type=int,
        help="posterior draws per chain (default: NUTS by nutpie samples until the "
        "diagnostics pass, within --max-draws and --max-seconds)",
    )
    inference.add_argument(
        "--max-draws",
        type=int,
        metavar="N",
        help=f"most draws per chain of a run that samples until converged "
        f"(default: {_FIT_DEFAULTS['max_draws']})",
    )
    inference.add_argument(
        "--max-seconds",
        type=float,
        metavar="S",
        help="most seconds of sampling, tuning included, of a run that samples until "
        "converged (default: no limit)",
    )
    inference.add_argument(
        "--chains",
        type=int,
        default=_FIT_DEFAULTS["chains"],
        help="number of chains (default: %(default)s)",
    )
    inference.add_argument(
        "--tune",
        type=int,
        help=f"NUTS tuning steps per chain (default: {_FIT_DEFAULTS['tune']})",
    )
    inference.add_argument(
        "--target-accept",
        type=float,
        metavar="P",
        help=f"NUTS target acceptance rate (default: {_FIT_DEFAULTS['target_accept']})",
    )
    inference.add_argument(
        "--advi-iterations",
        type=int,
        metavar="N",
        help=f"most ADVI optimisation steps (default: {_FIT_DEFAULTS['advi_iterations']})",
    )
    inference.add_argument(
        "--log-likelihood",
        action="store_true",
        help="store the pointwise log-likelihood (for LOO)",
    )
    _add_seed_and_progress(inference)
    cmd.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help=f"fit file to write, ending in .nc (default: {DEFAULT_FIT_DIR}/DATA-MODEL.nc)",
    )
    cmd.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing fit at --out (default: keep it and stop)",
    )
    cmd.set_defaults(run=_run_fit)


def _add_data_options(cmd: argparse.ArgumentParser) -> None:
    """The options that say how to read ``DATA`` (:data:`DATA_OPTIONS`)."""
    data = cmd.add_argument_group("data options (files only; see bayesirt.load_responses)")
    data.add_argument("--format", choices=list(FORMATS), help="layout (default: inferred)")
    data.add_argument("--subject", metavar="COL", help="subject column (default: subject)")
    data.add_argument("--item", metavar="COL", help="item column of a long table (default: item)")
    data.add_argument(
        "--response", metavar="COL", help="response column of a long table (default: response)"
    )
    data.add_argument(
        "--threshold",
        type=_finite_float,
        metavar="X",
        help="binarise graded scores: correct if score >= X",
    )
    data.add_argument(
        "--duplicates",
        choices=list(DUPLICATE_RULES),
        help="rule for repeated (subject, item) pairs (default: error)",
    )
    data.add_argument(
        "--item-meta",
        metavar="FILE",
        help="table of item metadata, key column 'item' (CSV, TSV, text or parquet)",
    )
    data.add_argument(
        "--subject-meta",
        metavar="FILE",
        help="table of subject metadata, key column 'subject' (CSV, TSV, text or parquet)",
    )
    data.add_argument(
        "--drop-constant",
        action="store_true",
        default=None,
        help="drop items that every subject answered the same way",
    )
    data.add_argument(
        "--sep",
        type=_separator,
        metavar="CHAR",
        help="delimiter of a CSV / TSV / text table, '\\t' or 'tab' for a tab (default: tab "
        "for .tsv, else sniffed among comma, semicolon and tab)",
    )
    data.add_argument(
        "--sample-filter",
        type=_keyed_value,
        action="append",
        metavar="[TASK=]FILTER",
        help="lm-eval, leaderboard-details: the filter whose scores are used, for every task "
        "or, repeated, per task (default: strict-match, else none, else the first by name)",
    )
    data.add_argument(
        "--metric",
        type=_keyed_value,
        action="append",
        metavar="[TASK=]METRIC",
        help="harness output: the per-sample metric used (inspect: the scorer; helm: the "
        "stat), for every task or, repeated, per task (lm-eval default: acc, else acc_norm, "
        "else exact_match, else the first by name; see bayesirt.load_responses for the others)",
    )
    data.add_argument(
        "--model-name",
        type=_keyed_value,
        action="append",
        metavar="[RUN=]LABEL",
        help="harness output: the subject label of every run or, repeated, of each run RUN "
        "(lm-eval and leaderboard-details: a run folder; inspect and helm: a model; default: "
        "the model the output names, else the lm-eval run folder's name)",
    )


def _add_score_command(commands: Any) -> None:
    cmd = commands.add_parser(
        "score",
        help="score new models' results against a saved fit",
        description="Score every subject of DATA against a saved fit, its items held at their "
        "posterior (a cut posterior: the fit is not changed): ability θ with its interval, "
        "rank interval among the fitted subjects, and the probability of beating the nearest "
        "fitted subjects. One subject is enough. Items the fit does not know are reported "
        "and ignored; a subject already in the fit is scored as 'NAME (new)'.",
    )
    cmd.add_argument("fit", type=Path, metavar="FIT", help="fit file written by 'bayesirt fit'")
    cmd.add_argument(
        "data",
        metavar="DATA",
        help=f"results file or folder of the subjects to score (formats: {', '.join(FORMATS)})",
    )
    _add_data_options(cmd)
    cmd.add_argument("--json", action="store_true", help="print JSON instead of a table")
    cmd.add_argument("--csv", type=Path, metavar="PATH", help="also write the table as CSV")
    cmd.add_argument(
        "--seed", type=int, default=0, help="seed of the ability draws (default: %(default)s)"
    )
    cmd.set_defaults(run=_run_score)


def _add_summary_command(commands: Any) -> None:
    cmd = commands.add_parser(
        "summary",
        help="abilities, item parameters and diagnostics of a saved fit",
        description=f"Abilities (best first) with posterior mean, sd and {DEFAULT_INTERVAL:.0%} "
        "interval, item parameters and convergence diagnostics of a saved fit.",
    )
    cmd.add_argument("fit", type=Path, metavar="FIT", help="a .nc file written by 'bayesirt fit'")
    cmd.add_argument("--json", action="store_true", help="print JSON instead of tables")
    cmd.add_argument(
        "--top",
        type=_positive_int,
        metavar="K",
        help="show only the K best subjects and the K most discriminating items",
    )
    cmd.set_defaults(run=_run_summary)


def _add_rank_command(commands: Any) -> None:
    cmd = commands.add_parser(
        "rank",
        help="uncertainty-aware ranking of the subjects of a saved fit",
        description="Rank the subjects of a saved fit with rank intervals, tiers of subjects "
        "the data cannot tell apart, and the accuracy leaderboard for comparison.",
    )
    cmd.add_argument("fit", type=Path, metavar="FIT", help="a .nc file written by 'bayesirt fit'")
    cmd.add_argument(
        "--by",
        choices=list(RANK_BY),
        default=inspect.signature(rank).parameters["by"].default,
        help="rank by ability, or by expected accuracy on all items (default: %(default)s)",
    )
    cmd.add_argument(
        "--top",
        type=_positive_int,
        metavar="K",
        help="show only the K best subjects, and add P(rank <= K)",
    )
    cmd.add_argument("--json", action="store_true", help="print JSON instead of a table")
    cmd.add_argument("--csv", type=Path, metavar="PATH", help="also write the table as CSV")
    cmd.set_defaults(run=_run_rank)


def _add_robustness_command(commands: Any) -> None:
    cmd = commands.add_parser(
        "robustness",
        help="local dependence between questions and the stability of the ranking",
        description="Yen's Q3 over posterior draws, tests of non-random dependence, clusters "
        "of questions, and the ranking under other distributions of interest (uniform, "
        "cluster-balanced, random use cases) with its stability summary.",
    )
    cmd.add_argument("fit", type=Path, metavar="FIT", help="a .nc file written by 'bayesirt fit'")
    cmd.add_argument(
        "--groups",
        metavar="COLUMN",
        default="auto",
        help="item metadata column of the question groups (default: the first of category, "
        "benchmark, ... that the data have)",
    )
    cmd.add_argument("--json", action="store_true", help="print the full result as JSON")
    cmd.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    cmd.set_defaults(run=_run_robustness)


def _add_demo_command(commands: Any) -> None:
    settings = ", ".join(f"{k} {v}" for k, v in DEMO_SETTINGS.items())
    cmd = commands.add_parser(
        "demo",
        help="fit the 2PL to the shipped example leaderboard and rank its models",
        description=f"Fit the 2PL by NUTS ({settings}) to the example leaderboard shipped "
        f"with bayesirt ({EXAMPLE_SETTINGS['n_subjects']} models × "
        f"{EXAMPLE_SETTINGS['n_items']} questions), print the ranking with intervals and "
        "tiers, and save the fit.",
    )
    cmd.add_argument(
        "--out",
        type=Path,
        default=DEMO_FIT,
        metavar="PATH",
        help="fit file to write (default: %(default)s)",
    )
    cmd.add_argument(
        "--quick",
        action="store_true",
        help="a short smoke run ("
        + ", ".join(f"{k} {v}" for k, v in QUICK_DEMO_SETTINGS.items())
        + "); expect convergence warnings",
    )
    cmd.add_argument(
        "--sampler",
        choices=list(SAMPLERS),
        default=_FIT_DEFAULTS["sampler"],
        help="NUTS implementation (default: %(default)s)",
    )
    _add_seed_and_progress(cmd)
    cmd.set_defaults(run=_run_demo)


def _add_seed_and_progress(group: argparse._ActionsContainer) -> None:
    group.add_argument(
        "--seed",
        type=int,
        default=_FIT_DEFAULTS["random_seed"],
        help="random seed (default: %(default)s)",
    )
    group.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="show progress bars (default: when stderr is a terminal)",
    )


def _run_fit(args: argparse.Namespace) -> None:
    other = {"nuts": "advi", "advi": "nuts"}[args.method]
    options = {"nuts": NUTS_OPTIONS, "advi": ADVI_OPTIONS}
    given = [_flag(name) for name in options[other] if getattr(args, name) is not None]
    if given:
        raise UsageError(f"{', '.join(given)}: only for --method {other}")
    settings = {
        "draws": args.draws,
        "chains": args.chains,
        "random_seed": args.seed,
        "log_likelihood": args.log_likelihood,
        "progressbar": _progress(args),
    }
    for option in options[args.method]:
        value = getattr(args, option)
        settings[option] = _FIT_DEFAULTS[option] if value is None else value
    _check_settings(args.method, settings)
    name = _data_name(args.data)
    out = _fit_path(args.out or DEFAULT_FIT_DIR / f"{name}-{args.model}.nc", args.overwrite)
    responses = _read_data(args)
    print(
        f"fitting the {args.model.upper()} by {_method_label(args.method, settings)} "
        f"to {name}: {responses!r}"
    )
    if args.item_features is None and args.model != ExplanatoryTwoPL.name:
        idata = fit(
            responses, model=args.model, pool_by=args.pool_by, method=args.method, **settings
        )
    else:
        idata = fit_model(_explanatory_model(args, responses), method=args.method, **settings)
    _print_diagnostics(idata)
    _save(idata, out, overwrite=args.overwrite)


def _check_settings(method: str, settings: dict) -> None:
    """The fit settings' ranges, checked before the data is read (exit status 2)."""
    checked = {k: v for k, v in settings.items() if k not in ("log_likelihood", "progressbar")}
    try:
        check_fit_settings(method=method, **checked)
    except SettingError as err:
        flag = {"random_seed": "--seed"}.get(err.setting, _flag(err.setting))
        raise UsageError(f"{flag} {err.detail}") from None


def _explanatory_model(args: argparse.Namespace, responses: Responses) -> ExplanatoryTwoPL:
    """The explanatory 2PL of ``fit --item-features`` (features from a CSV or item text)."""
    spec = args.item_features
    if spec is None:
        raise UsageError(f"--model {ExplanatoryTwoPL.name} needs --item-features")
    if args.model not in (TwoPL.name, ExplanatoryTwoPL.name):
        raise UsageError(f"--item-features: only for --model {TwoPL.name}, got {args.model}")
    if spec == "text" or spec.startswith("text:"):
        column = spec.partition(":")[2] or "text"
        if column not in responses.item_meta.columns:
            raise UsageError(
                f"--item-features {spec}: no item metadata column {column!r} (give the texts "
                "with --item-meta and name their column with text:COL)"
            )
        features = text_features(responses.item_meta[column])
    else:
        features = read_item_features(spec)
    return ExplanatoryTwoPL(responses, item_features=features, pool_by=args.pool_by)


def _run_score(args: argparse.Namespace) -> None:
    idata = load_fit(args.fit)
    responses = _read_data(args)
    fitted_items = pd.Index(idata.posterior["item"].values.astype(str))
    items = pd.Index(responses.items.astype(str))
    unknown = items.difference(fitted_items, sort=False)
    if len(unknown) == len(items):
        raise ValueError(
            f"none of the {len(items)} items of {args.data} is in the fit {args.fit} "
            f"(e.g. {', '.join(map(repr, items[:3]))}): they are not the same benchmark"
        )
    if len(unknown):
        print(
            f"bayesirt: note: {len(unknown)} of {len(items)} items are not in the fit and are "
            f"ignored: {describe_values(unknown)}",
            file=sys.stderr,
        )
        responses = responses.subset(items=responses.items[~items.isin(unknown)])
    fitted_subjects = pd.Index(idata.posterior["subject"].values.astype(str))
    clash = pd.Index(responses.subjects.astype(str)).intersection(fitted_subjects)
    if len(clash):
        print(
            f"bayesirt: note: {describe_values(clash)} already in the fit: scored as new, "
            "labelled 'NAME (new)'",
            file=sys.stderr,
        )
        labels = [f"{s} (new)" if s in clash else s for s in responses.subjects.astype(str)]
        responses = dataclasses.replace(
            responses,
            subjects=pd.Index(labels),
            subject_meta=responses.subject_meta.set_axis(labels),
        )
    scored = score_new(idata, responses, interval=DEFAULT_INTERVAL, random_seed=args.seed)
    payload = score_to_json(scored, idata, responses)
    payload["unknown_items"] = [str(label) for label in unknown]
    table = pd.DataFrame(
        [
            {
                **{k: v for k, v in record.items() if k != "p_beats"},
                "p_beats": "; ".join(f"{p['subject']} {p['p']:.2f}" for p in record["p_beats"]),
            }
            for record in payload["subjects"]
        ]
    )
    if args.csv is not None:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.csv, index=False)
    if args.json:
        print(json.dumps(payload, indent=2, allow_nan=False))
    else:
        n_fitted = payload["n_fitted_subjects"]
        print(
            f"{args.fit}: {len(table)} subject(s) scored against the {n_fitted} fitted "
            f"subjects, items held at their posterior; θ: posterior mean, sd and "
            f"{DEFAULT_INTERVAL:.0%} interval; rank among {n_fitted + 1}; P(beats) the "
            "nearest fitted subjects"
        )
        shown = table.rename(columns={"p_beats": "P(beats)"})
        print(shown.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    if args.csv is not None:
        print(f"table written to {args.csv}", file=sys.stderr if args.json else sys.stdout)


def _run_summary(args: argparse.Namespace) -> None:
    idata = load_fit(args.fit)
    summary = summarize_fit(idata)
    if args.json:
        print(json.dumps(summary, indent=2, allow_nan=False))
        return
    config = fit_info(idata)["config"]
    subjects = pd.DataFrame(summary["subjects"])
    subjects.insert(0, "#", range(1, len(subjects) + 1))
    items = pd.DataFrame(summary["items"])
    print(f"{args.fit}: {config['model'].upper()}, {len(subjects)} subjects × {len(items)} items")
    _print_diagnostics(idata)
    shown = "" if args.top is None else f", the {min(args.top, len(subjects))} best"
    print(
        f"\nabilities θ, best first{shown} (posterior mean, sd and {DEFAULT_INTERVAL:.0%} "
        "interval):"
    )
    print(subjects.head(args.top).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    flat = int((~items["discriminating"]).sum())
    if args.top is not None:
        items = items.sort_values("a_mean", ascending=False, kind="stable").head(args.top)
    items["discriminating"] = items["discriminating"].map({True: "yes", False: "NO"})
    items = items.drop(columns=["b_mean", "b_sd"]).rename(columns={"discriminating": "discr."})
    which = "" if args.top is None else f", the {len(items)} most discriminating"
    print(
        f"\nitem parameters{which} (posterior mean and sd; b as median and "
        f"{DEFAULT_INTERVAL:.0%} interval):"
    )
    print(items.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    if flat:
        print(
            f"{flat} item(s) barely discriminate (posterior median a < {NON_DISCRIMINATING_A}, "
            "'discr.' NO): their difficulty b is not meaningful; read the intercept"
        )


def _run_rank(args: argparse.Namespace) -> None:
    idata = load_fit(args.fit)
    top_k = sorted({*_RANK_TOP_K, *([args.top] if args.top else [])})
    result = rank(idata, by=args.by, top_k=top_k)
    table = rank_table(result).head(args.top)
    if args.csv is not None:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.csv)
    if args.json:
        payload = rank_to_json(result)
        if args.top:
            payload = _first_subjects(payload, args.top)
        print(json.dumps(payload, indent=2, allow_nan=False))
    else:
        print(_format_ranking(result, table))
    if args.csv is not None:
        print(f"table written to {args.csv}", file=sys.stderr if args.json else sys.stdout)


def _run_robustness(args: argparse.Namespace) -> None:
    idata = load_fit(args.fit)
    result = robustness_to_json(assess_robustness(idata, groups=args.groups, random_seed=args.seed))
    if args.json:
        print(json.dumps(result, indent=2, allow_nan=False))
        return
    dependence, test = result["dependence"], result["test"]
    q3 = dependence["mean_abs_q3"]
    print(
        f"{args.fit}: {dependence['n_subjects']} subjects × {dependence['n_items']} items, "
        f"Q3 by {dependence['method']} computation over {dependence['n_draws']} draws"
    )
    print(f"mean |Q3| {q3['mean']:.3f} [{q3['lo']:.3f}, {q3['hi']:.3f}]")
    print(f"verdict: {test['verdict']}")
    # Reweighting items cannot reorder a unidimensional posterior (the expected score rises
    # with theta for any weights), so the accuracy ranking is the one that moves.
    basis = result["scenarios"]["accuracy"]
    shifts = pd.DataFrame(
        {"largest rank shift": basis["max_shift"], "P(rank changes)": basis["p_rank_change"]}
    )
    print("\naccuracy ranking across distributions of interest:")
    print(shifts.to_string(float_format=lambda x: f"{x:.2f}"))


def _run_demo(args: argparse.Namespace) -> None:
    settings = QUICK_DEMO_SETTINGS if args.quick else DEMO_SETTINGS
    nuts = {**_demo_defaults(), **settings, "sampler": args.sampler, "random_seed": args.seed}
    _check_settings("nuts", nuts)
    out = _fit_path(args.out, overwrite=True)
    responses = load_example()
    print(f"bayesirt demo: the example leaderboard shipped with bayesirt, {responses!r}")
    print(f"fitting the 2PL by {_method_label('nuts', nuts)}; this takes a minute or two")
    idata = fit(responses, model="2pl", method="nuts", progressbar=_progress(args), **nuts)
    _print_diagnostics(idata)
    result = rank(idata)
    print()
    print(_format_ranking(result, rank_table(result)))
    _save(idata, out, overwrite=True)
    print(f"next: bayesirt summary {out}    bayesirt rank {out} --by score --top 10")


def _demo_defaults() -> dict[str, Any]:
    return {key: _FIT_DEFAULTS[key] for key in ("draws", "tune", "chains", "max_draws")}


# ---------------------------------------------------------------------- data and files
def _data_name(source: str) -> str:
    """A short name for the data named by ``DATA`` (used in file names)."""
    if source.startswith(DATASET_PREFIX):
        return source.removeprefix(DATASET_PREFIX)
    return EXAMPLE if source == EXAMPLE else Path(source).stem


def _read_data(args: argparse.Namespace) -> Responses:
    """The responses named by ``DATA``."""
    options = {key: getattr(args, key) for key in DATA_OPTIONS if getattr(args, key) is not None}
    source: str = args.data
    shipped = source == EXAMPLE or source.startswith(DATASET_PREFIX)
    if shipped and options:
        flags = ", ".join(_flag(key) for key in options)
        raise UsageError(f"{flags}: only for results files, not for {source!r}")
    if source == EXAMPLE:
        return load_example()
    if source.startswith(DATASET_PREFIX):
        return datasets.load(source.removeprefix(DATASET_PREFIX))
    for key in KEYED_DATA_OPTIONS.keys() & options.keys():
        options[key] = _per_key(key, options[key])
    return load_responses(source, **options)


def _keyed_value(text: str) -> tuple[str | None, str]:
    """An argument of a keyed data option: ``KEY=VALUE`` as (KEY, VALUE), else (None, text).

    Split at the last ``=``: keys may hold one (HELM run names such as
    ``mmlu:subject=anatomy``), values (filters, metrics, labels) do not."""
    key, equals, value = text.rpartition("=")
    if not equals:
        return None, text
    if not key or not value:
        raise argparse.ArgumentTypeError(f"expected VALUE or KEY=VALUE, got {text!r}")
    return key, value


def _per_key(dest: str, given: list[tuple[str | None, str]]) -> str | dict[str, str]:
    """A keyed data option as :func:`load_responses` takes it: one value, or a dict."""
    keys = [key for key, _ in given]
    if keys == [None]:
        return given[0][1]
    what = KEYED_DATA_OPTIONS[dest]
    if None in keys:
        raise UsageError(
            f"{_flag(dest)}: give either one value for every {what} or KEY=VALUE for each {what}"
        )
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise UsageError(f"{_flag(dest)}: {what} {repeated[0]!r} given more than once")
    return dict(given)


def _separator(text: str) -> str:
    """The delimiter of ``--sep``: one character, or a tab written ``\\t`` or ``tab``."""
    sep = "\t" if text in ("\\t", "tab") else text
    if len(sep) != 1:
        raise argparse.ArgumentTypeError(f"expected one character, '\\t' or 'tab', got {text!r}")
    return sep


def _fit_path(path: Path, overwrite: bool) -> Path:
    """Check the output path before a long fit rather than after it (exit status 2)."""
    try:
        return check_fit_path(path, overwrite=overwrite)
    except FitFileError as err:
        hint = "" if overwrite else " (--overwrite replaces it)"
        raise UsageError(f"--out: {err}{hint if path.exists() else ''}") from None


def _save(idata: az.InferenceData, out: Path, *, overwrite: bool) -> None:
    path = save_fit(idata, out, overwrite=overwrite)
    print(f"fit written to {path}")
    print(f"card written to {card_path(path)}")


# ------------------------------------------------------------------------ formatting
def _print_diagnostics(idata: az.InferenceData) -> None:
    info = fit_info(idata)
    settings, diag = info["inference"], info["diagnostics"]
    print(f"inference: {_method_label(settings['method'], settings)}", end="")
    print(f", {settings['seconds']:.1f} s" if "seconds" in settings else "")
    if settings["method"] == "advi":
        details = ", ".join(f"{k}={v}" for k, v in settings.items() if k.startswith("advi_"))
        print(f"  {details}")
        print("  (R-hat, ESS and divergences do not apply to ADVI; its intervals are too narrow)")
    else:
        rows = (
            ("max R-hat", _fmt(diag["max_rhat"], ".3f"), f"<= {RHAT_MAX}"),
            ("min bulk ESS", _fmt(diag["min_ess_bulk"], ".0f"), f">= {ESS_MIN}"),
            ("min tail ESS", _fmt(diag["min_ess_tail"], ".0f"), f">= {ESS_MIN}"),
            ("divergences", str(diag["divergences"]), "0"),
            ("min E-BFMI", _fmt(diag["min_bfmi"], ".2f"), f">= {BFMI_MIN}"),
        )
        for label, value, target in rows:
            print(f"  {label:<13} {value:>8}   (target {target})")
    verdict = "yes" if diag.get("converged") else "NO: " + "; ".join(diag.get("problems", []))
    print(f"  converged: {verdict}")


def _format_ranking(result: xr.Dataset, table: pd.DataFrame) -> str:
    """The ranking as aligned text: rank and value intervals, tiers, the leaderboard."""
    by = result.attrs["by"]
    pct = f"{result.attrs['interval']:.0%}"
    shown = pd.DataFrame({"#": range(1, len(table) + 1), "subject": table.index})
    shown["tier"] = table["tier"].to_numpy()
    shown["mean rank"] = [f"{x:.1f}" for x in table["mean_rank"]]
    rank_bounds = zip(table["rank_lo"], table["rank_hi"], strict=True)
    shown[f"rank {pct}"] = [f"{lo}-{hi}" for lo, hi in rank_bounds]
    shown[by] = [f"{x:.2f}" for x in table[by]]
    shown[f"{by} {pct}"] = [
        f"[{lo:.2f}, {hi:.2f}]" for lo, hi in zip(table[f"{by}_lo"], table[f"{by}_hi"], strict=True)
    ]
    for column in table.columns:
        if column.startswith("p_top"):
            shown[f"P(top {column.removeprefix('p_top')})"] = [f"{x:.2f}" for x in table[column]]
    shown["accuracy"] = [_fmt(x, ".3f") for x in table["accuracy"]]
    shown["acc. rank"] = [_fmt(x, "g") for x in table["accuracy_rank"]]
    tiers = result.attrs["tiers"]
    notes = [
        f"{len(tiers)} tier(s): subjects within a tier are not separated at posterior "
        f"probability {result.attrs['level']:g}",
        f"adjacent pairs separated: {result.attrs['n_separated']} of "
        f"{result.attrs['n_adjacent']}; accuracy leaderboard vs posterior order: Kendall tau "
        f"{_fmt(result.attrs['kendall_tau'], '.3f')}, {result.attrs['n_reordered_pairs']} "
        "pair(s) reordered",
    ]
    header = f"ranking by {by}, best first ({pct} intervals):"
    return "\n".join([header, shown.to_string(index=False), *notes])


def _first_subjects(payload: dict, k: int) -> dict:
    """:func:`rank_to_json` output restricted to its ``k`` first subjects."""
    subjects = payload["subjects"][:k]
    kept = {record["subject"] for record in subjects}
    return {
        "subjects": subjects,
        "p_beats": {
            a: {b: p for b, p in row.items() if b in kept}
            for a, row in payload["p_beats"].items()
            if a in kept
        },
        "tiers": [tier for tier in ([s for s in t if s in kept] for t in payload["tiers"]) if tier],
    }


def _method_label(method: str, settings: dict) -> str:
    if method == "advi":
        return "ADVI"
    draws = settings.get("draws")
    if settings.get("adaptive"):
        run = f"{draws} draws (sampled until converged"
        run += ", budget ran out)" if settings.get("budget_exhausted") else ")"
    elif draws is None and settings["sampler"] == "nutpie":
        run = f"draws until converged (at most {settings['max_draws']})"
    else:
        run = f"{draws if draws is not None else FIXED_DRAWS} draws"
    return (
        f"NUTS ({settings['sampler']}, {settings['chains']} chains × {run} after "
        f"{settings['tune']} tuning steps)"
    )


def _fmt(value: float | None, spec: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    return format(value, spec)


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() if args.progress is None else args.progress


# ---------------------------------------------------------------------- messages
@contextlib.contextmanager
def _user_facing_warnings(*, data_options: bool = False) -> Iterator[None]:
    """Show the package's warnings as ``bayesirt: warning: ...`` lines; hide BLAS noise.

    Every :class:`ConvergenceWarning` is shown, even one repeated from the same place. With
    ``data_options`` (a command that reads data with the data options of ``fit``), a
    :class:`ResponsesWarning` names those options rather than Python arguments.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=BLAS_WARNING, category=UserWarning, module=r"pytensor\."
        )
        warnings.simplefilter("always", ConvergenceWarning)
        default_show: Callable[..., None] = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None) -> None:
            if issubclass(category, (ConvergenceWarning, ResponsesWarning)):
                text = _one_line(message)
                if data_options and issubclass(category, ResponsesWarning):
                    text = _as_options(text)
                print(f"bayesirt: warning: {text}", file=sys.stderr)
            else:
                default_show(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def _print_error(err: BaseException, *, data_options: bool = False) -> None:
    """Print ``err`` as one line; with ``data_options``, see :func:`_user_facing_warnings`."""
    text = _one_line(err)
    if data_options and isinstance(err, ResponsesError):
        text = _as_options(text)
    print(f"bayesirt: error: {text}", file=sys.stderr)


def _as_options(message: str) -> str:
    """A data reader's message with the arguments of :func:`bayesirt.load_responses` it names
    written as the options of ``fit`` that set them: ``threshold=`` → ``--threshold``,
    ``drop_constant=True`` → ``--drop-constant``, ``metric={'arc': 'acc'}`` → ``--metric
    arc=acc``, ``duplicates='mean'`` → ``--duplicates 'mean'``."""

    def option(match: re.Match) -> str:
        flag = _flag(match["name"])
        if match["key"] is not None:
            return f"{flag} {match['key']}={match['value']}"
        return flag if match["value_follows"] is None else f"{flag} "

    return _ARGUMENT_IN_MESSAGE.sub(option, message)


def _one_line(message: object) -> str:
    text = " ".join(str(message).split())
    return text or type(message).__name__


if __name__ == "__main__":
    sys.exit(main())
