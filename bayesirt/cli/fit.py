"""``bayesirt fit``, ``bayesirt score`` and ``bayesirt demo``: the commands that fit a model,
or score new subjects against a fit, from benchmark results.

``fit DATA``
    Read benchmark results (:func:`bayesirt.load_responses`, the shipped example, or a public
    dataset), fit a model (:func:`bayesirt.inference.fit`) with its options
    (``--model-option``, checked against the model's ``model_options`` before the data is
    read), print its diagnostics and save it with its card
    (:func:`bayesirt.inference.save_fit`).
``score FIT DATA``
    New subjects' results scored against a saved fit (:func:`bayesirt.score_new`).
``demo``
    Fit the 2PL by NUTS to the shipped example leaderboard, print its ranking and save it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

import pandas as pd

from bayesirt.analysis import rank, rank_table, score_new
from bayesirt.analysis.scoring import add_subjects, item_drift, score_to_json
from bayesirt.analysis.summary import DEFAULT_INTERVAL
from bayesirt.cli._common import (
    _FIT_DEFAULTS,
    MODEL_OPTION_FLAGS,
    _add_csv_option,
    _add_data_options,
    _add_defaulted,
    _add_fit_argument,
    _add_json_option,
    _add_out_option,
    _add_progress_option,
    _add_seed_option,
    _check_settings,
    _chosen_model,
    _command,
    _fit_path,
    _fit_settings,
    _fitted_items_only,
    _format_ranking,
    _method_label,
    _model_arguments,
    _model_option,
    _model_options_help,
    _note_written,
    _option_flag,
    _print_diagnostics,
    _progress,
    _read_data,
    _save,
    _write_csv,
)
from bayesirt.data import FORMATS, datasets, load_example
from bayesirt.data.example import EXAMPLE_SETTINGS
from bayesirt.data.sources import DATASET_PREFIX, EXAMPLE, source_name
from bayesirt.data.validation import describe_values
from bayesirt.inference import METHODS, SAMPLERS, fit, load_fit
from bayesirt.inference.io import DEFAULT_FIT_DIR
from bayesirt.models import MODELS

__all__ = ["add_demo_command", "add_fit_command", "add_score_command"]

#: NUTS settings of ``bayesirt demo`` (the defaults: sample until converged), and of
#: ``bayesirt demo --quick`` (a smoke run).
DEMO_SETTINGS: dict[str, int] = {}
QUICK_DEMO_SETTINGS = {"draws": 100, "tune": 100, "chains": 2}
DEMO_FIT = DEFAULT_FIT_DIR / "demo.nc"


# ------------------------------------------------------------------------------- fit
def add_fit_command(commands: Any) -> None:
    """Add ``fit`` to the subcommands of ``bayesirt``."""
    cmd = _command(
        commands,
        "fit",
        _run_fit,
        "fit a model to benchmark results and save it",
        "Fit an IRT model to benchmark results; print its diagnostics; save the "
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
    _add_defaulted(
        model, "--model", _FIT_DEFAULTS["model"], "IRT model", type=str.lower, choices=list(MODELS)
    )
    model.add_argument(
        "--pool-by",
        metavar="COL",
        help="item metadata column whose groups get partially pooled item means",
    )
    model.add_argument(
        "--model-option",
        type=_model_option,
        action="append",
        metavar="KEY=VALUE",
        help="an option of the model, repeatable; VALUE is read as JSON when it parses "
        "(numbers, lists, true/false, null), else as text. The options of each model: "
        f"{_model_options_help()} (e.g. --model testlet --model-option cluster_by=category)",
    )
    model.add_argument(
        MODEL_OPTION_FLAGS["item_features"][0],
        type=_option_flag("item_features"),
        action="append",
        dest="model_option",
        metavar="FILE|text[:COL]",
        help="fit the explanatory 2PL (2pl-explanatory): item intercepts regressed on item "
        "features, from a CSV (an 'item' column and numeric feature columns) or, with "
        "'text[:COL]', TF-IDF + SVD features of the item metadata text column COL "
        "(default: text); short for --model 2pl-explanatory --model-option item_features=...",
    )

    inference = cmd.add_argument_group("inference")
    _add_defaulted(
        inference,
        "--method",
        _FIT_DEFAULTS["method"],
        "NUTS sampling or ADVI approximation",
        choices=list(METHODS),
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
    _add_defaulted(inference, "--chains", _FIT_DEFAULTS["chains"], "number of chains", type=int)
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
    _add_seed_option(inference, _FIT_DEFAULTS["random_seed"])
    _add_progress_option(inference)
    _add_out_option(
        cmd, f"fit file to write, ending in .nc (default: {DEFAULT_FIT_DIR}/DATA-MODEL.nc)"
    )
    cmd.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing fit at --out (default: keep it and stop)",
    )


def _run_fit(args: argparse.Namespace) -> None:
    settings = _fit_settings(args, log_likelihood=args.log_likelihood)
    chosen = _chosen_model(args)
    model = chosen[0]
    _check_settings(args.method, settings)
    name = source_name(args.data)
    # Named by the model fitted (--item-features makes the 2PL the explanatory 2PL).
    out = _fit_path(args.out or DEFAULT_FIT_DIR / f"{name}-{model}.nc", args.overwrite)
    kinds = MODELS[model].response_types
    if args.response_type is None and "binary" not in kinds:
        args.response_type = kinds[0]  # e.g. --model grm reads the scores as ordinal
    responses = _read_data(args)
    print(
        f"fitting the {model.upper()} by {_method_label(args.method, settings)} "
        f"to {name}: {responses!r}"
    )
    idata = fit(responses, **_model_arguments(args, responses, chosen), **settings)
    _print_diagnostics(idata)
    _save(idata, out, overwrite=args.overwrite)


# ----------------------------------------------------------------------------- score
def add_score_command(commands: Any) -> None:
    """Add ``score`` to the subcommands of ``bayesirt``."""
    cmd = _command(
        commands,
        "score",
        _run_score,
        "score new models' results against a saved fit",
        "Score every subject of DATA against a saved fit, its items held at their "
        "posterior (a cut posterior: the fit is not changed): ability θ with its interval, "
        "rank interval among the fitted subjects, and the probability of beating the nearest "
        "fitted subjects. One subject is enough. Items the fit does not know are reported "
        "and ignored; a subject already in the fit is scored as 'NAME (new)'. With --out, "
        "the fit with the new subjects added is written (they then join every analysis of "
        "it, e.g. 'bayesirt rank') and their answers are checked against the fitted items: "
        "items that moved for them mean a joint refit is due.",
    )
    _add_fit_argument(cmd, "fit file written by 'bayesirt fit'")
    cmd.add_argument(
        "data",
        metavar="DATA",
        help=f"results file or folder of the subjects to score (formats: {', '.join(FORMATS)})",
    )
    _add_data_options(cmd)
    _add_json_option(cmd)
    _add_csv_option(cmd)
    _add_seed_option(cmd, 0, "seed of the ability draws")
    _add_out_option(cmd, "write the fit with these subjects added to PATH (.nc)")
    cmd.add_argument("--overwrite", action="store_true", help="replace an existing fit at --out")


def _run_score(args: argparse.Namespace) -> None:
    out = None if args.out is None else _fit_path(args.out, args.overwrite)
    idata = load_fit(args.fit)
    responses, unknown = _fitted_items_only(idata, _read_data(args), args)
    fitted_subjects = pd.Index(idata.posterior["subject"].values.astype(str))
    clash = pd.Index(responses.subjects.astype(str)).intersection(fitted_subjects)
    if len(clash) and out is not None:
        raise ValueError(
            f"{describe_values(clash)} already in the fit {args.fit}: adding them again "
            "would count them twice (rename them, or refit with their new results)"
        )
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
    _write_csv(table, args.csv)
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
    if out is not None:
        _add_to_fit(idata, responses, out, args)
    _note_written(args.json, table=args.csv)


def _add_to_fit(idata, responses, out, args: argparse.Namespace) -> None:
    """Write the fit with the scored subjects added, and say whether the items held."""
    updated = add_subjects(idata, responses, random_seed=args.seed)
    drift = item_drift(updated, random_seed=args.seed)
    flagged = drift.loc[drift["flagged"], "item"]
    verdict = (
        "the items moved for the added subjects: refit with all the results"
        if drift.attrs["refit"]
        else "their answers follow the fitted items: no refit needed"
    )
    print(
        f"item drift: p = {drift.attrs['p_overall']:.3f} over {len(drift)} items, "
        f"{len(flagged)} flagged at {drift.attrs['alpha']:g} "
        f"({describe_values(pd.Index(flagged)) or 'none'}); {verdict}",
        file=sys.stderr if args.json else sys.stdout,
    )
    _save(updated, out, overwrite=args.overwrite, as_json=args.json)


# ------------------------------------------------------------------------------ demo
def add_demo_command(commands: Any) -> None:
    """Add ``demo`` to the subcommands of ``bayesirt``."""
    settings = ", ".join(f"{k} {v}" for k, v in DEMO_SETTINGS.items())
    cmd = _command(
        commands,
        "demo",
        _run_demo,
        "fit the 2PL to the shipped example leaderboard and rank its models",
        f"Fit the 2PL by NUTS ({settings}) to the example leaderboard shipped "
        f"with bayesirt ({EXAMPLE_SETTINGS['n_subjects']} models × "
        f"{EXAMPLE_SETTINGS['n_items']} questions), print the ranking with intervals and "
        "tiers, and save the fit.",
    )
    _add_out_option(cmd, "fit file to write (default: %(default)s)", default=DEMO_FIT)
    cmd.add_argument(
        "--quick",
        action="store_true",
        help="a short smoke run ("
        + ", ".join(f"{k} {v}" for k, v in QUICK_DEMO_SETTINGS.items())
        + "); expect convergence warnings",
    )
    _add_defaulted(
        cmd, "--sampler", _FIT_DEFAULTS["sampler"], "NUTS implementation", choices=list(SAMPLERS)
    )
    _add_seed_option(cmd, _FIT_DEFAULTS["random_seed"])
    _add_progress_option(cmd)


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
