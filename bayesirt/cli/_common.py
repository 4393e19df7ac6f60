"""What the subcommands of ``bayesirt`` share: the options several of them take (``FIT``,
``--json``, ``--csv``, ``--out``, ``--seed``, ``--progress``, and options whose default is that
of the function they set), reading ``DATA`` with the data options, the options of the model
(``--model-option``), the fit settings of the inference options and their checks, output
paths and CSV tables, printing diagnostics and rankings, and turning errors and warnings into
one-line messages.

Every module of :mod:`bayesirt.cli` imports from here; this module imports no other of them.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
import json
import math
import re
import sys
import types
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bayesirt.data import (
    FORMATS,
    Responses,
    ResponsesError,
    ResponsesWarning,
)
from bayesirt.data.features import read_item_features, text_features
from bayesirt.data.sources import is_shipped, load_source
from bayesirt.data.validation import DUPLICATE_RULES, RESPONSE_TYPES, describe_values
from bayesirt.inference import ConvergenceWarning, fit, fit_info, fit_model, save_fit
from bayesirt.inference.diagnostics import BFMI_MIN, ESS_MIN, RHAT_MAX
from bayesirt.inference.fit import BLAS_WARNING, FIXED_DRAWS
from bayesirt.inference.io import FitFileError, card_path, check_fit_path
from bayesirt.inference.settings import SettingError, check_fit_settings
from bayesirt.models import MODELS, ExplanatoryTwoPL, TwoPL

#: Options of ``fit`` that are passed to :func:`bayesirt.load_responses` when given.
DATA_OPTIONS = (
    "format",
    "subject",
    "item",
    "response",
    "threshold",
    "response_type",
    "scale",
    "trials",
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
#: messages name it: ``threshold=``, ``drop_constant=True``, ``metric={'task': 'value'}``,
#: ``scale=(1, 5)``, or followed by a value (``duplicates='mean'``; the empty group
#: ``value_follows`` matches).
_ARGUMENT_IN_MESSAGE = re.compile(
    r"\b(?P<name>" + "|".join(DATA_OPTIONS) + r")="
    r"(?:(?P<true>True)\b|\{'(?P<key>[^']*)': '(?P<value>[^']*)'\}"
    r"|\((?P<lo>-?\d+), (?P<hi>-?\d+)\)"
    r"|(?P<value_follows>(?=[\w'\"<\[{-])))?"
)
#: Options of ``fit`` that only NUTS uses, and the one only ADVI uses.
NUTS_OPTIONS = ("sampler", "tune", "target_accept", "max_draws", "max_seconds")
ADVI_OPTIONS = ("advi_iterations",)
#: The flag of the model options, and the flags that stand for one model option: ``OPTION:
#: (FLAG, MODEL, BASE)``, ``FLAG VALUE`` is ``--model MODEL --model-option OPTION=VALUE``
#: with VALUE taken as it is, and is given with ``--model MODEL`` or ``--model BASE``.
MODEL_OPTION = "--model-option"
MODEL_OPTION_FLAGS = {
    "item_features": ("--item-features", ExplanatoryTwoPL.name, TwoPL.name),
}


def _defaults(*functions: Callable) -> dict[str, Any]:
    """The keyword defaults of the functions a command wraps (a later function's win), so
    that the command line shows and uses the library's own."""
    return {
        name: parameter.default
        for function in functions
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }


_FIT_DEFAULTS = _defaults(fit, fit_model)


class UsageError(Exception):
    """A command line that the parser rejects; the message says what is wrong."""


# ---------------------------------------------------------------------- shared options
def _add_defaulted(
    group: argparse._ActionsContainer, flag: str, default: Any, help: str, **kwargs: Any
) -> None:
    """An option whose default (that of the function it sets) its help ends with."""
    group.add_argument(flag, default=default, help=f"{help} (default: %(default)s)", **kwargs)


def _command(commands: Any, name: str, run: Any, summary: str, description: str):
    """Add the subcommand ``name`` to ``commands``; ``run(args)`` carries it out, ``summary``
    is its line in ``bayesirt --help`` and ``description`` heads its own ``--help``. Returns
    its parser, for its arguments."""
    cmd = commands.add_parser(name, help=summary, description=description)
    cmd.set_defaults(run=run)
    return cmd


def _add_fit_argument(
    cmd: argparse.ArgumentParser, help: str = "a .nc file written by 'bayesirt fit'"
) -> None:
    """The saved fit a command reads, ``FIT``."""
    cmd.add_argument("fit", type=Path, metavar="FIT", help=help)


def _add_json_option(
    group: argparse._ActionsContainer, help: str = "print JSON instead of a table"
) -> None:
    group.add_argument("--json", action="store_true", help=help)


def _add_csv_option(
    group: argparse._ActionsContainer, help: str = "also write the table as CSV"
) -> None:
    group.add_argument("--csv", type=Path, metavar="PATH", help=help)


def _add_out_option(group: argparse._ActionsContainer, help: str, **kwargs: Any) -> None:
    group.add_argument("--out", type=Path, metavar="PATH", help=help, **kwargs)


def _add_seed_option(
    group: argparse._ActionsContainer, default: int, what: str = "random seed"
) -> None:
    _add_defaulted(group, "--seed", default, what, type=int)


def _add_progress_option(group: argparse._ActionsContainer, what: str = "progress bars") -> None:
    """``--progress`` / ``--no-progress``, read by :func:`_progress`."""
    group.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help=f"show {what} (default: when stderr is a terminal)",
    )


