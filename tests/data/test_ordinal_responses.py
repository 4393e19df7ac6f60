"""Ordinal (graded) responses in the data layer: codes, category scores, checks and the
command-line options that ask for them."""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayesirt import load_responses
from bayesirt.cli import main
from bayesirt.cli._common import _as_options
from bayesirt.data import Responses, ResponsesError, ResponsesWarning
from bayesirt.data.filters import drop_constant_items
from bayesirt.inference.io import load_fit, responses_from_fit, save_fit


def long_table(scores: list[float]) -> pd.DataFrame:
    """3 subjects × 3 items, row by row: (a, q1), (a, q2), (a, q3), (b, q1), ..."""
    return pd.DataFrame(
        {
            "subject": np.repeat(["a", "b", "c"], 3),
            "item": np.tile(["q1", "q2", "q3"], 3),
            "response": scores,
        }
    )


#: q1 scored 1, 2 and 4 (3 unused), q2 3 and 5, q3 1..3 with a missing cell.
SCORES = [1, 3, 1, 2, 5, np.nan, 4, 3, 3]


@pytest.fixture
def ordinal() -> Responses:
    return Responses.from_long(long_table(SCORES), response_type="ordinal", scale=(1, 5))


# ------------------------------------------------------------------ coding
def test_unused_scores_are_collapsed_into_consecutive_codes(ordinal):
    assert ordinal.response_type == "ordinal" and ordinal.response.dtype == np.int16
    np.testing.assert_array_equal(
        ordinal.category_scores, [[1, 2, 4], [3, 5, np.nan], [1, 3, np.nan]]
    )
    assert ordinal.n_categories.tolist() == [3, 2, 2]
    codes = ordinal.dense()  # subjects × items codes, NaN where missing
    np.testing.assert_array_equal(codes, [[0, 0, 0], [1, 1, np.nan], [2, 0, 1]])
    # the tables show the original scores, and read back as the same data
    np.testing.assert_array_equal(ordinal.to_wide().to_numpy(), np.reshape(SCORES, (3, 3)))
    again = Responses.from_long(ordinal.to_long(), response_type="ordinal")
    assert again.equals(ordinal)
    assert Responses.from_wide(ordinal.to_wide(), response_type="ordinal").equals(ordinal)


def test_missing_cells_stay_missing(ordinal):
    assert ordinal.n_observed == 8 and ordinal.fraction_missing == pytest.approx(1 / 9)
    assert ("b", "q3") not in set(ordinal.to_long()[["subject", "item"]].itertuples(index=False))
    assert np.isnan(ordinal.to_wide().loc["b", "q3"])
    # an item all of whose cells are missing is left out, as for binary data
    with pytest.warns(ResponsesWarning, match="'q3'"):
        without = Responses.from_long(
            long_table([1, 2, np.nan, 2, 1, np.nan, 1, 1, np.nan]), response_type="ordinal"
        )
    assert list(without.items) == ["q1", "q2"]


def test_normalised_accuracy_constant_items_and_the_binary_guard(ordinal):
    # code / (K - 1): q1 codes 0, 1, 2 of 3 categories; q2 0, 1, 0 of 2; q3 0, 1 of 2
    np.testing.assert_allclose(ordinal.item_accuracy(), [0.5, 1 / 3, 0.5])
    np.testing.assert_allclose(ordinal.subject_accuracy(), [0.0, 0.75, 2 / 3])
    assert ordinal.summary()["response_type"] == "ordinal"
    assert "ordinal" in repr(ordinal)
    assert list(ordinal.constant_items()) == []
    # without subject c, q3 is only seen in its lowest category: constant, categories kept
    two = ordinal.subset(subjects=["a", "b"])
    assert list(two.constant_items()) == ["q3"]
    np.testing.assert_array_equal(two.category_scores, ordinal.category_scores)
    kept, removed = drop_constant_items(ordinal.subset(subjects=["a", "b", "c"]))
    assert kept.n_items == 3 and removed.empty
    with pytest.raises(ResponsesError, match=r"the 2PL needs binary \(right/wrong\) responses; "):
        ordinal.require_binary("the 2PL")
    binary = Responses.from_long(long_table([1, 0, 1, 0, 1, np.nan, 1, 1, 0]))
    binary.require_binary("the 2PL")  # nothing to say
    assert binary.n_categories.tolist() == [2, 2, 2] and binary.category_scores is None


