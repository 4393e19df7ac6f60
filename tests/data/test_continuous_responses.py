"""Continuous scores in the data layer: the scale, the checks, missing cells, harness output
with fractional metrics, and the command-line options that ask for them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayesirt import load_responses
from bayesirt.cli import main
from bayesirt.data import Responses, ResponsesError
from bayesirt.data.filters import drop_constant_items
from tests.data.test_lmeval_and_tables import write_task

#: 3 subjects × 3 items on a 1..2 scale (AlpacaEval's preference), one missing cell; q3 is
#: the same for everyone.
TABLE = pd.DataFrame(
    {
        "subject": np.repeat(["a", "b", "c"], 3),
        "item": np.tile(["q1", "q2", "q3"], 3),
        "response": [1.0, 1.25, 1.5, 2.0, np.nan, 1.5, 1.75, 1.0, 1.5],
    }
)


@pytest.fixture
def scores() -> Responses:
    return Responses.from_long(TABLE, response_type="continuous", scale=(1, 2))


def test_scores_are_mapped_onto_the_unit_interval(scores):
    assert scores.response_type == "continuous" and scores.response.dtype == np.float64
    expected = np.array([[0.0, 0.25, 0.5], [1.0, np.nan, 0.5], [0.75, 0.0, 0.5]])
    np.testing.assert_array_equal(scores.dense(), expected)
    assert scores.n_observed == 8  # the missing cell stays missing
    assert scores.subject_accuracy()["a"] == pytest.approx(0.25)
    assert "continuous in [0, 1]" in repr(scores)
    # read back from its own tables and from xarray: the same data
    again = Responses.from_long(scores.to_long(), response_type="continuous")
    assert again.equals(scores) and again.fingerprint() == scores.fingerprint()
    back = Responses.from_xarray(scores.to_xarray())
    assert back.response_type == "continuous" and back.fingerprint() == scores.fingerprint()
    wide = Responses.from_wide(
        TABLE.pivot(index="subject", columns="item", values="response"),
        response_type="continuous",
        scale=(1, 2),
    )
    assert wide.equals(scores)


def test_the_same_numbers_as_binary_responses_are_other_data():
    table = TABLE.assign(response=[0, 1, 1, 0, np.nan, 1, 1, 0, 0])
    binary = Responses.from_long(table)
    continuous = Responses.from_long(table, response_type="continuous")
    assert binary.fingerprint() != continuous.fingerprint()


def test_constant_items_are_those_with_one_score(scores):
    assert scores.constant_items().tolist() == ["q3"]
    kept, dropped = drop_constant_items(scores)
    assert kept.items.tolist() == ["q1", "q2"]
    assert "every observed score is 0.5" in dropped.to_string()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, r"scores 1\.25, 1\.5, 1\.75, 2\.0 outside the scale \[0, 1\].*pass scale="),
        (
            {"scale": (1, 1.5)},
            r"scores 1\.75, 2\.0 outside the scale \[1, 1\.5\] \(first for "
            r"subject 'b', item 'q1'\)",
        ),
        ({"scale": (2, 1)}, r"scale=\(2, 1\) is empty or reversed"),
        ({"scale": (0, np.inf)}, r"scale must be a pair \(lo, hi\) of finite numbers"),
        ({"threshold": 1.5}, r"threshold=1\.5 and response_type='continuous' exclude each other"),
    ],
)
def test_bad_scores_and_options_are_named(options, message):
    with pytest.raises(ResponsesError, match=message):
        Responses.from_long(TABLE, response_type="continuous", **options)


def test_a_fraction_read_as_binary_points_to_continuous_scores():
    with pytest.raises(ResponsesError, match="response_type='continuous' to keep bounded scores"):
        Responses.from_long(TABLE.assign(response=TABLE["response"] - 1))


def test_the_container_refuses_scores_outside_the_unit_interval(scores):
    for bad in (1.3, -0.1, np.nan):
        with pytest.raises(ResponsesError, match="continuous responses must lie in"):
            Responses(
                subject_index=[0, 1],
                item_index=[0, 0],
                response=[0.5, bad],
                subjects=["a", "b"],
                items=["q"],
                response_type="continuous",
            )
    with pytest.raises(ResponsesError, match=r"needs binary .* these responses are continuous"):
        scores.require_binary("the test")


def test_ordinal_scales_stay_whole_numbers():
    with pytest.raises(ResponsesError, match="of whole numbers"):
        Responses.from_long(TABLE, response_type="ordinal", scale=(1, 2.5))


def test_harness_scores_can_be_read_as_continuous(tmp_path):
    rouge = {
        "run-a": {"none": {"rouge1": [0.0, 0.4, 1.0]}},
        "run-b": {"none": {"rouge1": [0.2, 0.9, 0.7]}},
    }
    folder = write_task(tmp_path, "summaries", rouge)
    resp = load_responses(folder, response_type="continuous")
    assert resp.response_type == "continuous"
    np.testing.assert_allclose(resp.to_wide().loc["org/run-b"].to_numpy(), [0.2, 0.9, 0.7])
    with pytest.raises(ResponsesError, match=r"non-binary responses 0\.2, 0\.4, 0\.7, 0\.9"):
        load_responses(folder)


# ------------------------------------------------------------------ command line
def test_the_command_line_reads_continuous_scores(loaded, tmp_path):
    table = tmp_path / "scores.csv"
    TABLE.to_csv(table, index=False)
    out = ("--out", str(tmp_path / "fit.nc"))
    with pytest.raises(loaded.stop):
        main(["fit", str(table), "--response-type", "continuous", "--scale", "1", "2", *out])
    responses, options = loaded[-1]
    assert options["response_type"] == "continuous" and options["scale"] == (1.0, 2.0)
    assert responses.response_type == "continuous"
    # the ordered beta model reads scores as continuous without being told
    with pytest.raises(loaded.stop):
        main(["fit", str(table), "--model", "beta", "--scale", "1", "2", *out])
    assert loaded[-1][1]["response_type"] == "continuous"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--scale", "1", "2"], "--scale: only with --response-type ordinal or continuous"),
        (["--response-type", "continuous", "--scale", "2", "1"], "--scale 2 1: LO must be below"),
        (["--response-type", "continuous", "--scale", "0", "inf"], "both finite"),
        (["--response-type", "ordinal", "--scale", "1", "2.5"], "need whole numbers"),
        (
            ["--response-type", "continuous", "--threshold", "0.5"],
            "--threshold and --response-type continuous exclude each other",
        ),
    ],
)
def test_bad_values_are_usage_errors_before_the_data_is_read(
    capsys, loaded, tmp_path, args, fragment
):
    status = main(["fit", str(tmp_path / "absent.csv"), *args, "--out", str(tmp_path / "x.nc")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.startswith("bayesirt: error: ") and fragment in err
    assert len(err.splitlines()) == 1 and not loaded
