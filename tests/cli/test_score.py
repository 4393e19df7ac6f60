"""``bayesirt score FIT DATA``: new models' results scored against a saved fit."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayesirt import simulate_responses
from bayesirt.cli import main
from bayesirt.inference import load_fit

NUTS = ["--draws", "300", "--tune", "300", "--chains", "2", "--no-progress"]
RECORD_KEYS = {
    "subject",
    "theta_mean",
    "theta_sd",
    "theta_lo",
    "theta_hi",
    "rank_lo",
    "rank_hi",
    "n_items",
    "p_beats",
}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def leaderboard(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """30 fitted subjects and one held-out subject of the same simulated 2PL."""
    folder = tmp_path_factory.mktemp("score")
    responses, _ = simulate_responses(31, 120, model="2pl", seed=5)
    wide = responses.to_wide().rename_axis("subject")
    wide.iloc[:30].to_csv(folder / "fitted.csv")
    new = wide.iloc[[30]].copy()
    new["not_in_the_fit"] = 1
    new.to_csv(folder / "new.csv")
    fit = folder / "fit.nc"
    status, _, err = run("fit", str(folder / "fitted.csv"), *NUTS, "--out", str(fit))
    assert status == 0, err
    return {"folder": folder, "fit": fit, "new": folder / "new.csv", "wide": wide}


def test_one_new_model_is_scored_and_unknown_items_are_reported(leaderboard):
    status, out, err = run("score", str(leaderboard["fit"]), str(leaderboard["new"]), "--json")
    assert status == 0, err
    assert "'not_in_the_fit'" in err and "ignored" in err
    payload = json.loads(out)
    assert payload["unknown_items"] == ["not_in_the_fit"]
    assert payload["n_fitted_subjects"] == 30
    (record,) = payload["subjects"]
    assert set(record) == RECORD_KEYS
    assert record["subject"] == "model_30" and record["n_items"] == 120
    assert record["theta_lo"] < record["theta_mean"] < record["theta_hi"]
    assert 1 <= record["rank_lo"] <= record["rank_hi"] <= 31
    # The nearest fitted subjects, best first: the chance of beating them grows down the list.
    beats = [entry["p"] for entry in record["p_beats"]]
    means = [entry["theta_mean"] for entry in record["p_beats"]]
    assert len(beats) == 4 and means == sorted(means, reverse=True)
    assert beats == sorted(beats) and beats[0] < 0.5 < beats[-1]


def test_a_fitted_model_scored_again_lands_where_the_fit_put_it(leaderboard, tmp_path: Path):
    own = tmp_path / "own.csv"
    leaderboard["wide"].iloc[:30].to_csv(own)
    table = tmp_path / "scores.csv"
    status, out, err = run(
        "score", str(leaderboard["fit"]), str(own), "--json", "--csv", str(table)
    )
    assert status == 0, err
    assert "already in the fit" in err
    scored = {r["subject"]: r for r in json.loads(out)["subjects"]}
    theta = load_fit(leaderboard["fit"]).posterior["theta"]
    fitted_mean = theta.mean(("chain", "draw")).to_series()
    fitted_sd = theta.std(("chain", "draw")).to_series()
    for subject, mean in fitted_mean.items():
        record = scored[f"{subject} (new)"]
        # Cut posterior against the full one: the same answers, the same place on the scale.
        assert abs(record["theta_mean"] - mean) < 0.3 * fitted_sd[subject], subject
        itself = next(p["p"] for p in record["p_beats"] if p["subject"] == subject)
        assert 0.3 < itself < 0.7, subject
    rows = pd.read_csv(table)
    assert list(rows["subject"]) == list(scored) and len(rows) == 30


def test_no_known_item_is_an_error_naming_the_data(leaderboard, tmp_path: Path):
    other = tmp_path / "other.csv"
    pd.DataFrame({"subject": ["m"], "x1": [1], "x2": [0]}).to_csv(other, index=False)
    status, _, err = run("score", str(leaderboard["fit"]), str(other))
    assert status == 1 and "none of the 2 items" in err and "other.csv" in err


def test_data_options_are_named_as_options(leaderboard, tmp_path: Path):
    graded = tmp_path / "graded.csv"
    pd.DataFrame({"subject": ["m"], "item_000": [0.7], "item_001": [0.2]}).to_csv(
        graded, index=False
    )
    status, _, err = run("score", str(leaderboard["fit"]), str(graded))
    assert status == 1 and "--threshold" in err and "threshold=" not in err
    status, out, err = run(
        "score", str(leaderboard["fit"]), str(graded), "--threshold", "0.5", "--json"
    )
    assert status == 0, err
    assert json.loads(out)["subjects"][0]["n_items"] == 2
    assert np.isfinite(json.loads(out)["subjects"][0]["theta_sd"])


def test_out_adds_the_new_model_to_the_fit_for_every_analysis(leaderboard, tmp_path: Path):
    updated = tmp_path / "updated.nc"
    fit, new = str(leaderboard["fit"]), str(leaderboard["new"])
    status, out, err = run("score", fit, new, "--out", str(updated))
    assert status == 0, err
    assert "item drift: p = " in out and "no refit needed" in out and str(updated) in out
    status, out, err = run("rank", str(updated), "--json")
    assert status == 0, err
    ranked = {r["subject"] for r in json.loads(out)["subjects"]}
    assert len(ranked) == 31 and "model_30" in ranked
    # kept unless --overwrite, checked before any work; a fitted subject is not added twice
    status, _, err = run("score", fit, new, "--out", str(updated))
    assert status == 2 and "--overwrite" in err
    own = tmp_path / "own.csv"
    leaderboard["wide"].iloc[:2].to_csv(own)
    status, _, err = run("score", fit, str(own), "--out", str(tmp_path / "twice.nc"))
    assert status == 1 and "count them twice" in err and not (tmp_path / "twice.nc").exists()