def test_subset_follows_the_item_order(ordinal):
    part = ordinal.subset(items=["q2", "q1"])
    np.testing.assert_array_equal(part.category_scores, [[3, 5, np.nan], [1, 2, 4]])
    assert part.to_wide().loc["c"].tolist() == [3, 4]


# ------------------------------------------------------------------ errors
def test_a_fractional_score_is_named_with_its_cell():
    scores = [1, 3, 1, 2, 2.5, 2, 4, 3, 3]
    with pytest.raises(ResponsesError, match=r"non-integer scores 2\.5 .*'b', item 'q2'"):
        Responses.from_long(long_table(scores), response_type="ordinal")


def test_a_score_off_the_declared_scale_is_named():
    scores = [1, 3, 1, 2, 7, 2, 4, 3, 3]
    with pytest.raises(ResponsesError, match=r"scores 7 outside the declared scale=\(1, 5\)"):
        Responses.from_long(long_table(scores), response_type="ordinal", scale=(1, 5))
    assert Responses.from_long(long_table(scores), response_type="ordinal").n_observed == 9


@pytest.mark.parametrize("bad", ["graded", "Ordinal", None])
def test_an_unknown_response_type_is_named(bad):
    with pytest.raises(ResponsesError, match=rf"unknown response_type {bad!r}"):
        Responses.from_long(long_table(SCORES), response_type=bad)
    with pytest.raises(ResponsesError, match=rf"unknown response_type {bad!r}"):
        Responses(
            subject_index=[0],
            item_index=[0],
            response=[1],
            subjects=["a"],
            items=["q"],
            response_type=bad,
        )


def test_options_that_do_not_go_together():
    frame = long_table(SCORES)
    with pytest.raises(ResponsesError, match=r"threshold=2 and response_type='ordinal'"):
        Responses.from_long(frame, response_type="ordinal", threshold=2)
    with pytest.raises(ResponsesError, match=r"scale=\(1, 5\) .* needs response_type='ordinal'"):
        Responses.from_long(long_table([1, 0, 1, 0, 1, np.nan, 1, 1, 0]), scale=(1, 5))
    for scale in [(5, 1), (1, 2.5), "1-5"]:
        with pytest.raises(ResponsesError, match="scale"):
            Responses.from_long(frame, response_type="ordinal", scale=scale)


def test_the_constructor_checks_codes_and_category_scores():
    ok = {"subject_index": [0, 1], "item_index": [0, 0], "subjects": ["a", "b"], "items": ["q"]}
    scores = np.array([[1.0, 2.0, 4.0]])
    built = Responses(**ok, response=[0, 2], response_type="ordinal", category_scores=scores)
    assert built.n_categories.tolist() == [3]
    cases = [
        ({"response": [0, 3], "category_scores": scores}, r"code 3 for item 'q', which has 3"),
        ({"response": [0, -1], "category_scores": scores}, r"0\.\.K-1"),
        ({"response": [0, 1], "category_scores": [1.0, 2.0]}, r"shape \(n_items, K_max\)"),
        ({"response": [0, 1], "category_scores": [[2.0, 1.0]]}, "increase along each row"),
        ({"response": [0, 1], "category_scores": [[np.nan, 1.0]]}, "NaN before a score"),
        ({"response": [0, 1], "category_scores": None}, "need category_scores"),
        ({"response": [0, 0.5], "category_scores": scores}, "must be integers"),
    ]
    for given, message in cases:
        with pytest.raises(ResponsesError, match=message):
            Responses(**ok, **given, response_type="ordinal")
    with pytest.raises(ResponsesError, match="category_scores are for ordinal responses"):
        Responses(**ok, response=[0, 1], category_scores=scores)


def test_a_binary_reader_points_integer_scores_to_the_ordinal_type():
    with pytest.raises(ResponsesError, match=r"non-binary.*or response_type='ordinal'"):
        Responses.from_long(long_table(SCORES))
    fractions = long_table([0, 1, 0.5, 1, 0, 1, 0, 1, 1])
    with pytest.raises(ResponsesError, match="non-binary") as err:
        Responses.from_long(fractions)
    assert "ordinal" not in str(err.value)


