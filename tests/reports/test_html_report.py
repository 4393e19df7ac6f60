"""The HTML diagnostics report: sections, the convergence banner, rendering in Chromium.

Fits are tiny. The default run uses ADVI, whose planted failure is too few optimisation steps
(the loss is still falling, so the fit's diagnostics record a problem); the slow set plants
the failure of the issue, too few tuning steps on a 4PL under NUTS, next to a converged NUTS
fit. The rendering check opens the report in headless Chromium and is skipped only when no
Chromium binary exists.
"""

from __future__ import annotations

import html
import re
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

import bayesirt
from bayesirt.analysis import rank, rank_table
from bayesirt.analysis.ppc import ppc
from bayesirt.analysis.quality import assess_quality
from bayesirt.cli import main
from bayesirt.inference import ConvergenceWarning, fit_info
from bayesirt.inference.fit import ADVI_WINDOW, _LossPlateau
from bayesirt.reports import (
    plot_information,
    plot_item_parameters,
    plot_ppc_discrepancy,
    plot_ppc_histogram,
    plot_ppc_units,
    plot_wright_map,
)
from bayesirt.reports.diagnostics import (
    advi_stopping_rule,
    convergence_table,
    plot_hyperparameter_trace,
    worst_parameters,
)
from bayesirt.reports.report import BANNER_ID, PROGRESS_PREFIX, SECTIONS, build_report
from bayesirt.testing import check_rendering, find_chromium

matplotlib.use("Agg")

ADVI = {"method": "advi", "draws": 100, "chains": 2, "random_seed": 1, "progressbar": False}


@pytest.fixture(scope="module")
def data():
    responses, _ = bayesirt.simulate_responses(25, 60, seed=12, n_categories=3)
    return responses


@pytest.fixture(scope="module")
def clean_fit(data):
    idata = bayesirt.fit(data, model="2pl", advi_iterations=8000, **ADVI)
    assert fit_info(idata)["diagnostics"]["converged"]
    return idata


@pytest.fixture(scope="module")
def failed_fit(data):
    with pytest.warns(ConvergenceWarning, match="ADVI did not converge"):
        idata = bayesirt.fit(data, model="2pl", advi_iterations=40, **ADVI)
    assert not fit_info(idata)["diagnostics"]["converged"]
    return idata


