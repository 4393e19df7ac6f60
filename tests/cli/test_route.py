"""``bayesirt route``: an explanatory MIRT fitted from the command line (ADVI, a simulated
leaderboard of three benchmarks), then new questions routed by their features: the choices
agree with the library, costs and the minimum P(correct) pick cheaper models, JSON, CSV and
the plot are written, and bad input fails in one line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bayesirt.analysis import route
from bayesirt.data import simulate_routing
from bayesirt.inference import load_fit

from .conftest import assert_one_line_error, run


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A fit of 40 subjects × 105 items and the features of 15 new questions."""
    folder = tmp_path_factory.mktemp("route")
    responses, features, truth = simulate_routing(40, 120, seed=4)
    items = responses.items.astype(str)
    new, fitted = items[::8], items.difference(items[::8])
    long = responses.subset(items=fitted).to_long()
    long.to_csv(folder / "answers.csv", index=False)
    features.loc[fitted].rename_axis("item").reset_index().to_csv(
        folder / "features.csv", index=False
    )
    meta = pd.DataFrame({"item": fitted, "benchmark": truth["benchmark"].sel(item=fitted)})
    meta.to_csv(folder / "meta.csv", index=False)
    questions = features.loc[new].rename_axis("item").reset_index()
    questions["source"] = truth["benchmark"].sel(item=new).values
    questions.to_csv(folder / "questions.csv", index=False)
    subjects = responses.subjects.astype(str)
    costs = pd.DataFrame({"subject": subjects, "cost": np.linspace(1.0, 5.0, len(subjects))})
    costs.to_csv(folder / "costs.csv", index=False)
    fit = folder / "fit.nc"
    status = _fit(folder, fit)
    assert status == 0
    return {"folder": folder, "fit": fit, "features": features.loc[new], "source": questions}


def _fit(folder, out):
    from bayesirt.cli import main

    return main(
        [
            "fit",
            str(folder / "answers.csv"),
            "--item-meta",
            str(folder / "meta.csv"),
            "--model",
            "mirt-explanatory",
            "--model-option",
            f"item_features={folder / 'features.csv'}",
            "--pool-by",
            "benchmark",
            "--method",
            "advi",
            "--no-progress",
            "--out",
            str(out),
        ]
    )


def test_route_prints_the_library_choices(capsys, files):
    capsys.readouterr()
    status, out, err = run(
        capsys, "route", files["fit"], files["folder"] / "questions.csv", "--benchmark", "source"
    )
    assert status == 0, err
    benchmark = files["source"].set_index("item")["source"]
    expected = route(load_fit(files["fit"]), files["features"], benchmark=benchmark)
    for question, subject in expected.choices["subject"].items():
        line = next(row for row in out.splitlines() if row.startswith(question))
        assert subject in line
    acc = expected.accuracy
    assert f"expected accuracy of the routing: {acc['mean']:.3f}" in out


def test_costs_and_min_p_pick_cheaper_models(capsys, files, tmp_path):
    args = [
        "route",
        files["fit"],
        files["folder"] / "questions.csv",
        "--benchmark",
        "source",
        "--costs",
        files["folder"] / "costs.csv",
    ]
    status, out, err = run(capsys, *args, "--json")
    assert status == 0, err
    best = json.loads(out)
    status, out, err = run(
        capsys,
        *args,
        "--min-p",
        "0.6",
        "--json",
        "--csv",
        tmp_path / "c.csv",
        "--plot",
        tmp_path / "curve.png",
    )
    assert status == 0, err
    cheap = json.loads(out)
    assert cheap["policy"] == "cheapest" and cheap["min_p"] == 0.6
    assert cheap["cost"]["per_question"] < best["cost"]["per_question"]
    assert cheap["accuracy"]["mean"] <= best["accuracy"]["mean"]
    for row in cheap["questions"]:
        assert row["p"] >= 0.6 or row["fallback"]
    assert len(cheap["curve"]) == 20
    assert pd.read_csv(tmp_path / "c.csv").shape[0] == len(files["features"])
    assert (tmp_path / "curve.png").stat().st_size > 0
    assert "choices written to" in err


def test_bad_input_fails_in_one_line(capsys, files, tmp_path):
    questions = files["folder"] / "questions.csv"
    status, _, err = run(capsys, "route", files["fit"], questions, "--min-p", "0.6")
    assert status == 2 and "--min-p needs --costs" in err
    status, _, err = run(capsys, "route", files["fit"], questions, "--benchmark", "origin")
    assert status == 2 and "no column 'origin'" in err
    bad = tmp_path / "costs.csv"
    pd.DataFrame({"model": ["a"], "price": [1.0]}).to_csv(bad, index=False)
    status, _, err = run(capsys, "route", files["fit"], questions, "--costs", bad)
    assert status == 2 and "missing subject, cost" in err
    negative = tmp_path / "negative.csv"
    pd.DataFrame({"subject": ["subject_00"], "cost": [-1.0]}).to_csv(negative, index=False)
    status, _, err = run(
        capsys, "route", files["fit"], questions, "--benchmark", "source", "--costs", negative
    )
    assert_one_line_error(status, err, "non-negative", "subject_00")
    unlabelled = tmp_path / "unlabelled.csv"
    pd.read_csv(questions).rename(columns={"item": "question"}).to_csv(unlabelled, index=False)
    status, _, err = run(capsys, "route", files["fit"], unlabelled)
    assert status == 2 and "has no 'item' column" in err
    wrong = tmp_path / "wrong.csv"
    pd.read_csv(questions).drop(columns="x_2").to_csv(wrong, index=False)
    status, _, err = run(capsys, "route", files["fit"], wrong, "--benchmark", "source")
    assert_one_line_error(status, err, "missing ['x_2']")
