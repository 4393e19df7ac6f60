"""``bayesirt summary``, ``rank`` and ``robustness`` in process, and the installed entry point.

The fit they read is LSAT7 (1,000 × 5) written by ``bayesirt fit`` with faked sampling
(``lsat7_fit`` of ``conftest.py``): the tests check the plumbing (exit codes, JSON shapes,
tables, round trips), not the quality of the estimates. One test fits by ADVI with few steps
and checks that the summary of the saved fit gives the numbers of the fit in memory; one runs
the installed entry point in a subprocess; the robustness command on a real fit is marked slow.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayesirt
from bayesirt import load_responses, summarize_fit
from bayesirt.cli import BLAS_WARNING
from bayesirt.inference import ConvergenceWarning, fit, load_fit, save_fit

from .conftest import assert_one_line_error, run

SUBJECT_KEYS = {"subject", "theta_mean", "theta_sd", "theta_lo", "theta_hi"}
ITEM_KEYS_2PL = {
    "item",
    "a_mean",
    "a_sd",
    "intercept_mean",
    "intercept_sd",
    "b_mean",
    "b_sd",
    "b_median",
    "b_lo",
    "b_hi",
    "discriminating",
}
DIAGNOSTIC_KEYS = {"max_rhat", "min_ess_bulk", "divergences"}
RANK_SUBJECT_KEYS = {
    "subject",
    "mean_rank",
    "rank_lo",
    "rank_hi",
    "p_top1",
    "tier",
    "accuracy",
    "accuracy_rank",
}

# The real ADVI fits (few steps) are not meant to converge; the warning itself is tested below.
pytestmark = pytest.mark.filterwarnings("ignore::bayesirt.inference.ConvergenceWarning")


# --------------------------------------------------------- errors and warnings
@pytest.mark.parametrize("command", ["summary", "rank"])
def test_missing_fit_file(capsys, tmp_path, command):
    status, _, err = run(capsys, command, tmp_path / "absent.nc")
    assert_one_line_error(status, err, "no fit file", "absent.nc")


def test_file_that_is_not_a_fit(capsys, tmp_path):
    fake = tmp_path / "fake.nc"
    fake.write_text("not netCDF")
    status, _, err = run(capsys, "summary", fake)
    assert_one_line_error(status, err, "fake.nc")


def test_convergence_warnings_are_shown_and_blas_noise_is_not(capsys, lsat7_fit, monkeypatch):
    def noisy_summary(idata):
        warnings.warn_explicit(BLAS_WARNING, UserWarning, "cmodule.py", 1, "pytensor.link.c")
        for _ in range(2):  # the same warning twice: both must reach the user
            warnings.warn(
                "R-hat 1.2 > 1.01 for theta[subject=p1]", ConvergenceWarning, stacklevel=1
            )
        return summarize_fit(idata)

    monkeypatch.setattr("bayesirt.cli.analysis.summarize_fit", noisy_summary)
    status, out, err = run(capsys, "summary", lsat7_fit[0], "--json")
    assert status == 0
    json.loads(out)
    assert err.count("bayesirt: warning: R-hat 1.2 > 1.01 for theta[subject=p1]") == 2
    assert "BLAS" not in err


# --------------------------------------------------------------------- summary
def test_summary_json_has_the_documented_shape(capsys, lsat7_fit):
    status, out, _ = run(capsys, "summary", lsat7_fit[0], "--json")
    assert status == 0
    summary = json.loads(out, parse_constant=pytest.fail)  # NaN / Infinity tokens fail
    assert set(summary) == {"subjects", "items", "diagnostics"}
    assert len(summary["subjects"]) == 1000
    assert all(set(s) == SUBJECT_KEYS for s in summary["subjects"])
    means = [s["theta_mean"] for s in summary["subjects"]]
    assert means == sorted(means, reverse=True)
    assert all(s["theta_lo"] <= s["theta_mean"] <= s["theta_hi"] for s in summary["subjects"])
    assert [i["item"] for i in summary["items"]] == [f"Item{k}" for k in range(1, 6)]
    assert all(set(i) == ITEM_KEYS_2PL for i in summary["items"])
    assert all(i["a_mean"] > 0 and i["a_sd"] > 0 for i in summary["items"])
    # ADVI: no MCMC diagnostics apply, so they are null rather than the invalid token NaN
    assert summary["diagnostics"] == dict.fromkeys(DIAGNOSTIC_KEYS)


def test_summary_text_lists_best_subject_first(capsys, lsat7_fit):
    status, out, _ = run(capsys, "summary", lsat7_fit[0])
    best = summarize_fit(load_fit(lsat7_fit[0]))["subjects"][0]["subject"]
    assert status == 0
    assert out.index("converged:") < out.index("abilities") < out.index(best)
    assert out.index(best) < out.index("item parameters")


def test_summary_has_asymptotes_only_where_the_posterior_has_them(lsat7_fit):
    idata = load_fit(lsat7_fit[0])
    idata.posterior["c"] = xr.full_like(idata.posterior["a"], 0.2)
    items = summarize_fit(idata)["items"]
    assert all(set(i) == ITEM_KEYS_2PL | {"c_mean", "c_sd"} for i in items)
    assert all(i["c_mean"] == pytest.approx(0.2) for i in items)


def test_summary_flags_items_that_barely_discriminate(capsys, lsat7_fit, tmp_path):
    """b = -intercept / a of an item whose a comes close to 0 has no finite moments: the
    summary gives its median and interval, flags it, and --top shows the best items."""
    idata = load_fit(lsat7_fit[0])
    rng = np.random.default_rng(0)
    a = idata.posterior["a"].copy()
    a[..., 2] = np.abs(rng.normal(0.0, 0.05, size=a[..., 2].shape))
    idata.posterior["a"] = a
    idata.posterior["b"] = -idata.posterior["intercept"] / a
    items = summarize_fit(idata)["items"]
    assert [i["discriminating"] for i in items] == [True, True, False, True, True]
    flat = items[2]
    assert flat["b_lo"] < flat["b_median"] < flat["b_hi"]
    assert abs(flat["b_median"]) < abs(flat["b_mean"])  # the mean chases the near-0 draws
    path = save_fit(idata, tmp_path / "flat.nc")
    status, out, _ = run(capsys, "summary", path, "--top", 2)
    assert status == 0
    assert "1 item(s) barely discriminate" in out
    item_table = out[out.index("item parameters") :]
    assert item_table.count("Item") == 2 and "Item3" not in item_table  # the 2 best only
    subject_table = out[out.index("abilities") : out.index("item parameters")]
    assert len(subject_table.strip().splitlines()) == 1 + 1 + 2  # title, header, 2 rows


def test_save_load_summary_gives_identical_numbers(capsys, lsat7, tmp_path):
    responses = load_responses(lsat7)
    idata = fit(responses, method="advi", advi_iterations=200, draws=20, progressbar=False)
    in_memory = summarize_fit(idata)
    path = save_fit(idata, tmp_path / "roundtrip.nc")
    status, out, _ = run(capsys, "summary", path, "--json")
    assert status == 0
    read = json.loads(out)
    # Labels and order exactly; numbers to 4 significant digits (draws are stored rounded).
    for key in ("subjects", "items"):
        assert [r[key[:-1]] for r in read[key]] == [r[key[:-1]] for r in in_memory[key]]
        for got, want in zip(read[key], in_memory[key], strict=True):
            assert got.keys() == want.keys()
            for name, value in want.items():
                if isinstance(value, float):
                    assert got[name] == pytest.approx(value, rel=5e-5, abs=1e-6), name
                else:
                    assert got[name] == value, name
    assert read["diagnostics"] == in_memory["diagnostics"]


# ------------------------------------------------------------------------ rank
def test_rank_json_has_the_documented_keys(capsys, lsat7_fit, tmp_path):
    table = tmp_path / "out" / "rank.csv"
    status, out, err = run(capsys, "rank", lsat7_fit[0], "--top", 5, "--json", "--csv", table)
    assert status == 0
    ranking = json.loads(out, parse_constant=pytest.fail)
    assert set(ranking) == {"subjects", "p_beats", "tiers"}
    subjects = [s["subject"] for s in ranking["subjects"]]
    assert len(subjects) == 5
    assert all(set(s) == RANK_SUBJECT_KEYS for s in ranking["subjects"])
    mean_ranks = [s["mean_rank"] for s in ranking["subjects"]]
    assert mean_ranks == sorted(mean_ranks)
    assert set(ranking["p_beats"]) == set(subjects)
    assert all(set(row) == set(subjects) - {a} for a, row in ranking["p_beats"].items())
    assert [s for tier in ranking["tiers"] for s in tier] == subjects
    assert list(pd.read_csv(table)["subject"]) == subjects
    assert "table written to" in err


def test_rank_by_score_prints_a_table_with_tiers(capsys, lsat7_fit):
    status, out, _ = run(capsys, "rank", lsat7_fit[0], "--by", "score", "--top", 3)
    assert status == 0
    assert "ranking by score" in out and "tier(s)" in out
    assert "P(top 3)" in out


# ------------------------------------------------------------------ robustness
@pytest.mark.slow  # about 2 minutes: the full robustness analysis behind the command
def test_robustness_reports_dependence_and_ranking_stability(capsys, tmp_path):
    responses, _ = bayesirt.simulate_responses(
        20, 60, model="2pl", seed=8, n_categories=3, clusters=3, cluster_size=10
    )
    path = tmp_path / "clustered.nc"
    idata = bayesirt.fit(
        responses,
        method="advi",
        advi_iterations=3000,
        draws=200,
        random_seed=1,
        progressbar=False,
    )
    bayesirt.save_fit(idata, path)
    status, out, _ = run(capsys, "robustness", path, "--json", "--groups", "category")
    assert status == 0
    payload = json.loads(out)
    assert payload["dependence"]["n_items"] == 60
    assert payload["dependence"]["partition"] == "category"
    assert isinstance(payload["test"]["verdict"], str) and payload["test"]["verdict"]
    subjects = {s["subject"] for s in payload["scenarios"]["subjects"]}
    assert subjects == set(map(str, responses.subjects))
    status, out, _ = run(capsys, "robustness", path)
    assert status == 0 and "verdict:" in out and "largest rank shift" in out


# ------------------------------------------------------------------ subprocess
def test_installed_entry_point(lsat7_fit):
    executable = shutil.which("bayesirt")
    if executable is None:
        pytest.skip("the bayesirt entry point is not installed (pip install -e .)")
    command = [executable, "summary", str(lsat7_fit[0]), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == summarize_fit(load_fit(lsat7_fit[0]))
    assert "Traceback" not in done.stderr and "BLAS" not in done.stderr
