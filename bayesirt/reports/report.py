"""The diagnostics report: one self-contained HTML file about one or several fits.

:func:`build_report` writes every section a reader needs to decide whether a fit can be
trusted and what it says about the benchmark (:data:`SECTIONS`): the data, convergence
(with a banner that cannot be missed when any fit failed its checks), posterior predictive
checks, item fit with the table of flagged items, benchmark quality, the ranking with its
uncertainty, and the comparison of the fits when there are several (PSIS-LOO by response and
by item, :func:`bayesirt.analysis.compare.compare`). The first fit is the one
analysed in detail; every fit gets its convergence section.

The report only draws: the analyses behind its sections are run by
:func:`bayesirt.analysis.report_inputs.report_inputs`, and the functions here turn their
results into HTML fragments (tables, figures, the sentences around their numbers). The page
around them (head, style sheet, title line, convergence banner, navigation and the frame of
each section) is the Jinja2 template ``templates/report.html.j2`` of this package, rendered
with autoescaping: every value is escaped unless it is a fragment marked
:class:`markupsafe.Markup` here.

The file needs no network: figures are PNG images embedded as base64 ``data:`` URIs, the
style sheet is inline, there is no script, and the full flagged-items table is embedded as
a CSV download link. :func:`bayesirt.testing.check_rendering` opens a report in headless
Chromium and reports the sections and images the browser sees.
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import html
import io
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import arviz as az
import jinja2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from markupsafe import Markup
from matplotlib.figure import Figure

from bayesirt._version import __version__
from bayesirt.analysis.posterior import fitted_responses
from bayesirt.analysis.ppc import ppc_table, ppc_unit_table
from bayesirt.analysis.quality import FLAGS
from bayesirt.analysis.ranking import rank_table
from bayesirt.analysis.report_inputs import ReportInputs, report_inputs
from bayesirt.inference.io import CONFIG_ATTR, data_fingerprint, fit_config, fit_settings
from bayesirt.reports.audit import (
    describe_answers,
    plot_contamination,
    plot_dif,
    plot_person_fit,
)
from bayesirt.reports.diagnostics import (
    advi_stopping_rule,
    convergence_table,
    fit_diagnostics,
    hyperparameter_names,
    plot_hyperparameter_trace,
    plot_worst_rank,
)
from bayesirt.reports.ppc import plot_ppc_discrepancy, plot_ppc_histogram, plot_ppc_units
from bayesirt.reports.quality import plot_information, plot_item_parameters, plot_wright_map
from bayesirt.reports.ranking import plot_rank_caterpillar

__all__ = ["SECTIONS", "build_report"]

#: Section ids of the report and their titles, in order (``comparison`` only with 2+ fits).
SECTIONS = {
    "data": "Data",
    "convergence": "Convergence",
    "ppc": "Posterior predictive checks",
    "item-fit": "Item fit and flagged items",
    "quality": "Benchmark quality",
    "ranking": "Ranking with uncertainty",
    "person-fit": "Person fit",
    "comparison": "Model comparison",
}
#: Id of the banner shown when a fit failed its convergence checks.
BANNER_ID = "convergence-failure"
#: Most subjects drawn in the caterpillar plot.
MAX_CATERPILLAR = 60
#: Start of the progress lines that :func:`build_report` prints on stderr.
PROGRESS_PREFIX = "bayesirt: report: "

#: The page template, in ``templates/`` beside this module.
TEMPLATE = "report.html.j2"


@functools.cache
def _template() -> jinja2.Template:
    """The page template: autoescaped, strict about undefined names, and with the final
    newline of the file kept."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("bayesirt.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return environment.get_template(TEMPLATE)


# ------------------------------------------------------------------------ HTML helpers
def _esc(text: object) -> str:
    return html.escape(str(text))


def _figure(drawn, caption: str) -> str:
    """Embed the figure behind ``drawn`` (Figure, Axes or array of Axes) as a PNG."""
    if isinstance(drawn, Figure):
        fig = drawn
    else:
        fig = np.ravel(np.asarray(drawn, dtype=object))[0].figure
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(caption)}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _table(frame: pd.DataFrame, *, digits: int = 3, index: bool = True) -> str:
    def fmt(value):
        if isinstance(value, float | np.floating):
            return "–" if np.isnan(value) else f"{value:.{digits}g}"
        return value

    shown = frame.map(fmt) if len(frame) else frame
    return shown.to_html(index=index, escape=True, border=0, na_rep="–")


