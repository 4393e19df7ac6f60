"""Binomial responses (k successes of n trials) in the data layer: checks, aggregates,
conversions, the reader options, the command-line options and the simulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesirt.cli.fit
from bayesirt import load_responses
from bayesirt.cli import main
from bayesirt.data import Responses, ResponsesError
from bayesirt.data.simulate import simulate_responses


def long_table(k: list[float], n: list[float]) -> pd.DataFrame:
    """3 subjects × 2 items, row by row: (a, q1), (a, q2), (b, q1), ..."""
    return pd.DataFrame(
        {
            "subject": np.repeat(["a", "b", "c"], 2),
            "item": np.tile(["q1", "q2"], 3),
            "k": k,
            "n": n,
        }
    )


#: q1: 3/5, 5/5, 1/2 (9 of 12); q2: 0/4, 2/3, missing (2 of 7).
K = [3, 0, 5, 2, 1, np.nan]
N = [5, 4, 5, 3, 2, np.nan]


@pytest.fixture
def binomial() -> Responses:
    return Responses.from_long(long_table(K, N), response="k", response_type="binomial", trials="n")


def test_successes_and_trials_are_kept_per_observed_pair(binomial):
    assert binomial.response_type == "binomial" and binomial.is_binomial
    assert binomial.n_observed == 5 and binomial.fraction_missing == pytest.approx(1 / 6)
    assert binomial.response.tolist() == [3, 0, 5, 2, 1]
    assert binomial.trials.dtype == np.int32 and binomial.n_trials.tolist() == [5, 4, 5, 3, 2]
    assert binomial.n_categories.tolist() == [2, 2]
    assert "binomial, up to 5 trials" in repr(binomial)
    summary = binomial.summary()
    assert summary["total_trials"] == 19 and summary["mean_accuracy"] == pytest.approx(11 / 19)


def test_scores_and_accuracies_are_trial_weighted(binomial):
    np.testing.assert_allclose(binomial.normalised_scores(), [3 / 5, 0, 1, 2 / 3, 1 / 2])
    # sum k / sum n, not the mean of the fractions (q1: 9/12 = 0.75, not 0.7)
    np.testing.assert_allclose(binomial.item_accuracy(), [9 / 12, 2 / 7])
    np.testing.assert_allclose(binomial.subject_accuracy(), [3 / 9, 7 / 8, 1 / 2])
    assert binomial.to_wide().loc["a", "q1"] == pytest.approx(0.6)
    assert binomial.constant_items().empty
    always = Responses.from_long(
        long_table([5, 0, 3, 0, 2, 1], [5, 4, 3, 3, 2, 2]),
        response="k",
        response_type="binomial",
        trials="n",
    )
    # q1: every trial succeeded; q2: not quite every one failed (c got 1 of 2)
    assert always.constant_items().tolist() == ["q1"]


def test_binary_data_have_one_trial_per_response():
    binary = Responses.from_long(long_table([1, 0, 0, 1, 1, 1], N).drop(columns="n"), response="k")
    assert binary.trials is None and binary.n_trials.tolist() == [1] * 6
    assert binary.n_trials.dtype == np.int32


def test_round_trips_through_long_tables_and_xarray(binomial):
    long = binomial.to_long()
    assert list(long.columns) == ["subject", "item", "response", "trials"]
    again = Responses.from_long(long, response_type="binomial", trials="trials")
    assert again.equals(binomial)
    back = Responses.from_xarray(binomial.to_xarray())
    assert back.equals(binomial) and back.response_type == "binomial"
    np.testing.assert_array_equal(back.trials, binomial.trials)
    part = binomial.subset(subjects=["c", "a"], items=["q1"])
    assert part.subjects.tolist() == ["c", "a"]
    kept = part.to_long().set_index("subject")
    assert kept.loc["c"].tolist() == ["q1", 1, 2] and kept.loc["a"].tolist() == ["q1", 3, 5]


def test_more_successes_than_trials_is_named():
    with pytest.raises(ResponsesError, match=r"k=7 > n=5 for subject 'b', item 'q1'"):
        Responses.from_long(
            long_table([3, 0, 7, 2, 1, 1], [5, 4, 5, 3, 2, 2]),
            response="k",
            response_type="binomial",
            trials="n",
        )
    with pytest.raises(ResponsesError, match=r"k=7 > n=5 \(1 pair\(s\), e.g. subject 'a'"):
        Responses(
            subject_index=[0],
            item_index=[0],
            response=[7],
            subjects=["a"],
            items=["q1"],
            response_type="binomial",
            trials=[5],
        )


@pytest.mark.parametrize(
    ("k", "n", "fragment"),
    [
        ([0.5, 0, 1, 1, 1, 1], [1] * 6, "non-integer successes 0.5"),
        ([1, 0, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1], "trials below 1: 0.0"),
        ([1, 0, 1, 1, 1, 1], [np.nan, 1, 1, 1, 1, 1], "no number of trials"),
        ([-1, 0, 1, 1, 1, 1], [1] * 6, "negative successes -1.0"),
    ],
)
def test_bad_counts_are_named_with_their_cell(k, n, fragment):
    with pytest.raises(ResponsesError, match=fragment) as err:
        Responses.from_long(long_table(k, n), response="k", response_type="binomial", trials="n")
    assert "subject 'a', item 'q1'" in str(err.value)


def test_trials_and_the_binomial_type_need_each_other():
    table = long_table(K, N)
    with pytest.raises(ResponsesError, match=r"trials='n'.*needs response_type='binomial'"):
        Responses.from_long(table, response="k", trials="n")
    with pytest.raises(ResponsesError, match=r"trials='n'.*needs response_type='binomial'"):
        Responses.from_long(table, response="k", trials="n", response_type="ordinal")
    with pytest.raises(ResponsesError, match="response_type='binomial' needs trials="):
        Responses.from_long(table, response="k", response_type="binomial")
    with pytest.raises(ResponsesError, match="exclude each other"):
        Responses.from_long(
            table, response="k", response_type="binomial", trials="n", threshold=0.5
        )
    with pytest.raises(ResponsesError, match=r"wide table .* cannot carry binomial"):
        Responses.from_wide(pd.DataFrame({"q1": [1, 0]}), response_type="binomial")
    with pytest.raises(ResponsesError, match="duplicates='mean'"):
        Responses.from_long(
            table, response="k", response_type="binomial", trials="n", duplicates="mean"
        )
    with pytest.raises(ResponsesError, match="trials are for binomial responses"):
        Responses(
            subject_index=[0], item_index=[0], response=[1], subjects=["a"], items=["q"], trials=[1]
        )


def test_duplicates_keep_k_and_n_together():
    table = long_table(K, N)
    doubled = pd.concat([table, table.iloc[[0]].assign(k=1, n=1)], ignore_index=True)
    with pytest.raises(ResponsesError, match="duplicate subject-item pair"):
        Responses.from_long(doubled, response="k", response_type="binomial", trials="n")
    last = Responses.from_long(
        doubled, response="k", response_type="binomial", trials="n", duplicates="last"
    )
    assert last.to_long().iloc[-1][["response", "trials"]].tolist() == [1, 1]


def test_the_fingerprint_tells_binomial_from_binary_and_from_other_trials():
    ones = [1, 0, 1, 1, 0, 1]
    binary = Responses.from_long(long_table(ones, N).drop(columns="n"), response="k")
    as_binomial = Responses.from_long(
        long_table(ones, [1] * 6), response="k", response_type="binomial", trials="n"
    )
    more_trials = Responses.from_long(
        long_table(ones, [2] * 6), response="k", response_type="binomial", trials="n"
    )
    prints = {r.fingerprint() for r in (binary, as_binomial, more_trials)}
    assert len(prints) == 3
    assert not binary.equals(as_binomial) and not as_binomial.equals(more_trials)


def test_a_binary_model_refuses_binomial_responses_by_name(binomial):
    with pytest.raises(ResponsesError, match=r"the 2PL needs binary .* binomial \(k successes"):
        binomial.require_binary("the 2PL")


def test_load_responses_reads_long_tables_and_refuses_other_layouts(tmp_path):
    path = tmp_path / "samples.csv"
    long_table(K, N).to_csv(path, index=False)
    resp = load_responses(path, response="k", response_type="binomial", trials="n")
    assert resp.is_binomial and resp.trials.tolist() == [5, 4, 5, 3, 2]
    assert resp.source["trials"] == "n" and resp.source["response_type"] == "binomial"
    wide = tmp_path / "wide.csv"
    pd.DataFrame({"q1": [0.5, 1.0]}, index=["a", "b"]).to_csv(wide, index_label="subject")
    with pytest.raises(ResponsesError, match=r"format 'wide' .* cannot carry the trials"):
        load_responses(wide, response_type="binomial", trials="n")
    with pytest.raises(ResponsesError, match="needs response_type='binomial'"):
        load_responses(path, response="k", trials="n")


class FitReached(Exception):
    """Raised by the stand-in for ``fit``: the command got as far as fitting."""


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            ["--response-type", "binary", "--trials", "n"],
            "--trials: only with --response-type binomial, not binary",
        ),
        (["--trials", "n", "--threshold", "0.5"], "--threshold and --response-type binomial"),
        (["--response-type", "binomial"], "--response-type binomial needs --trials COL"),
        (
            ["--response-type", "binomial", "--trials", "n", "--threshold", "0.5"],
            "--threshold and --response-type binomial exclude each other",
        ),
    ],
)
def test_command_line_usage_errors_come_before_the_data_is_read(
    capsys, monkeypatch, tmp_path, args, fragment
):
    monkeypatch.setattr(bayesirt.cli.fit, "fit", lambda *a, **k: pytest.fail("fit reached"))
    status = main(["fit", str(tmp_path / "absent.csv"), *args, "--out", str(tmp_path / "x.nc")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.startswith("bayesirt: error: ") and fragment in err


def test_the_command_line_reads_binomial_data(capsys, monkeypatch, tmp_path):
    given = []

    def stand_in(responses, **settings):
        given.append(responses)
        raise FitReached

    monkeypatch.setattr(bayesirt.cli.fit, "fit", stand_in)
    path = tmp_path / "samples.csv"
    long_table(K, N).to_csv(path, index=False)
    args = ["fit", str(path), "--response", "k", "--response-type", "binomial", "--trials", "n"]
    with pytest.raises(FitReached):
        main([*args, "--out", str(tmp_path / "x.nc")])
    assert given[0].is_binomial and given[0].trials.tolist() == [5, 4, 5, 3, 2]
    # --trials alone says the responses are binomial
    with pytest.raises(FitReached):
        main(
            ["fit", str(path), "--response", "k", "--trials", "n", "--out", str(tmp_path / "y.nc")]
        )
    assert given[1].is_binomial and given[1].equals(given[0])


def test_simulated_binomial_responses_leave_the_binary_draws_alone():
    binary, truth = simulate_responses(12, 9, seed=3, missing_fraction=0.2)
    counts, counts_truth = simulate_responses(12, 9, seed=3, missing_fraction=0.2, trials=5)
    again, _ = simulate_responses(12, 9, seed=3, missing_fraction=0.2)
    assert again.equals(binary) and binary.response_type == "binary"
    assert counts.response_type == "binomial" and counts_truth.attrs["trials"] == 5
    assert set(counts.trials.tolist()) == {5} and 0 <= counts.response.min()
    assert counts.response.max() <= 5 and counts.response.max() > 1
    np.testing.assert_array_equal(counts_truth["theta"], truth["theta"])
    np.testing.assert_array_equal(counts_truth["b"], truth["b"])
    # the same cells are observed
    cells = binary.to_long()[["subject", "item"]]
    pd.testing.assert_frame_equal(counts.to_long()[["subject", "item"]], cells)
    with pytest.raises(ResponsesError, match="trials must be a whole number >= 1"):
        simulate_responses(4, 4, seed=0, trials=0)
