"""``bayesirt summary``, ``rank``, ``robustness`` and ``audit``: analyses of a saved fit.

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
``audit FIT``
    Person fit of every subject and, with ``--item-groups``, a contamination screen per
    subject and group of items (:func:`bayesirt.analysis.audit.audit`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import pandas as pd

from bayesirt.analysis import rank, rank_table, rank_to_json
from bayesirt.analysis.audit import audit, audit_json
from bayesirt.analysis.ranking import RANK_BY
from bayesirt.analysis.robustness import assess_robustness, robustness_to_json
from bayesirt.analysis.summary import DEFAULT_INTERVAL, NON_DISCRIMINATING_A, summarize_fit
from bayesirt.cli._common import (
    _add_csv_option,
    _add_defaulted,
    _add_fit_argument,
    _add_json_option,
    _add_seed_option,
    _command,
    _defaults,
    _format_ranking,
    _note_written,
    _open_probability,
    _positive_int,
    _print_diagnostics,
    _write_csv,
)
from bayesirt.inference import fit_info, load_fit
from bayesirt.reports.audit import describe_answers

__all__ = ["add_command"]

_RANK_DEFAULTS = _defaults(rank)
_AUDIT_DEFAULTS = _defaults(audit)
_RANK_TOP_K = tuple(_RANK_DEFAULTS["top_k"])


def add_command(commands: Any) -> None:
    """Add ``summary``, ``rank``, ``robustness`` and ``audit`` to the subcommands of
    ``bayesirt``."""
    _add_summary_command(commands)
    _add_rank_command(commands)
    _add_robustness_command(commands)
    _add_audit_command(commands)


def _add_summary_command(commands: Any) -> None:
    cmd = _command(
        commands,
        "summary",
        _run_summary,
        "abilities, item parameters and diagnostics of a saved fit",
        f"Abilities (best first) with posterior mean, sd and {DEFAULT_INTERVAL:.0%} "
        "interval, item parameters and convergence diagnostics of a saved fit.",
    )
    _add_fit_argument(cmd)
    _add_json_option(cmd, "print JSON instead of tables")
    cmd.add_argument(
        "--top",
        type=_positive_int,
        metavar="K",
        help="show only the K best subjects and the K most discriminating items",
    )


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


def _add_rank_command(commands: Any) -> None:
    cmd = _command(
        commands,
        "rank",
        _run_rank,
        "uncertainty-aware ranking of the subjects of a saved fit",
        "Rank the subjects of a saved fit with rank intervals, tiers of subjects "
        "the data cannot tell apart, and the accuracy leaderboard for comparison.",
    )
    _add_fit_argument(cmd)
    _add_defaulted(
        cmd,
        "--by",
        _RANK_DEFAULTS["by"],
        "rank by ability, or by expected accuracy on all items",
        choices=list(RANK_BY),
    )
    cmd.add_argument(
        "--top",
        type=_positive_int,
        metavar="K",
        help="show only the K best subjects, and add P(rank <= K)",
    )
    _add_json_option(cmd)
    _add_csv_option(cmd)


def _run_rank(args: argparse.Namespace) -> None:
    idata = load_fit(args.fit)
    top_k = sorted({*_RANK_TOP_K, *([args.top] if args.top else [])})
    result = rank(idata, by=args.by, top_k=top_k)
    table = rank_table(result).head(args.top)
    _write_csv(table, args.csv, index=True)
    if args.json:
        payload = rank_to_json(result)
        if args.top:
            payload = _first_subjects(payload, args.top)
        print(json.dumps(payload, indent=2, allow_nan=False))
    else:
        print(_format_ranking(result, table))
    _note_written(args.json, table=args.csv)


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


def _add_robustness_command(commands: Any) -> None:
    cmd = _command(
        commands,
        "robustness",
        _run_robustness,
        "local dependence between questions and the stability of the ranking",
        "Yen's Q3 over posterior draws, tests of non-random dependence, clusters "
        "of questions, and the ranking under other distributions of interest (uniform, "
        "cluster-balanced, random use cases) with its stability summary.",
    )
    _add_fit_argument(cmd)
    cmd.add_argument(
        "--groups",
        metavar="COLUMN",
        default="auto",
        help="item metadata column of the question groups (default: the first of category, "
        "benchmark, ... that the data have)",
    )
    _add_json_option(cmd, "print the full result as JSON")
    _add_seed_option(cmd, 0)


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


def _add_audit_command(commands: Any) -> None:
    cmd = _command(
        commands,
        "audit",
        _run_audit,
        "person fit and a contamination screen of the subjects of a saved fit",
        "Posterior predictive person fit (standardised log-likelihood l_z) of every subject, "
        "the items that drive it and, with --item-groups, per subject and group of items "
        "the probability that the subject answers the group better than its ability "
        "predicts (a sign of having seen the questions).",
    )
    _add_fit_argument(cmd)
    cmd.add_argument(
        "--item-groups",
        metavar="COL",
        help="item metadata column whose values group the items (a benchmark, a category, "
        "before/after a date): screen each subject's answers per group",
    )
    cmd.add_argument(
        "--subject-groups",
        metavar="COL",
        help="subject metadata column whose values group the subjects (model family, open or "
        "closed weights): fit the DIF model to the same responses (minutes on a large table) "
        "and report each item's differential functioning between the groups",
    )
    _add_defaulted(
        cmd,
        "--alpha",
        _AUDIT_DEFAULTS["alpha"],
        "flag a subject whose p-value is below ALPHA, a group whose p_better is above 1 - ALPHA",
        type=_open_probability,
    )
    _add_defaulted(
        cmd,
        "--draws",
        _AUDIT_DEFAULTS["n_draws"],
        "posterior draws used, one replication each",
        type=_positive_int,
    )
    _add_defaulted(
        cmd, "--drivers", _AUDIT_DEFAULTS["drivers"], "items named per subject", type=int
    )
    _add_seed_option(cmd, _AUDIT_DEFAULTS["random_seed"])
    _add_json_option(cmd)


def _run_audit(args: argparse.Namespace) -> None:
    idata = load_fit(args.fit)
    if args.subject_groups is not None:
        print(
            f"fitting the DIF model (2pl-dif, dif_by={args.subject_groups!r}) to the fit's "
            "responses ...",
            file=sys.stderr,
            flush=True,
        )
    result = audit(
        idata,
        item_groups=args.item_groups,
        subject_groups=args.subject_groups,
        alpha=args.alpha,
        n_draws=args.draws,
        drivers=args.drivers,
        random_seed=args.seed,
    )
    if args.json:
        print(json.dumps(audit_json(result), indent=2, allow_nan=False))
        return
    subjects = result["subjects"]
    flagged = int(subjects["flagged"].sum())
    print(
        f"person fit of {len(subjects)} subjects, worst first (person_fit: posterior mean "
        f"l_z; p_value: sampled posterior p-value of l_z less its part that moves with the "
        f"ability, flagged below {args.alpha:g}; ppp: "
        f"posterior predictive p-value, conservative; excess: surprising right answers, "
        f"flagged where p_excess is above {1 - args.alpha:g}): {flagged} flagged, "
        f"{int(subjects['flagged_excess'].sum())} by their excess"
    )
    table = subjects.assign(
        flagged=subjects["flagged"].map({True: "FLAG", False: ""}),
        flagged_excess=subjects["flagged_excess"].map({True: "FLAG", False: ""}),
        drivers=subjects["drivers"].map(describe_answers),
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    if "dif_fit" in result:
        diagnostics = result["dif_fit"].iloc[0]
        verdict = "converged" if diagnostics["converged"] else "NOT converged: do not trust it"
        print(f"\nthe DIF model's fit: {verdict} (max R-hat {diagnostics['max_rhat']:.3f})")
    if "items" in result:
        items, dtf = result["items"], result["dtf"]
        slopes = "slope_flagged" in items
        shown = items[items["flagged"] | (items["slope_flagged"] if slopes else False)]
        print(
            "\ndifferential item functioning (logits at equal ability"
            + ("; dif_slope: log ratio of the slopes" if slopes else "")
            + f"; flagged where the {1 - args.alpha:.0%} interval excludes 0: {len(shown)}, "
            f"by the Benjamini-Hochberg rule: {int(items['flagged_fdr'].sum())}"
            + (f" intercepts, {int(items['slope_flagged_fdr'].sum())} slopes" if slopes else "")
            + "):"
        )
        print(shown.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print("\ndifferential test functioning (expected score, focal group minus reference):")
        print(dtf.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    if "groups" in result:
        groups = result["groups"].sort_values("p_better", ascending=False, kind="stable")
        print(
            f"\ncontamination screen by {args.item_groups!r} (p_better: sampled posterior "
            f"probability that the subject answers the group better than its ability "
            f"predicts; flagged above "
            f"{1 - args.alpha:g}): {int(groups['flagged'].sum())} flagged"
        )
        groups = groups.assign(
            flagged=groups["flagged"].map({True: "FLAG", False: ""}),
            suspects=groups["suspects"].map(describe_answers),
        )
        print(groups.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