def _csv_link(frame: pd.DataFrame, filename: str, text: str) -> str:
    data = base64.b64encode(frame.to_csv().encode("utf-8")).decode("ascii")
    return f'<a download="{_esc(filename)}" href="data:text/csv;base64,{data}">{_esc(text)}</a>'


def _section(key: str, body: list[str]) -> tuple[str, Markup]:
    """A section for the template: its id and its HTML fragments (under its heading)."""
    return key, Markup("\n".join(body))


def _unavailable(what: str, err: object) -> str:
    return f'<p class="note">{_esc(what)} is not available for this fit: {_esc(err)}</p>'


# --------------------------------------------------------------------------- sections
def _failed_fits(names: list[str], fits: list) -> list[dict]:
    """Name, method and problems of each fit that failed its convergence checks (the
    template's banner lists them)."""
    failed = []
    for name, idata in zip(names, fits, strict=True):
        diag = fit_diagnostics(idata)
        if not diag.converged:
            failed.append({"name": name, "method": diag.method, "problems": diag.problems})
    return failed


def _data_section(idata, filters: pd.DataFrame | None) -> tuple[str, Markup]:
    responses = fitted_responses(idata)
    summary = responses.summary()
    config = fit_config(idata)
    inference = fit_settings(idata) or {}
    rows = {
        "subjects": summary["n_subjects"],
        "items": summary["n_items"],
        "observed responses": summary["n_observed"],
        "missing cells": f"{summary['fraction_missing']:.1%}",
        "mean accuracy": f"{summary['mean_accuracy']:.3f}",
        "items answered alike by all": len(responses.constant_items()),
        "item metadata": ", ".join(summary["item_metadata"]) or "none",
        "subject metadata": ", ".join(summary["subject_metadata"]) or "none",
        "model": config["model"]
        + (f" (pooled by {config['pool_by']})" if config.get("pool_by") else ""),
        "inference": ", ".join(f"{k}={v}" for k, v in inference.items()),
        "data fingerprint": (data_fingerprint(idata) or "")[:16],
    }
    body = [_table(pd.DataFrame({"value": rows}).rename_axis(""))]
    if filters is None:
        body.append(
            '<p class="muted">Filters applied before fitting: none recorded (the fit stores '
            "the data it was given; pass the removal record of bayesirt.data.filters to show "
            "them).</p>"
        )
    elif len(filters) == 0:
        body.append("<p>Filters applied before fitting: they removed nothing.</p>")
    else:
        counts = filters.groupby(["kind", "reason"]).size().rename("removed").reset_index()
        body.append(f"<p>Filters applied before fitting removed {len(filters)} label(s):</p>")
        body.append(_table(counts, index=False))
    return _section("data", body)


def _convergence_section(names: list[str], fits: list) -> tuple[str, Markup]:
    overview = pd.DataFrame(
        [
            {
                "fit": name,
                "method": (diag := fit_diagnostics(idata)).method,
                "converged": "yes" if diag.converged else "NO",
                "problems": "; ".join(diag.problems) or "none",
            }
            for name, idata in zip(names, fits, strict=True)
        ]
    )
    body = [_table(overview, index=False)]
    for name, idata in zip(names, fits, strict=True):
        diag = fit_diagnostics(idata)
        body.append(f"<h3>{_esc(name)}</h3>")
        table = convergence_table(idata)
        body.append(_table(table.assign(ok=table["ok"].map({True: "yes", False: "NO"}))))
        if diag.method == "advi":
            settings = fit_settings(idata) or {}
            body.append(
                '<p class="note">Fitted by ADVI: R-hat, ESS, divergences and E-BFMI do not '
                "apply, and mean-field intervals are too narrow. Use NUTS before trusting the "
                "intervals and tiers below.</p>"
            )
            body.append(
                f"<p><b>When ADVI stops.</b> "
                f"{_esc(advi_stopping_rule(settings.get('advi_iterations')))}</p>"
            )
        hyper = hyperparameter_names(idata)
        if hyper:
            kind = "stats" if idata.posterior.sizes["chain"] < 2 else "all"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                summary = az.summary(idata, var_names=hyper, kind=kind)
            body.append(_table(summary))
            body.append(
                _figure(
                    plot_hyperparameter_trace(idata),
                    f"{name}: trace of the hyperparameters (left: density per chain; right: draws)",
                )
            )
        if idata.posterior.sizes["chain"] >= 2:
            body.append(
                _figure(
                    plot_worst_rank(idata),
                    f"{name}: rank plots of the parameters "
                    "with the largest R-hat (uniform bars = chains agree)",
                )
            )
        else:
            body.append('<p class="muted">Rank plots need two or more chains.</p>')
    return _section("convergence", body)