# ---------------------------------------------------------------------- data options
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
        "--response-type",
        choices=list(RESPONSE_TYPES),
        help="binary: right/wrong (0/1) responses; ordinal: whole-number scores as ordered "
        "categories, for a graded model; binomial: k successes of n trials per pair, k in "
        "the response column and n in --trials; continuous: bounded scores (in [0, 1], or "
        "in --scale), for the ordered beta model (default: binary)",
    )
    data.add_argument(
        "--trials",
        metavar="COL",
        help="the column of a long table holding the number of trials of each pair, for "
        "binomial responses (implies --response-type binomial, which needs it)",
    )
    data.add_argument(
        "--scale",
        type=float,
        nargs=2,
        metavar=("LO", "HI"),
        help="with --response-type ordinal or continuous: the range of the scores, e.g. 1 5; "
        "a score outside it is an error (continuous scores are mapped onto [0, 1])",
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


def _read_data(args: argparse.Namespace) -> Responses:
    """The responses named by ``DATA``."""
    options = {key: getattr(args, key) for key in DATA_OPTIONS if getattr(args, key) is not None}
    source: str = args.data
    if is_shipped(source) and options:
        flags = ", ".join(_flag(key) for key in options)
        raise UsageError(f"{flags}: only for results files, not for {source!r}")
    for key in KEYED_DATA_OPTIONS.keys() & options.keys():
        options[key] = _per_key(key, options[key])
    if "trials" in options and "response_type" not in options:
        options["response_type"] = "binomial"  # --trials says what the responses are
    response_type = options.get("response_type", "binary")
    if "scale" in options:
        options["scale"] = _scale(options["scale"], response_type)
    if response_type != "binary" and "threshold" in options:
        raise UsageError(
            f"--threshold and --response-type {response_type} exclude each other: --threshold "
            f"binarises the scores, --response-type {response_type} keeps them as "
            + {
                "ordinal": "ordered categories",
                "binomial": "successes out of --trials",
                "continuous": "bounded scores",
            }[response_type]
        )
    binomial = response_type == "binomial"
    if binomial and "trials" not in options:
        raise UsageError(
            "--response-type binomial needs --trials COL: the column holding the number of "
            "trials of each pair"
        )
    if "trials" in options and not binomial:
        raise UsageError(f"--trials: only with --response-type binomial, not {response_type}")
    return load_source(source, **options)


def _fitted_items_only(
    idata: az.InferenceData, responses: Responses, args: argparse.Namespace
) -> tuple[Responses, pd.Index]:
    """``responses`` (read from ``args.data``) without the items the fit ``args.fit`` does
    not know, which are noted on stderr and returned; an error when it knows none."""
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
    return responses, unknown


def _scale(given: list[float], response_type: str) -> tuple[float, float]:
    """``--scale LO HI`` as load_responses takes it, checked before the data is read: whole
    numbers for ordinal scores."""
    lo, hi = given
    if response_type not in ("ordinal", "continuous"):
        raise UsageError("--scale: only with --response-type ordinal or continuous")
    if response_type == "ordinal" and not (float(lo).is_integer() and float(hi).is_integer()):
        raise UsageError(f"--scale {lo:g} {hi:g}: ordinal scores need whole numbers")
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo >= hi:
        raise UsageError(f"--scale {lo:g} {hi:g}: LO must be below HI, both finite")
    return (int(lo), int(hi)) if response_type == "ordinal" else (lo, hi)


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


# ---------------------------------------------------------------------- model options
@dataclasses.dataclass(frozen=True)
class ModelOption:
    """One option of the model from the command line: its name, its value and, for the
    messages, the words that gave it (``--model-option cluster_by=category``)."""

    key: str
    value: Any
    given: str
    flag: str = MODEL_OPTION


def _model_option(text: str) -> ModelOption:
    """An argument of ``--model-option``: ``KEY=VALUE``, VALUE read as JSON when it parses
    (numbers, lists, objects, ``true``/``false``, ``null``) and as a string otherwise."""
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    with contextlib.suppress(ValueError):
        value = json.loads(value)
    return ModelOption(key, value, f"{MODEL_OPTION} {text}")


def _option_flag(key: str) -> Callable[[str], ModelOption]:
    """The argument type of the flag that stands for the model option ``key``."""
    flag = MODEL_OPTION_FLAGS[key][0]
    return lambda text: ModelOption(key, text, f"{flag} {text}", flag)


def _model_options_help() -> str:
    """The options each registered model declares, for ``--help``."""
    declared = [f"{name}: {', '.join(cls.model_options)}" for name, cls in MODELS.items()]
    return "; ".join(d for d in declared if not d.endswith(": "))


def _chosen_model(args: argparse.Namespace) -> tuple[str, list[ModelOption]]:
    """The model to fit and the options given for it, checked against the options the model
    declares (``model_options``) before any data is read: an unknown option, one given twice,
    a value of another type than its constructor declares, or a required option missing is
    an error (exit status 2). A flag that stands for a model option
    (:data:`MODEL_OPTION_FLAGS`) picks the model that has it."""
    model, given = args.model, list(args.model_option or ())
    for option in given:
        if option.flag != MODEL_OPTION:
            flag, owner, base = MODEL_OPTION_FLAGS[option.key]
            if model not in (base, owner):
                raise UsageError(f"{flag}: only for --model {base}, got {model}")
            model = owner
    declared = MODELS[model].model_options
    declared_types = _declared_types(MODELS[model])
    keys = [option.key for option in given]
    for option in given:
        if option.key not in declared:
            known = f"its options: {', '.join(declared)}" if declared else "it has none"
            raise UsageError(
                f"{option.given}: --model {model} has no option {option.key!r} ({known})"
            )
        if keys.count(option.key) > 1:
            raise UsageError(f"{option.given}: option {option.key!r} given more than once")
        _check_type(option, declared_types.get(option.key, Any))
    parameters = inspect.signature(MODELS[model]).parameters
    for key in declared:
        if key not in keys and parameters[key].default is inspect.Parameter.empty:
            flag = MODEL_OPTION_FLAGS.get(key, (f"{MODEL_OPTION} {key}=VALUE",))[0]
            raise UsageError(f"--model {model} needs {flag}")
    return model, given


#: What a value of each type is called on the command line (JSON), for messages.
_JSON_NAMES = {
    str: "a string",
    bool: "true or false",
    int: "an integer",
    float: "a number",
    list: "a list",
    dict: "an object",
    Mapping: "an object",
    type(None): "null",
}


def _declared_types(cls: type) -> dict[str, Any]:
    """The types the constructor of a model declares for its arguments."""
    try:
        return typing.get_type_hints(cls.__init__)
    except NameError:  # an annotation only for type checkers: the model checks the value
        return {}


def _check_type(option: ModelOption, annotation: Any) -> None:
    """A value of the type the model's constructor declares for the option (or, for an option
    with a reader, a string), else an error before the data is read (exit status 2)."""
    kinds = [typing.get_origin(kind) or kind for kind in _union(annotation)]
    if option.key in _OPTION_READERS:
        kinds.append(str)
    value = option.value
    if Any in kinds or any(_is_a(value, kind) for kind in kinds):
        return
    names = list(dict.fromkeys(_JSON_NAMES[kind] for kind in kinds if kind in _JSON_NAMES))
    expected = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    expected = expected or str(annotation)
    raise UsageError(f"{option.given}: {option.key} takes {expected}, got {json.dumps(value)}")


def _union(annotation: Any) -> tuple:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _is_a(value: Any, kind: Any) -> bool:
    if not isinstance(kind, type):  # not a class (e.g. a Literal): the model checks the value
        return True
    if isinstance(value, bool) and kind in (int, float):
        return False
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def _model_option_values(given: list[ModelOption], responses: Responses) -> dict[str, Any]:
    """The options of the model as it takes them: a value the command line can only name (a
    table as a file or a column) is read by its reader in :data:`_OPTION_READERS`."""
    return {
        option.key: _OPTION_READERS[option.key](option, responses)
        if option.key in _OPTION_READERS and isinstance(option.value, str)
        else option.value
        for option in given
    }


def _item_features(option: ModelOption, responses: Responses) -> pd.DataFrame:
    """``item_features`` of the explanatory 2PL named on the command line: a CSV (an ``item``
    column and numeric feature columns), or ``text[:COL]``, TF-IDF + SVD features of the item
    metadata text column COL (default: ``text``)."""
    spec = option.value
    if spec == "text" or spec.startswith("text:"):
        column = spec.partition(":")[2] or "text"
        if column not in responses.item_meta.columns:
            raise UsageError(
                f"{option.given}: no item metadata column {column!r} (give the texts "
                "with --item-meta and name their column with text:COL)"
            )
        return text_features(responses.item_meta[column])
    return read_item_features(spec)


#: Model options whose string value names what the model takes: name -> reader.
_OPTION_READERS: dict[str, Callable[[ModelOption, Responses], Any]] = {
    "item_features": _item_features
}


# ---------------------------------------------------------------------- fit settings and files
def _check_settings(method: str, settings: dict) -> None:
    """The fit settings' ranges, checked before the data is read (exit status 2)."""
    checked = {k: v for k, v in settings.items() if k not in ("log_likelihood", "progressbar")}
    try:
        check_fit_settings(method=method, **checked)
    except SettingError as err:
        flag = {"random_seed": "--seed"}.get(err.setting, _flag(err.setting))
        raise UsageError(f"{flag} {err.detail}") from None


def _fit_path(path: Path, overwrite: bool) -> Path:
    """Check the output path before a long fit rather than after it (exit status 2)."""
    try:
        return check_fit_path(path, overwrite=overwrite)
    except FitFileError as err:
        hint = "" if overwrite else " (--overwrite replaces it)"
        raise UsageError(f"--out: {err}{hint if path.exists() else ''}") from None


def _save(idata: az.InferenceData, out: Path, *, overwrite: bool, as_json: bool = False) -> None:
    """Save the fit and say where it and its card went (on stderr beside JSON)."""
    path = save_fit(idata, out, overwrite=overwrite)
    _note_written(as_json, fit=path, card=card_path(path))


def _progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() if args.progress is None else args.progress


def _fit_settings(args: argparse.Namespace, **settings: Any) -> dict[str, Any]:
    """The settings of :func:`bayesirt.inference.fit` that the inference options of ``fit``
    give, ``settings`` among them, with the defaults of the chosen method's own options; an
    option of the other method is an error. :func:`_check_settings` checks their ranges."""
    other = {"nuts": "advi", "advi": "nuts"}[args.method]
    options = {"nuts": NUTS_OPTIONS, "advi": ADVI_OPTIONS}
    given = [_flag(name) for name in options[other] if getattr(args, name) is not None]
    if given:
        raise UsageError(f"{', '.join(given)}: only for --method {other}")
    settings = {
        "draws": args.draws,
        "chains": args.chains,
        "random_seed": args.seed,
        **settings,
        "progressbar": _progress(args),
    }
    for option in options[args.method]:
        value = getattr(args, option)
        settings[option] = _FIT_DEFAULTS[option] if value is None else value
    return settings


def _model_arguments(
    args: argparse.Namespace, responses: Responses, chosen: tuple[str, list[ModelOption]]
) -> dict[str, Any]:
    """The arguments of :func:`bayesirt.inference.fit` that name the model chosen on the
    command line (:func:`_chosen_model`), its options read for ``responses``, and the method;
    :func:`_fit_settings` gives the others."""
    model, options = chosen
    return {
        "model": model,
        "pool_by": args.pool_by,
        "method": args.method,
        **_model_option_values(options, responses),
    }


def _write_csv(table: pd.DataFrame, path: Path | None, *, index: bool = False) -> None:
    """``table`` as CSV at ``path``, its folder made, when a path is given."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=index)


def _note_written(as_json: bool, **written: Path | None) -> None:
    """``WHAT written to PATH`` for each file written; on stderr when stdout holds JSON."""
    for what, path in written.items():
        if path is not None:
            print(f"{what} written to {path}", file=sys.stderr if as_json else sys.stdout)


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


def _open_probability(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _whole(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


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
    arc=acc``, ``scale=(1, 5)`` → ``--scale 1 5``, ``duplicates='mean'`` → ``--duplicates
    'mean'``."""

    def option(match: re.Match) -> str:
        flag = _flag(match["name"])
        if match["key"] is not None:
            return f"{flag} {match['key']}={match['value']}"
        if match["lo"] is not None:
            return f"{flag} {match['lo']} {match['hi']}"
        return flag if match["value_follows"] is None else f"{flag} "

    return _ARGUMENT_IN_MESSAGE.sub(option, message)


def _one_line(message: object) -> str:
    text = " ".join(str(message).split())
    return text or type(message).__name__