# ------------------------------------------------------------------ identity and storage
def test_xarray_round_trip_and_a_saved_fit_read_back_identically(ordinal, tmp_path):
    ds = ordinal.to_xarray()
    assert ds["category_scores"].dims == ("item", "category")
    assert ds.attrs["bayesirt_response_type"] == "ordinal"
    back = Responses.from_xarray(ds)
    assert back.equals(ordinal) and back.response_type == "ordinal"
    assert back.response.dtype == np.int16
    np.testing.assert_array_equal(back.category_scores, ordinal.category_scores)
    # through netCDF, as fits store it
    ds.to_netcdf(tmp_path / "data.nc", engine="h5netcdf")
    stored = Responses.from_xarray(xr.load_dataset(tmp_path / "data.nc", engine="h5netcdf"))
    assert stored.fingerprint() == ordinal.fingerprint()
    np.testing.assert_array_equal(stored.category_scores, ordinal.category_scores)
    # a stand-in for a fit (no sampling): save_fit and load_fit check the fingerprint
    idata = az.InferenceData(constant_data=ds)
    idata.attrs.update(
        bayesirt_config=json.dumps({"model": "grm", "pool_by": None, "priors": {}}),
        bayesirt_inference=json.dumps({"method": "advi"}),
        bayesirt_data_fingerprint=ordinal.fingerprint(),
    )
    path = save_fit(idata, tmp_path / "fit.nc")
    assert responses_from_fit(load_fit(path, responses=ordinal)).equals(ordinal)
    # binary data keep their layout; a dataset without the attribute reads as binary
    binary = Responses.from_long(long_table([1, 0, 1, 0, 1, np.nan, 1, 1, 0]))
    plain = binary.to_xarray()
    assert "category_scores" not in plain and plain.attrs["bayesirt_response_type"] == "binary"
    del plain.attrs["bayesirt_response_type"]
    assert Responses.from_xarray(plain).equals(binary)


def test_the_fingerprint_tells_ordinal_from_binary_codes():
    table = long_table([1, 0, 1, 0, 1, np.nan, 1, 1, 0])
    binary = Responses.from_long(table)
    as_ordinal = Responses.from_long(table, response_type="ordinal")
    np.testing.assert_array_equal(as_ordinal.response, binary.response)
    assert as_ordinal.fingerprint() != binary.fingerprint()
    assert not as_ordinal.equals(binary) and not binary.equals(as_ordinal)
    # the scores behind the codes count too: 0/1 and 1/2 give the same codes
    shifted = Responses.from_long(
        table.assign(response=table["response"] + 1), response_type="ordinal"
    )
    np.testing.assert_array_equal(shifted.response, as_ordinal.response)
    assert shifted.fingerprint() != as_ordinal.fingerprint()
    assert as_ordinal.with_source({"x": 1}).fingerprint() == as_ordinal.fingerprint()


# ------------------------------------------------------------------ real data
def test_science_loads_as_ordinal_with_four_categories_per_item(shared_data):
    path = shared_data / "classic-irt" / "science_wide.csv"
    science = load_responses(path, response_type="ordinal", scale=(1, 4))
    assert (science.n_subjects, science.n_items) == (392, 4)
    assert list(science.items) == ["Comfort", "Work", "Future", "Benefit"]
    assert science.n_categories.tolist() == [4, 4, 4, 4]
    np.testing.assert_array_equal(science.category_scores, np.tile([1.0, 2, 3, 4], (4, 1)))
    assert science.source["response_type"] == "ordinal" and science.source["scale"] == [1, 4]
    raw = pd.read_csv(path, index_col="subject")
    np.testing.assert_array_equal(science.to_wide().to_numpy(), raw.to_numpy())
    np.testing.assert_array_equal(science.dense(), raw.to_numpy() - 1)
    environment = load_responses(
        shared_data / "classic-irt" / "environment_wide.csv", response_type="ordinal"
    )
    assert (environment.n_subjects, environment.n_items) == (291, 6)
    assert environment.n_categories.tolist() == [3] * 6
    with pytest.raises(ResponsesError, match=r"response_type='ordinal' to keep integer"):
        load_responses(path)