def _ppc_section(result) -> tuple[str, Markup]:
    table = ppc_table(result)
    body = [
        f"<p>{result.attrs['n_draws']} posterior draws, one replication of the whole data "
        "set each (missing cells stay missing). ppp: posterior predictive p-value of the "
        "global discrepancy (mid-p); values beyond 0.025 or 0.975 mean the model does not "
        "reproduce that aspect of the data. n_extreme counts units whose own two-sided "
        "p-value is below 0.05, next to the n_expected = 0.05 × units that uniform p-values "
        "would give.</p>",
        _table(table),
        _figure(
            plot_ppc_histogram(result, statistic="total_score"),
            "Distribution of the subjects' proportions correct, observed and replicated",
        ),
        _figure(
            plot_ppc_histogram(result, statistic="item_accuracy"),
            "Distribution of the item accuracies, observed and replicated",
        ),
        _figure(
            plot_ppc_discrepancy(result, statistic="residual_correlation"),
            "Mean |Q3| of the observed residuals against replicated ones, per draw",
        ),
    ]
    pairs = ppc_unit_table(result, "residual_correlation").head(10)
    body.append(
        f"<p>Item pairs with the most extreme residual correlation "
        f"({_esc(result.attrs['residual_correlation_method'])}): among many pairs some reach "
        "small p-values by chance; read them as candidates for a shared passage or topic.</p>"
    )
    body.append(_table(pairs.reset_index(), index=False))
    return _section("ppc", body)


def _item_fit_section(quality, result) -> tuple[str, Markup]:
    flagged = quality.flagged
    attrs = flagged.attrs
    counts = flagged["reasons"].str.split("; ").explode().value_counts()
    summary = pd.DataFrame(
        {"items": [int(counts.get(flag, 0)) for flag in FLAGS], "what to do": list(FLAGS.values())},
        index=pd.Index(list(FLAGS), name="flag"),
    )
    body = [
        f"<p>{len(flagged)} of {attrs['n_items']} items are flagged. <b>Against ability</b>: "
        "observed item–rest correlation negative and below what the model replicates "
        f"(posterior predictive p_low &lt; {attrs['alpha']:g}, {attrs['n_draws']} draws). "
        f"<b>Expected by chance: at most about {attrs['n_against_expected']:.1f}</b> of the "
        f"{int(counts.get('against ability', 0))} against-ability flags (the number the check "
        "would give if the data came from the fitted model; an upper estimate, since each "
        "item's own parameters were fitted to its answers): when the two are close, many of "
        "these flags may be noise, and the rows at the top deserve a look first. "
        "<b>Near-zero discrimination</b>: "
        f"P(a &lt; {attrs['a_min']:g}) ≥ 0.5. <b>Saturated</b>: accuracy ≤ "
        f"{attrs['min_accuracy']:g} or ≥ {attrs['max_accuracy']:g}.</p>",
        _table(summary),
        "<p>"
        + _csv_link(flagged, "flagged_items.csv", "Download the full flagged-items table (CSV)")
        + "</p>",
        _table(flagged.drop(columns="action").head(50)),
    ]
    if len(flagged) > 50:
        body.append(f'<p class="muted">First 50 of {len(flagged)} rows shown.</p>')
    body.append(
        _figure(
            plot_ppc_units(result, statistic="item_fit"),
            "Item–rest correlation per item: observed against replicated",
        )
    )
    return _section("item-fit", body)


