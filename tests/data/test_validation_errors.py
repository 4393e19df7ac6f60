"""Every bad input is refused with a ResponsesError that names the offending value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayesirt import load_responses
from bayesirt.data import Responses, ResponsesError, ResponsesWarning
from bayesirt.models import TwoPL


def long_table(**columns) -> pd.DataFrame:
    base = {
        "subject": ["m1", "m1", "m2", "m2", "m3", "m3"],
        "item": ["q1", "q2", "q1", "q2", "q1", "q2"],
        "response": [1, 0, 1, 1, 0, 0],
    }
    base.update(columns)
    return pd.DataFrame(base)


def test_missing_column_names_it_and_lists_the_columns():
    frame = long_table().rename(columns={"response": "correct"})
    with pytest.raises(ResponsesError, match=r"response='response'.*'subject', 'item', 'correct'"):
        Responses.from_long(frame)
    with pytest.raises(ResponsesError, match=r"item='question'"):
        load_responses(frame, item="question", response="correct", format="long")


def test_not_a_dataframe_names_the_type():
    with pytest.raises(ResponsesError, match="got list"):
        Responses.from_long([("m1", "q1", 1)])


@pytest.mark.parametrize("bad", [2, -1, 0.25])
def test_graded_or_fractional_responses_need_a_threshold(bad):
    frame = long_table(response=[1, 0, bad, 1, 0, 0])
    with pytest.raises(
        ResponsesError, match=rf"non-binary responses {bad}\b.*'m2'.*threshold="
    ) as err:
        Responses.from_long(frame)
    assert "graded model" not in str(err.value)  # bayesirt has no graded model to suggest


def test_threshold_binarises_and_keeps_missing():
    frame = long_table(response=[0.9, 0.2, 0.5, np.nan, 0.49, 1.0])
    resp = Responses.from_long(frame, threshold=0.5)
    wide = resp.to_wide()
    assert wide.loc["m1"].tolist() == [1, 0]
    assert wide.loc["m2", "q1"] == 1 and np.isnan(wide.loc["m2", "q2"])
    assert wide.loc["m3"].tolist() == [0, 1]


def test_text_responses_are_named():
    frame = long_table(response=[1, 0, "yes", 1, 0, 0])
    with pytest.raises(ResponsesError, match=r"non-numeric responses 'yes' \(first at row 2\)"):
        Responses.from_long(frame)


@pytest.mark.parametrize("column", ["subject", "item"])
def test_missing_labels_are_located(column):
    frame = long_table()
    frame.loc[3, column] = np.nan
    with pytest.raises(ResponsesError, match=rf"column '{column}' has 1 missing label.*row\(s\) 3"):
        Responses.from_long(frame)


def test_duplicate_pairs_are_refused_by_default_and_resolved_on_request():
    frame = pd.concat([long_table(), long_table().iloc[[2]].assign(response=0)])
    with pytest.raises(ResponsesError, match=r"1 duplicate subject-item pair.*\('m2', 'q1'\)"):
        Responses.from_long(frame)
    first = Responses.from_long(frame, duplicates="first").to_wide()
    last = Responses.from_long(frame, duplicates="last").to_wide()
    assert (first.loc["m2", "q1"], last.loc["m2", "q1"]) == (1, 0)
    with pytest.raises(ResponsesError, match=r"non-binary responses 0\.5"):
        Responses.from_long(frame, duplicates="mean")
    mean = Responses.from_long(frame, duplicates="mean", threshold=0.5).to_wide()
    assert mean.loc["m2", "q1"] == 1
    with pytest.raises(ResponsesError, match="unknown duplicates rule 'max'"):
        Responses.from_long(frame, duplicates="max")


def test_duplicate_rule_keeps_metadata_with_its_label():
    frame = pd.DataFrame(
        {
            "subject": ["s1", "s2", "s1"],
            "item": ["i1", "i2", "i1"],
            "response": [0, 1, 1],
            "category": ["A", "B", "A"],
        }
    )
    resp = Responses.from_long(frame, duplicates="last", item_meta_columns=["category"])
    assert resp.item_meta["category"].to_dict() == {"i1": "A", "i2": "B"}


def test_empty_table_is_refused():
    with pytest.raises(ResponsesError, match="empty"):
        Responses.from_long(pd.DataFrame(columns=["subject", "item", "response"]))
    with pytest.raises(ResponsesError, match="every response is missing"):
        Responses.from_long(long_table(response=[np.nan] * 6))


def test_one_subject_is_data_but_a_model_needs_two_subjects_and_two_items():
    frame = long_table()
    alone = Responses.from_long(frame[frame["subject"] == "m1"])  # scorable against a fit
    assert alone.n_subjects == 1 and alone.n_observed == (frame["subject"] == "m1").sum()
    with pytest.raises(ResponsesError, match="at least 2 subjects to fit a model, got 1"):
        TwoPL(alone)
    with pytest.raises(ResponsesError, match="at least 2 items to fit a model, got 1"):
        TwoPL(Responses.from_long(frame[frame["item"] == "q1"]))


def test_constant_items_are_reported_by_count_and_kept():
    frame = long_table(response=[1, 0, 1, 1, 1, 0])  # q1 answered 1 by everyone
    with pytest.warns(ResponsesWarning, match="1 of 2 items are constant.*'q1'"):
        resp = load_responses(frame)
    assert list(resp.constant_items()) == ["q1"]
    assert resp.n_items == 2


def test_missing_cells_stay_missing_and_unanswered_subjects_are_left_out_by_name():
    frame = pd.concat(
        [
            long_table(response=[1, np.nan, 0, 1, np.nan, np.nan]),
            pd.DataFrame({"subject": ["m4", "m4"], "item": ["q1", "q2"], "response": [0, 1]}),
        ],
        ignore_index=True,
    )
    with pytest.warns(ResponsesWarning, match="1 subject.* left out: 'm3'"):
        resp = Responses.from_long(frame)
    assert list(resp.subjects) == ["m1", "m2", "m4"]  # m3 answered nothing: not measured
    assert resp.n_observed == 5
    assert resp.subject_counts().to_dict() == {"m1": 1, "m2": 2, "m4": 2}


def test_wide_table_with_duplicate_items_is_refused():
    frame = pd.DataFrame([[1, 0, 1], [0, 0, 1]], index=["m1", "m2"], columns=["q1", "q2", "q1"])
    with pytest.raises(ResponsesError, match=r"duplicate item columns.*'q1'"):
        Responses.from_wide(frame)