@pytest.fixture(scope="module")
def two_fit_report(clean_fit, failed_fit, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    build_report({"clean": clean_fit, "planted failure": failed_fit}, out=path, n_draws=100)
    return path


def sections_of(document: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)">', document)


def section(document: str, key: str) -> str:
    return re.search(rf'<section id="{key}">.*?</section>', document, re.DOTALL).group(0)


def test_clean_fit_has_no_banner(clean_fit):
    document = build_report(clean_fit, n_draws=50)
    assert BANNER_ID not in document
    assert "CONVERGENCE FAILED" not in document
    assert sections_of(document) == [key for key in SECTIONS if key != "comparison"]


def test_data_section_lists_the_filters(clean_fit):
    filters = pd.DataFrame(
        {
            "kind": ["item", "item", "subject"],
            "label": ["q1", "q2", "m9"],
            "reason": ["accuracy 1.00 above max_accuracy=0.95"] * 2 + ["3 responses below 10"],
            "value": [1.0, 1.0, 3.0],
        }
    )
    document = build_report(clean_fit, filters=filters, n_draws=20)
    data = re.search(r'<section id="data">.*?</section>', document, re.DOTALL).group(0)
    assert "removed 3 label(s)" in data
    assert "3 responses below 10" in data
    assert "none recorded" in build_report(clean_fit, n_draws=20)


def test_failed_fit_shows_the_banner(two_fit_report):
    document = two_fit_report.read_text()
    banner = re.search(rf'<div class="banner" id="{BANNER_ID}".*?</div>', document, re.DOTALL)
    assert banner is not None
    assert "planted failure" in banner.group(0) and "ADVI loss" in banner.group(0)
    assert "clean" not in banner.group(0)  # only the failed fit is named
    assert document.index(BANNER_ID) < document.index('<section id="data">')  # at the top


def test_comparison_by_response_and_by_item(two_fit_report, clean_fit, failed_fit):
    document = two_fit_report.read_text()
    section = re.search(r'<section id="comparison">.*?</section>', document, re.DOTALL).group(0)
    assert "Left out: one response" in section and "Left out: one item" in section
    # the converged fit predicts better than the one stopped after 40 ADVI steps
    table = bayesirt.compare({"clean": clean_fit, "planted failure": failed_fit})
    assert table.index[0] == "clean"
    assert section.index("<th>clean</th>") < section.index("<th>planted failure</th>")


def test_report_is_self_contained(two_fit_report):
    document = two_fit_report.read_text()
    assert sections_of(document) == list(SECTIONS)
    references = re.findall(r'(?:src|href)="([^"]*)"', document)
    assert references, "the report embeds its images and links"
    external = [r for r in references if not r.startswith(("data:", "#"))]
    assert not external
    assert "<script" not in document


def test_page_links_every_section_and_escapes_its_text(clean_fit):
    """The page around the sections (the template): title line, navigation, one heading per
    section; text from the caller is escaped, never read as HTML."""
    title, name = "<b>bold</b> & co", "fit <i>1</i> & 'two'"
    document = build_report({name: clean_fit}, title=title, n_draws=20, progress=False)
    assert document.startswith('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">')
    assert document.endswith("</body></html>\n")
    assert "<b>bold</b>" not in document and "<i>1</i>" not in document
    shown = re.search(r"<title>(.*?)</title>.*?<h1>(.*?)</h1>", document, re.DOTALL).groups()
    assert [html.unescape(text) for text in shown] == [title, title]
    line = re.search(r'<h1>.*?</h1><p class="muted">(.*?)</p>', document).group(1)
    assert f"fits: {name} (first analysed in detail: {name})" in html.unescape(line)
    nav = re.search(r"<nav>(.*?)</nav>", document).group(1)
    keys = [key for key in SECTIONS if key != "comparison"]
    assert re.findall(r'<a href="#([^"]+)">', nav) == sections_of(document) == keys
    headings = re.findall(r'<section id="[^"]+"><h2>(.*?)</h2>', document)
    assert headings == [html.escape(SECTIONS[key]) for key in keys]


@pytest.mark.skipif(find_chromium() is None, reason="no chromium binary on the PATH")
def test_chromium_renders_every_section_and_image(two_fit_report):
    seen = check_rendering(two_fit_report)
    assert seen["sections"] == list(SECTIONS)
    document = two_fit_report.read_text()
    # two fits by ADVI (one chain, no rank plots): 2 traces, 3 checks, item fit, 3 quality
    # figures, the caterpillar and the comparisons by response and by item
    assert seen["images"] == document.count("<figure><img") == 13
    assert seen["images_ok"] == seen["images"], f"broken images: {seen['broken']}"
    assert seen["banner"]
    assert seen["errors"] == []


@pytest.mark.skipif(find_chromium() is None, reason="no chromium binary on the PATH")
def test_chromium_check_sees_a_broken_image(tmp_path):
    """The rendering check can fail: a corrupted image is reported as broken."""
    path = tmp_path / "broken.html"
    path.write_text(
        '<!DOCTYPE html><html><head></head><body><section id="data">'
        '<img src="data:image/png;base64,iVBORw0KGgoAAAA" alt="corrupt"></section></body></html>'
    )
    seen = check_rendering(path)
    assert seen["sections"] == ["data"]
    assert seen["images"] == 1 and seen["images_ok"] == 0
    assert seen["broken"] == ["corrupt"]
    assert not seen["banner"]


def test_plots_return_matplotlib_objects(clean_fit):
    result = ppc(clean_fit, statistics=("total_score", "item_accuracy", "item_fit"), n_draws=40)
    ax = plot_ppc_histogram(result, statistic="item_accuracy")
    assert isinstance(ax, Axes)
    assert len(ax.patches) == result.sizes["bin"]  # one bar per bin
    assert isinstance(plot_ppc_units(result, statistic="item_fit"), Axes)
    assert isinstance(plot_ppc_discrepancy(result, statistic="total_score"), Axes)
    with pytest.raises(ValueError, match="residual_correlation"):
        plot_ppc_discrepancy(result, statistic="residual_correlation")
    quality = assess_quality(clean_fit, item_fit=result)
    assert quality.group == "category"
    axes = plot_item_parameters(quality.items, by=quality.group)
    assert len(axes) == 2
    assert [t.get_text() for t in axes[0].get_xticklabels()] == sorted(
        quality.items["category"].unique(), key=lambda g: -(quality.items["category"] == g).sum()
    )
    assert isinstance(plot_information(quality.information), Axes)
    wright = plot_wright_map(quality.wright)
    assert wright.collections[0].get_offsets().shape[0] == 25  # one point per subject
    trace = plot_hyperparameter_trace(clean_fit)
    assert trace.shape[1] == 2
    matplotlib.pyplot.close("all")


def test_convergence_tables(clean_fit):
    table = convergence_table(clean_fit)
    assert list(table.index) == ["ADVI loss"]
    assert table.loc["ADVI loss", "ok"]
    worst = worst_parameters(clean_fit, n=3)
    assert len(worst) == 3
    assert np.all(np.diff(worst["ess_bulk"].to_numpy()) >= 0)  # one chain: by ESS


def test_report_command(clean_fit, tmp_path, capsys):
    fit_path = bayesirt.save_fit(clean_fit, tmp_path / "clean.nc")
    out = tmp_path / "out" / "report.html"
    assert main(["report", str(fit_path), "--out", str(out), "--draws", "40"]) == 0
    assert sections_of(out.read_text()) == [key for key in SECTIONS if key != "comparison"]
    assert f"report written to {out}" in capsys.readouterr().out
    assert main(["report", str(fit_path), "--out", str(tmp_path / "report.txt")]) == 2
    assert "--out must end in .html" in capsys.readouterr().err


@pytest.mark.slow
def test_nuts_banner_on_a_4pl_with_too_few_tuning_steps(data, tmp_path):
    """The planted failure of the issue, next to a NUTS fit that converges."""
    small, _ = bayesirt.simulate_responses(20, 30, seed=2)
    clean = bayesirt.fit(small, model="2pl", draws=1000, tune=500, random_seed=3, progressbar=False)
    assert fit_info(clean)["diagnostics"]["converged"], fit_info(clean)["diagnostics"]
    assert BANNER_ID not in build_report(clean, n_draws=100)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        planted = bayesirt.fit(
            small, model="4pl", draws=100, tune=10, random_seed=3, progressbar=False
        )
    problems = fit_info(planted)["diagnostics"]["problems"]
    assert problems
    document = build_report({"4pl tune=10": planted, "2pl": clean}, n_draws=100)
    banner = re.search(rf'<div class="banner" id="{BANNER_ID}".*?</div>', document, re.DOTALL)
    assert banner is not None and "4pl tune=10" in banner.group(0)
    assert html.escape(problems[0]) in banner.group(0)


# ------------------------------------------------------------------ issue 18
def _settings(idata) -> dict:
    return fit_info(idata)["inference"]


def test_advi_stopping_rule_text_is_the_codes_rule():
    """The words of :func:`advi_stopping_rule` against what ``_LossPlateau`` does: from step
    2·W on, every W steps, stop once the median loss fell by less than twice its standard
    error between the window of W steps that ends halfway through the run and the last one
    (W = ADVI_WINDOW)."""
    w = ADVI_WINDOW
    text = advi_stopping_rule(12_345)
    assert f"every {w:,} steps" in text and f"From step {2 * w:,} on" in text
    assert f"the last {w:,} steps" in text and f"W = {w:,}" in text
    assert "less than twice its standard error" in text and "median" in text
    assert "halfway through the run" in text
    assert "12,345 steps" in text
    assert "0.1%" not in text and "10%" not in text  # the old, wrong rule

    def stops(losses, step):
        plateau = _LossPlateau()
        try:
            plateau(None, np.asarray(losses), step)
        except StopIteration:
            return True
        return False

    wiggle = np.tile([-1.0, 1.0], w // 2)  # median 0, MAD 1 in each window
    stderr = np.sqrt(np.pi / 2) * 1.4826 * np.sqrt(2.0 / w)
    for factor, expected in ((1.9, True), (2.1, False)):
        losses = np.concatenate([wiggle + 10.0 + factor * stderr, wiggle + 10.0])
        assert stops(losses, 2 * w) is expected, factor  # "less than twice"
    flat = np.tile(wiggle, 3) + 10.0  # no decrease at all
    assert stops(flat[: 2 * w], 2 * w)  # "from step 2·W on" ...
    assert not stops(flat[: 2 * w - 1], 2 * w - 1)
    assert not stops(flat, 2 * w + 1)  # ... "every W steps"
    assert stops(flat, 3 * w)
    # "halfway": a slow, steady fall less than the noise from one window to the next, but
    # more than it over the second half of the run, goes on
    slow = np.concatenate([wiggle + 10.0 - k * 1.5 * stderr for k in range(4)])
    assert not stops(slow, 4 * w)
    settled = np.concatenate([slow[:w], *[slow[w : 2 * w]] * 3])  # flat from step W on
    assert stops(settled, 4 * w)
    # rare huge losses of single draws do not pass a steeply falling loss for a settled one
    spiky = np.concatenate([wiggle + 20.0, wiggle + 10.0])
    spiky[::50] = 1e6
    assert not stops(spiky, 2 * w)


def test_report_states_the_advi_rule_of_each_fit(two_fit_report, clean_fit, failed_fit):
    document = two_fit_report.read_text()
    convergence = html.unescape(section(document, "convergence"))
    assert "0.1%" not in convergence  # the old, wrong rule
    for idata, verdict in ((clean_fit, "settled"), (failed_fit, "still falling")):
        settings = _settings(idata)
        assert advi_stopping_rule(settings["advi_iterations"]) in convergence
        table = convergence_table(idata)
        row = table.loc["ADVI loss"]
        assert row["value"] == f"{verdict} after {settings['advi_steps']:,} steps"
        assert f"{ADVI_WINDOW:,} steps" in row["target"]
        assert f"at most {settings['advi_iterations']:,} steps" in row["target"]
        assert row["ok"] == settings["advi_converged"] == (verdict == "settled")
        assert row["target"] in convergence


@pytest.fixture(scope="module")
def eight_subjects_fit():
    small, _ = bayesirt.simulate_responses(8, 40, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return bayesirt.fit(small, model="2pl", advi_iterations=3000, **ADVI)


def test_p_top_k_only_below_the_number_of_subjects(eight_subjects_fit, tmp_path, capsys):
    result = rank(eight_subjects_fit, top_k=(1, 3, 7, 8, 10), n_boot=20)
    assert result.sizes["subject"] == 8
    p_top = [c for c in rank_table(result).columns if c.startswith("p_top")]
    assert p_top == ["p_top1", "p_top3", "p_top7"]  # P(top 8) = P(top 10) = 1 for everyone
    # a selection of rows keeps the columns of the whole ranking
    assert "p_top3" in rank_table(result.isel(subject=[0, 1])).columns

    document = build_report(eight_subjects_fit, n_draws=20, progress=False)
    ranking = section(document, "ranking")
    assert "<th>P(top 1)</th>" in ranking and "<th>P(top 3)</th>" in ranking
    assert "top 10" not in ranking and "top10" not in ranking

    fit_path = bayesirt.save_fit(eight_subjects_fit, tmp_path / "eight.nc")
    assert main(["rank", str(fit_path)]) == 0
    out = capsys.readouterr().out
    assert "P(top 3)" in out and "P(top 10)" not in out


def _progress_lines(err: str) -> list[str]:
    return [line.removeprefix(PROGRESS_PREFIX) for line in err.splitlines()
            if line.startswith(PROGRESS_PREFIX)]  # fmt: skip


def test_report_prints_one_progress_line_per_section(clean_fit, capsys):
    capsys.readouterr()
    document = build_report(clean_fit, n_draws=20)
    lines = _progress_lines(capsys.readouterr().err)
    titles = [SECTIONS[key].lower() for key in sections_of(document)]
    assert len(lines) == len(titles) + 1
    for line, title in zip(lines, titles, strict=False):
        assert line.startswith(title) and line.endswith(" ..."), (line, title)
    assert re.fullmatch(r"done in \d+ s", lines[-1])

    build_report(clean_fit, n_draws=20, progress=False)
    assert _progress_lines(capsys.readouterr().err) == []


def test_report_command_shows_progress(clean_fit, tmp_path, capsys):
    fit_path = bayesirt.save_fit(clean_fit, tmp_path / "clean.nc")
    out = tmp_path / "report.html"
    capsys.readouterr()
    assert main(["report", str(fit_path), "--out", str(out), "--draws", "20"]) == 0
    lines = _progress_lines(capsys.readouterr().err)
    assert lines[0].startswith("data") and lines[-1].startswith("done in")
    assert any(line.startswith("posterior predictive checks (20 draws)") for line in lines)