def _quality_section(quality) -> tuple[str, Markup]:
    info = quality.information.attrs
    segments = info["precise_segments"]
    where = " and ".join(f"[{lo:.2f}, {hi:.2f}]" for lo, hi in segments) if segments else "nowhere"
    clipped = " (reaching the edge of the ability grid)" if info["precise_clipped"] else ""
    saturated = int(quality.flagged["reasons"].str.contains("saturated").sum())
    low_a = int(quality.flagged["reasons"].str.contains("near-zero").sum())
    body = [
        f"<p>The benchmark measures ability with a standard error ≤ {info['se_max']:g} (test "
        f"information ≥ {info['se_max'] ** -2:.1f}, posterior median) for θ in {where}"
        f"{clipped}. {info['n_subjects_precise']} of {info['n_subjects']} subjects lie there; "
        f"{info['n_subjects_below']} below and {info['n_subjects_above']} above. "
        f"{saturated} item(s) are saturated and {low_a} have near-zero discrimination.</p>",
        _figure(
            plot_information(quality.information),
            "Test information with its interval, item information curves, precise range",
        ),
        _figure(
            plot_item_parameters(quality.items, by=quality.group),
            f"Item parameters by {quality.group or 'item'} (posterior means)",
        ),
        _figure(plot_wright_map(quality.wright), "Wright map"),
    ]
    return _section("quality", body)


def _ranking_section(ranking, quality) -> tuple[str, Markup]:
    sep = quality.separability
    table = rank_table(ranking)
    # P(top k) only for k below the number of subjects: rank_table leaves the others out
    p_top = [column for column in table.columns if column.startswith("p_top")]
    shown = table[
        [
            "tier",
            "mean_rank",
            "rank_lo",
            "rank_hi",
            *p_top,
            "theta",
            "theta_lo",
            "theta_hi",
            "accuracy",
            "accuracy_rank",
            "p_beats_next",
        ]
    ].rename(columns={column: f"P(top {column.removeprefix('p_top')})" for column in p_top})
    body = [
        f"<p>{len(ranking.attrs['tiers'])} tier(s) at posterior probability "
        f"{ranking.attrs['level']:g}; {ranking.attrs['n_separated']} of "
        f"{ranking.attrs['n_adjacent']} adjacent pairs separated. {_esc(sep.sentence)} "
        f"Kendall τ between the accuracy leaderboard and the posterior order: "
        f"{ranking.attrs['kendall_tau']:.3f}.</p>",
        _figure(
            plot_rank_caterpillar(ranking, top=MAX_CATERPILLAR),
            "Abilities in posterior order with intervals, coloured by tier (odd tiers in "
            "blues, even tiers in oranges, so neighbouring tiers always differ)",
        ),
        _table(shown.head(MAX_CATERPILLAR)),
    ]
    return _section("ranking", body)


def _person_fit_section(result: dict[str, pd.DataFrame]) -> tuple[str, Markup]:
    subjects = result["subjects"]
    alpha = subjects.attrs["alpha"]
    flagged = subjects[subjects["flagged"]]
    shown = subjects.head(max(10, len(flagged)))
    shown = shown.assign(drivers=shown["drivers"].map(describe_answers))
    body = [
        f"<p>{len(flagged)} of {len(subjects)} subjects flagged: their answers fit the model "
        "worse than its own replications do (sampled posterior p-value of the standardised "
        "log-likelihood l<sub>z</sub>, less its part that moves with the ability, below "
        f"{alpha:g}; under the model a clean subject is "
        f"flagged with probability {alpha:g}, so about {alpha * len(subjects):.1f} of "
        f"{len(subjects)} are expected by chance). Failing easy questions while solving hard "
        "ones (a model that has seen some of the questions) lowers l<sub>z</sub>; the "
        "drivers are each subject's most surprising answers. ppp: the posterior predictive "
        "p-value, conservative.</p>",
        _figure(plot_person_fit(subjects), "Person-fit p-value of every subject, worst first"),
        _table(shown.set_index("subject")),
    ]
    if "groups" in result:
        body += _screen_body(result["groups"], alpha)
    else:
        body.append(
            "<p>With an item metadata column (<code>bayesirt report ... --item-groups COL"
            "</code> or <code>bayesirt audit FIT --item-groups COL</code>) each subject's "
            "answers are also screened per group of items.</p>"
        )
    if "items" in result:  # a fit of the DIF model
        items, dtf = result["items"], result["dtf"]
        body += [
            f"<p>Differential item functioning: {int(items['flagged'].sum())} item effect(s) "
            f"whose {1 - alpha:.0%} interval excludes 0, {int(items['flagged_fdr'].sum())} by "
            f"the Benjamini–Hochberg rule at {alpha:g}"
            + (
                f"; on the slopes {int(items['slope_flagged'].sum())} and "
                f"{int(items['slope_flagged_fdr'].sum())}"
                if "slope_flagged" in items
                else ""
            )
            + ". Differential test functioning "
            "(expected score, focal group minus reference, at equal ability):</p>",
            _table(dtf.set_index("group"), digits=3),
            _figure(plot_dif(items), "The largest DIF effects with their intervals"),
        ]
    return _section("person-fit", body)


