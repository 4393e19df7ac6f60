"""``bayesirt fit`` and ``bayesirt demo`` in process: errors before any fit, what a fit writes.

The fit whose output is checked is one of LSAT7 (1,000 × 5) with faked sampling (``lsat7_fit``
of ``conftest.py``): the tests check the plumbing, not the estimates. The NUTS demo, which
checks its estimates against the truth, is marked slow.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from bayesirt import summarize_fit
from bayesirt.inference import load_fit
from bayesirt.models import MODELS

from .conftest import assert_one_line_error, run


# ---------------------------------------------------------------------- errors
def test_unknown_model_is_one_line_error(capsys, lsat7):
    status, out, err = run(capsys, "fit", lsat7, "--model", "5pl")
    assert_one_line_error(status, err, "'5pl'", *MODELS)
    assert status == 2 and out == ""


def test_missing_column_names_the_column(capsys, tmp_path):
    table = tmp_path / "long.csv"
    table.write_text("model,question,correct\nm1,q1,1\nm2,q1,0\n")
    status, _, err = run(capsys, "fit", table, "--subject", "model", "--item", "question")
    assert_one_line_error(status, err, "column(s) not found", "'response'", "'correct'")
    assert status == 1


def test_non_binary_responses_are_refused(capsys, tmp_path):
    table = tmp_path / "graded.csv"
    table.write_text("subject,item,response\nm1,q1,0.5\nm1,q2,1\nm2,q1,0\nm2,q2,1\n")
    status, _, err = run(capsys, "fit", table, "--out", tmp_path / "graded.nc")
    assert_one_line_error(status, err, "non-binary", "0.5")
    assert not (tmp_path / "graded.nc").exists()


def test_missing_optional_sampler_says_what_to_install(capsys, lsat7, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "numpyro", None)  # import numpyro now raises ImportError
    status, _, err = run(capsys, "fit", lsat7, "--sampler", "numpyro", "--out", tmp_path / "x.nc")
    assert_one_line_error(status, err, "numpyro", "pip install")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--method", "advi", "--tune", "10"], "--tune: only for --method nuts"),
        (["--method", "nuts", "--advi-iterations", "10"], "--advi-iterations: only for"),
        (["--out", "fit.txt"], "end in .nc"),
    ],
)
def test_options_are_checked_before_fitting(capsys, lsat7, args, fragment):
    status, _, err = run(capsys, "fit", lsat7, *args)
    assert_one_line_error(status, err, fragment)
    assert status == 2


def test_shipped_data_take_no_file_options(capsys):
    status, _, err = run(capsys, "fit", "example", "--subject", "model")
    assert_one_line_error(status, err, "--subject", "'example'")


def test_unknown_dataset_lists_the_known_ones(capsys):
    status, _, err = run(capsys, "fit", "dataset:nope")
    assert_one_line_error(status, err, "'nope'", "chembench")


# ------------------------------------------------------------------ fit output
def test_fit_writes_the_fit_and_its_card(lsat7_fit):
    path, printed = lsat7_fit
    card = path.with_name("lsat7.card.md")
    assert path.is_file() and card.is_file()
    assert f"fit written to {path}" in printed and f"card written to {card}" in printed
    assert "1000 subjects × 5 items" in card.read_text()
    assert "converged:" in printed


# ------------------------------------------------------------------------ demo
@pytest.mark.slow
def test_demo_quick_ranks_the_example_close_to_its_truth(capsys, tmp_path):
    from bayesirt import load_example

    out_path = tmp_path / "demo.nc"
    status, out, _ = run(capsys, "demo", "--quick", "--out", out_path, "--no-progress")
    assert status == 0
    assert out_path.is_file() and "ranking by theta" in out
    truth = load_example(return_truth=True)[1]["theta"].to_series()
    estimate = pd.Series(
        {s["subject"]: s["theta_mean"] for s in summarize_fit(load_fit(out_path))["subjects"]}
    )
    assert np.corrcoef(truth[estimate.index], estimate)[0, 1] > 0.95
