"""End-to-end tests of ``bayesirt select`` and ``bayesirt evaluate-subsets`` (in process).

The data are simulated (``bayesirt.simulate_responses``, 2PL, 80 subjects × 40 items); the
one fit, written by ``evaluate-subsets --out``, is a fake (the command's sampling is faked:
``sampling_faked`` of ``conftest.py``). Every command's output is checked against the library
call it wraps on the same fit, number for number.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayesirt import load_responses, simulate_responses
from bayesirt.analysis import evaluate_subsets, select_items
from bayesirt.cli import main
from bayesirt.inference import load_fit
from bayesirt.tinybench import SELECTION_METHODS

from .conftest import assert_one_line_error, run, sampling_faked

N_SUBJECTS, N_ITEMS = 80, 40
ADVI = ["--method", "advi", "--advi-iterations", "300", "--draws", "60", "--chains", "1"]
HARNESS = ["--methods", "random", "fisher", "--estimators", "mean", "pirt", "bayes"]
HARNESS += ["--budgets", "5", "10", "--seeds", "0", "1", "--bayes-draws", "30"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The simulated results (wide CSV) and a subject metadata table with release dates."""
    folder = tmp_path_factory.mktemp("subsets")
    responses, _ = simulate_responses(N_SUBJECTS, N_ITEMS, seed=11)
    table = folder / "results.csv"
    responses.to_wide().to_csv(table)
    dates = pd.date_range("2023-01-01", periods=N_SUBJECTS, freq="7D")
    order = np.random.default_rng(0).permutation(N_SUBJECTS)
    meta = pd.DataFrame({"subject": responses.subjects, "released": dates[order].date})
    meta.to_csv(folder / "subjects.csv", index=False)
    return table, folder / "subjects.csv"


@pytest.fixture(scope="module")
def evaluated(data, tmp_path_factory):
    """``evaluate-subsets DATA --json`` with a release-date split (the fit faked); its fit,
    JSON and files."""
    table, meta = data
    folder = tmp_path_factory.mktemp("evaluated")
    paths = {name: folder / name for name in ("fit.nc", "table.csv", "mae.png")}
    with sampling_faked() as fitted:
        status = main(
            [
                "evaluate-subsets",
                str(table),
                *ADVI,
                *HARNESS,
                "--subject-meta",
                str(meta),
                "--split-by",
                "released",
                "--out",
                str(paths["fit.nc"]),
                "--csv",
                str(paths["table.csv"]),
                "--plot",
                str(paths["mae.png"]),
                "--json",
                "--no-progress",
            ]
        )
    assert status == 0
    assert len(fitted) == 1  # the training subjects, once
    return paths


def _library_evaluation(responses, fit, **settings):
    return evaluate_subsets(
        responses,
        fit=fit,
        methods=("random", "fisher"),
        estimators=("mean", "pirt", "bayes"),
        budgets=(5, 10),
        seeds=(0, 1),
        bayes_draws=30,
        **settings,
    )


# ------------------------------------------------------------------------ select
@pytest.mark.parametrize("method", ["fisher", "search"])
def test_select_prints_the_library_selection(capsys, evaluated, tmp_path, method):
    fit_path = evaluated["fit.nc"]
    options = ["--max-evaluations", "200"] if method == "search" else []
    csv = tmp_path / "items.csv"
    status, out, err = run(
        capsys, "select", fit_path, "--method", method, "--budget", 7, "--seed", 3, "--json",
        "--csv", csv, *options,
    )  # fmt: skip
    assert status == 0, err
    expected = select_items(
        load_fit(fit_path),
        method=method,
        budget=7,
        seed=3,
        **({"max_evaluations": 200} if options else {}),
    )
    payload = json.loads(out)
    assert payload["items"] == [str(i) for i in expected.items]
    np.testing.assert_allclose(payload["weights"], expected.weights)
    if method == "search":  # the method option reached the search
        assert payload["details"]["evaluations"] == expected.details["evaluations"] <= 200
    written = pd.read_csv(csv, dtype={"item": str})
    assert list(written["item"]) == payload["items"]
    np.testing.assert_allclose(written["weight"], expected.weights)
    # the table form lists the same items with their weights
    status, text, _ = run(capsys, "select", fit_path, "--method", method, "--budget", 7,
                          "--seed", 3, *options)  # fmt: skip
    assert status == 0
    assert f"{method} selection of 7 of {N_ITEMS} items (seed 3)" in text
    for item, weight in zip(expected.items, expected.weights, strict=True):
        assert f"{item} {weight:.4f}" in " ".join(text.split())