def _screen_body(groups: pd.DataFrame, alpha: float) -> list:
    """The contamination screen: its plot and the most suspicious (subject, group) rows."""
    flagged = groups[groups["flagged"]]
    shown = groups.sort_values("p_better", ascending=False, kind="stable")
    shown = shown.head(max(10, len(flagged)))
    shown = shown.assign(suspects=shown["suspects"].map(describe_answers))
    return [
        f"<p>Screen per group of items: {len(flagged)} of {len(groups)} (subject, group) "
        f"pairs flagged, where the subject answers the group better than its ability "
        f"predicts (sampled posterior p_better above {1 - alpha:g}; about "
        f"{alpha * len(groups):.1f} expected by chance). Contamination is often partial: a "
        "subject flagged in one group only, with its person fit low in that group, is the "
        "pattern of a model that saw those questions; its suspects are the group's right "
        "answers that the model found least likely.</p>",
        _figure(plot_contamination(groups, alpha=alpha), "p_better of every subject per group"),
        _table(shown.set_index(["subject", "group"])),
    ]


def _comparison_section(inputs: ReportInputs) -> tuple[str, Markup]:
    if inputs.comparison is None:  # only called with two or more fits
        return _section(
            "comparison",
            [
                '<p class="note">The fits were made on different data (their fingerprints '
                "differ), so their predictive accuracy cannot be compared.</p>"
            ],
        )
    questions = {
        "response": "which model better predicts a missing answer of a known subject on a "
        "known question (judges the response model and its local dependence)",
        "item": "which model better predicts the answers to a new question from the same "
        "benchmark (questions as a sample of a population of questions)",
    }
    body = [
        "<p>PSIS-LOO (bayesirt.compare). elpd_diff is the difference to the best fit and dse "
        "its standard error; a difference within about two dse is not a clear preference. "
        "n_bad_k counts held-out units whose Pareto k exceeds k_threshold: their terms are "
        "unreliable, and so is the comparison when they are many.</p>"
    ]
    columns = [
        "rank",
        "elpd_loo",
        "p_loo",
        "elpd_diff",
        "dse",
        "weight",
        "n_units",
        "n_bad_k",
        "max_k",
        "bad_k_units",
    ]
    for unit, table in inputs.comparison.items():
        body.append(f"<h3>Left out: one {_esc(unit)}</h3><p>Asks {_esc(questions[unit])}.</p>")
        body.append(_table(table[columns]))
        body.append(_figure(az.plot_compare(table), f"LOO by {unit}: elpd with standard errors"))
    return _section("comparison", body)