def test_loaders_pass_the_options_on_or_refuse_them(tmp_path):
    path = tmp_path / "pyirt.jsonl"
    lines = [
        {"subject_id": "a", "responses": {"q1": 1, "q2": 3}},
        {"subject_id": "b", "responses": {"q1": 2, "q2": 5}},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    pyirt = load_responses(path, response_type="ordinal")
    assert pyirt.source["format"] == "py-irt"
    np.testing.assert_array_equal(pyirt.category_scores, [[1, 2], [3, 5]])
    with pytest.raises(ResponsesError, match=r"scores 5 outside the declared scale=\(1, 4\)"):
        load_responses(path, response_type="ordinal", scale=(1, 4))
    # checked before anything is read: the file need not exist
    absent = tmp_path / "absent.csv"
    with pytest.raises(ResponsesError, match=r"threshold=0\.5 and response_type='ordinal'"):
        load_responses(absent, response_type="ordinal", threshold=0.5)
    with pytest.raises(ResponsesError, match="unknown response_type 'graded'"):
        load_responses(absent, response_type="graded")


# ------------------------------------------------------------------ command line
def test_the_command_line_reads_ordinal_data(loaded, shared_data, tmp_path):
    science = shared_data / "classic-irt" / "science_wide.csv"
    out = ("--out", str(tmp_path / "fit.nc"))
    with pytest.raises(loaded.stop):
        main(["fit", str(science), "--response-type", "ordinal", "--scale", "1", "4", *out])
    responses, options = loaded[-1]
    assert options["response_type"] == "ordinal" and options["scale"] == (1, 4)
    assert responses.n_categories.tolist() == [4, 4, 4, 4]
    with pytest.raises(loaded.stop):
        main(["fit", str(science), "--response-type", "binary", "--threshold", "3", *out])
    assert loaded[-1][1]["response_type"] == "binary" and loaded[-1][0].response_type == "binary"
    # not given: left to load_responses' defaults (so shipped data take no new option)
    with pytest.raises(loaded.stop):
        main(["fit", str(science), "--threshold", "3", *out])
    assert "response_type" not in loaded[-1][1] and "scale" not in loaded[-1][1]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--response-type", "bogus"], "argument --response-type: invalid choice: 'bogus'"),
        (["--scale", "1"], "argument --scale: expected 2 arguments"),
        (["--scale", "1", "x"], "argument --scale: invalid float value: 'x'"),
        (["--scale", "1", "5"], "--scale: only with --response-type ordinal or continuous"),
        (["--response-type", "ordinal", "--scale", "5", "1"], "--scale 5 1: LO must be below"),
        (["--response-type", "ordinal", "--threshold", "2"], "--threshold and --response-type"),
    ],
)
def test_bad_values_are_usage_errors_before_the_data_is_read(
    capsys, loaded, tmp_path, args, fragment
):
    status = main(["fit", str(tmp_path / "absent.csv"), *args, "--out", str(tmp_path / "x.nc")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.startswith("bayesirt: error: ") and fragment in err
    assert len(err.splitlines()) == 1 and not loaded


def test_shipped_data_take_neither_option(capsys, loaded):
    for args in (["--response-type", "ordinal"], ["--scale", "1", "5"]):
        status = main(["fit", "example", *args])
        assert status == 2 and f"{args[0]}: only for results files" in capsys.readouterr().err


def test_library_messages_name_the_options(capsys, tmp_path):
    table = tmp_path / "scores.csv"
    long_table(SCORES).fillna(2).to_csv(table, index=False)
    out = ("--out", str(tmp_path / "x.nc"))
    assert main(["fit", str(table), *out]) == 1
    err = capsys.readouterr().err
    assert "or --response-type 'ordinal' to keep integer scores" in err
    assert "response_type=" not in err
    assert main(["fit", str(table), "--response-type", "ordinal", "--scale", "1", "4", *out]) == 1
    err = capsys.readouterr().err
    assert "scores 5 outside the declared --scale 1 4 (first for subject 'b'" in err
    assert _as_options("outside scale=(-2, 2)") == "outside --scale -2 2"