def test_select_errors_are_one_line(capsys, evaluated):
    fit_path = evaluated["fit.nc"]
    status, _, err = run(capsys, "select", fit_path, "--method", "oracle", "--budget", 5)
    assert_one_line_error(status, err, "'oracle'", *SELECTION_METHODS)
    assert status == 2
    status, _, err = run(capsys, "select", fit_path, "--budget", N_ITEMS + 1)
    assert_one_line_error(status, err, f"the {N_ITEMS} items", f"got {N_ITEMS + 1}")
    status, _, err = run(capsys, "select", fit_path, "--budget", 0)
    assert_one_line_error(status, err, "--budget", "positive integer, got 0")
    status, _, err = run(capsys, "select", fit_path, "--budget", 5, "--population", 10)
    assert_one_line_error(status, err, "--population: only for method(s) search")
    status, _, err = run(capsys, "select", Path(fit_path).with_name("absent.nc"), "--budget", 5)
    assert_one_line_error(status, err, "absent.nc")


# --------------------------------------------------------------- evaluate-subsets
def test_evaluate_data_matches_the_library_on_the_same_fit(data, evaluated, capsys):
    table, meta = data
    responses = load_responses(table, subject_meta=meta)
    order = responses.subject_meta["released"].sort_values(kind="stable").index
    idata = load_fit(evaluated["fit.nc"])
    fitted = set(idata.posterior["subject"].values)

    def fit(training):  # the CLI fitted these very subjects
        assert set(training.subjects) == fitted
        return idata

    expected = _library_evaluation(responses, fit, split_order=list(order))
    written = pd.read_csv(evaluated["table.csv"])
    columns = ["mae", "coverage", "coverage_model"]
    # The CLI evaluated the fit in memory; the library here, the same fit read back from its
    # file, whose item draws are stored to a relative 8e-6 (bayesirt.inference.io). That moves
    # an estimate by as little, so two near-equal estimates of the 16 test subjects may swap:
    # Kendall's tau may differ by one discordant pair of the 120, 2/120, and no more.
    np.testing.assert_allclose(written[columns], expected.table[columns], rtol=1e-4)
    tau_step = 2 / math.comb(16, 2)
    np.testing.assert_allclose(written["kendall_tau"], expected.table["kendall_tau"], atol=tau_step)
    assert list(written["method"]) == list(expected.table["method"])
    # the held-out subjects are the last released: test, then calibration before them
    assert expected.settings["split"] == "last in the given order"
    assert len(fitted) == expected.settings["n_train"] == N_SUBJECTS - 16 - 13
    assert fitted == {str(s) for s in order[: len(fitted)]}
    assert evaluated["mae.png"].stat().st_size > 10_000


def test_evaluate_a_saved_fit_prints_the_error_tables(data, evaluated, capsys):
    table, _ = data
    fit_path = evaluated["fit.nc"]
    status, out, err = run(
        capsys,
        "evaluate-subsets",
        fit_path,
        "--held-out",
        table,
        *HARNESS,
        "--calibration-share",
        0,
    )
    assert status == 0, err
    expected = _library_evaluation(
        load_responses(table), load_fit(fit_path), calibration_share=None
    )
    n_train = expected.settings["n_train"]
    assert f"{n_train} training, 0 calibration and {N_SUBJECTS - n_train} test subjects" in out
    mae = expected.pivot("mae")
    text = " ".join(out.split())
    for (method, estimator), row in mae.iterrows():
        assert f"{method} {estimator} {row[5]:.4f} {row[10]:.4f}" in text
    coverage = expected.pivot("coverage").loc[("fisher", "bayes")]
    assert f"fisher bayes {coverage[5]:.2f} {coverage[10]:.2f}" in text
    assert "Kendall tau" in out and "coverage of the model's own 90% intervals" in out


@pytest.mark.parametrize(
    ("args", "fragments", "code"),
    [
        (["--budgets", "10", "40"], ["--budgets 40", f"below the {N_ITEMS} items"], 2),
        (["--methods", "oracle"], ["'oracle'", "adaptive"], 2),
        (["--population", "10", "--methods", "fisher"], ["--population: only for"], 2),
        (["--split-by", "age"], ["--split-by 'age'", "no such subject metadata column"], 2),
        (["--held-out", "x.csv"], ["--held-out: only with a saved fit"], 2),
        (["--method", "nuts", "--advi-iterations", "10"], ["--advi-iterations: only for"], 2),
    ],
)
def test_evaluate_data_errors(capsys, data, args, fragments, code):
    table, _ = data
    status, out, err = run(capsys, "evaluate-subsets", table, *args)
    assert_one_line_error(status, err, *fragments)
    assert status == code and "fitting" not in out  # checked before any fit


def test_evaluate_saved_fit_errors(capsys, data, evaluated):
    table, _ = data
    fit_path = evaluated["fit.nc"]
    status, _, err = run(capsys, "evaluate-subsets", fit_path)
    assert_one_line_error(status, err, "--held-out DATA")
    status, _, err = run(capsys, "evaluate-subsets", fit_path, "--held-out", table, "--draws", 9)
    assert_one_line_error(status, err, "--draws: only when SOURCE is data")