# --------------------------------------------------------------------------- entry point
def build_report(
    fits,
    *,
    out: str | Path | None = None,
    title: str = "bayesirt diagnostics report",
    filters: pd.DataFrame | None = None,
    se_max: float = 0.3,
    alpha: float = 0.05,
    a_min: float = 0.25,
    top: int = 10,
    level: float = 0.95,
    n_draws: int | None = 400,
    random_seed: int = 0,
    item_groups: str | None = None,
    progress: bool = True,
) -> str:
    """Build the HTML diagnostics report of one or several fits; write it to ``out`` if given.

    Parameters
    ----------
    fits : InferenceData, sequence of InferenceData, or mapping of name to InferenceData
        Fits made by :func:`bayesirt.fit`. The first is analysed in detail; all get a
        convergence section, and with two or more fitted on the same data a LOO comparison.
    out : path, optional
        Where to write the HTML file (folders are created).
    title : str
        Heading of the report.
    filters : pandas.DataFrame, optional
        The removal record of :mod:`bayesirt.data.filters` (columns ``kind``, ``label``,
        ``reason``, ``value``) of the filters applied before fitting.
    se_max, alpha, a_min, top, level
        As in :func:`bayesirt.analysis.quality.assess_quality`.
    n_draws : int or None
        Posterior draws of the posterior predictive checks (one replication each).
    random_seed : int
        Seed of the checks.
    item_groups : str, optional
        Item metadata column of the first fit's responses (a benchmark, a category,
        before/after a date): the person-fit section adds the screen of each subject's
        answers per group (the contamination screen of
        :func:`~bayesirt.analysis.audit.audit`).
    progress : bool
        Print one short line on stderr as each section starts (``bayesirt: report: ...``)
        and the time taken at the end; a large fit takes minutes. From the posterior
        predictive checks on, a section starts with its analysis
        (:func:`~bayesirt.analysis.report_inputs.report_inputs`, which runs them all before
        any of their figures is drawn).

    Returns
    -------
    str
        The HTML document.
    """
    if isinstance(fits, az.InferenceData):
        fits, names = [fits], ["fit"]
    elif isinstance(fits, Mapping):
        names, fits = [str(k) for k in fits], list(fits.values())
    elif isinstance(fits, Sequence):
        fits = list(fits)
        names = [f"fit {k + 1}" for k in range(len(fits))]
    else:
        raise TypeError(
            "fits must be an InferenceData, a sequence of them or a mapping of names to them, "
            f"got {type(fits).__name__}"
        )
    if not fits:
        raise ValueError("build_report needs at least one fit")
    for name, idata in zip(names, fits, strict=True):
        if fit_config(idata) is None:
            raise ValueError(f"{name} is not a bayesirt fit (no {CONFIG_ATTR} attribute)")
    primary = fits[0]
    if item_groups is not None:  # a missing column is named before any section is built
        fitted_responses(primary).item_groups(item_groups)
    started = time.perf_counter()
    say = _progress(progress)
    lines = {
        "ppc": f"{SECTIONS['ppc']} ({n_draws if n_draws is not None else 'all'} draws)",
        "comparison": f"{SECTIONS['comparison']} (PSIS-LOO by response and by item)",
    }

    say(SECTIONS["data"])
    sections = [_data_section(primary, filters)]
    say(f"{SECTIONS['convergence']} ({len(fits)} fit{'s' if len(fits) > 1 else ''})")
    sections.append(_convergence_section(names, fits))
    inputs = report_inputs(
        dict(zip(names, fits, strict=True)),
        se_max=se_max,
        alpha=alpha,
        a_min=a_min,
        top=top,
        level=level,
        n_draws=n_draws,
        random_seed=random_seed,
        item_groups=item_groups,
        progress=lambda stage: say(lines.get(stage, SECTIONS[stage])),
    )
    if inputs.checks is None:
        sections.append(_section("ppc", [_unavailable(SECTIONS["ppc"], inputs.unavailable)]))
    else:
        sections.append(_ppc_section(inputs.checks))
    if inputs.quality is None:
        for key in ("item-fit", "quality", "ranking"):
            sections.append(_section(key, [_unavailable(SECTIONS[key], inputs.unavailable)]))
    else:
        sections.append(_item_fit_section(inputs.quality, inputs.checks))
        sections.append(_quality_section(inputs.quality))
        sections.append(_ranking_section(inputs.ranking, inputs.quality))
    if inputs.person_fit is None:
        sections.append(
            _section("person-fit", [_unavailable(SECTIONS["person-fit"], inputs.unavailable)])
        )
    else:
        sections.append(_person_fit_section(inputs.person_fit))
    if len(fits) > 1:
        sections.append(_comparison_section(inputs))

    document = _template().render(
        title=title,
        version=__version__,
        stamp=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        names=names,
        banner_id=BANNER_ID,
        failed=_failed_fits(names, fits),
        sections=[(key, SECTIONS[key], body) for key, body in sections],
    )
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(document, encoding="utf-8")
    say(f"done in {time.perf_counter() - started:.0f} s", end="")
    return document


def _progress(enabled: bool):
    """A function that prints ``bayesirt: report: <what> ...`` on stderr when ``enabled``."""

    def say(what: str, end: str = " ...") -> None:
        if enabled:
            print(
                f"{PROGRESS_PREFIX}{what[:1].lower()}{what[1:]}{end}", file=sys.stderr, flush=True
            )

    return say
