"""The Responses container: round trips, metadata alignment, subsets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayesirt.data import Responses, ResponsesError, ResponsesWarning


@pytest.fixture
def sparse_long() -> pd.DataFrame:
    """4 models × 5 questions with missing cells, a never-answered question and model."""
    rng = np.random.default_rng(3)
    subjects = ["gpt", "llama", "mistral", "idle"]
    items = ["q1", "q2", "q3", "q4", "never"]
    rows = [(s, i, float(rng.integers(2))) for s in subjects for i in items]
    frame = pd.DataFrame(rows, columns=["model", "question", "correct"])
    frame.loc[frame["question"] == "never", "correct"] = np.nan
    frame.loc[frame["model"] == "idle", "correct"] = np.nan
    frame.loc[[1, 7], "correct"] = np.nan
    frame["category"] = frame["question"].map(
        {"q1": "math", "q2": "math", "q3": "code", "q4": "code", "never": "code"}
    )
    return frame


def test_long_to_wide_to_long_round_trip_loses_nothing(sparse_long):
    with pytest.warns(ResponsesWarning, match="without any observed response") as record:
        resp = Responses.from_long(
            sparse_long,
            subject="model",
            item="question",
            response="correct",
            item_meta_columns=["category"],
        )
    # a subject and an item with no observed response are left out, by name
    assert {str(w.message).rsplit(": ", 1)[1] for w in record} == {"'idle'", "'never'"}
    assert list(resp.subjects) == ["gpt", "llama", "mistral"]
    assert list(resp.items) == ["q1", "q2", "q3", "q4"]
    assert resp.n_observed == sparse_long["correct"].notna().sum() == 10

    wide = resp.to_wide()
    expected = sparse_long.pivot(index="model", columns="question", values="correct")
    pd.testing.assert_frame_equal(
        wide, expected.loc[resp.subjects, resp.items], check_names=False, check_dtype=False
    )
    back = Responses.from_wide(wide, item_meta=resp.item_meta)
    assert back.equals(resp)
    np.testing.assert_array_equal(back.dense(), resp.dense())  # NaN where missing
    assert back.item_meta.equals(resp.item_meta)
    assert back.fraction_missing == resp.fraction_missing == 1 - 10 / 12


def test_from_wide_leaves_the_input_alone():
    frame = pd.DataFrame({"q1": [1, 0], "q2": [0, 1]}, index=pd.Index(["a", "b"], name="model"))
    before = frame.copy()
    Responses.from_wide(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_xarray_round_trip_keeps_metadata(sparse_long):
    resp = Responses.from_long(
        sparse_long,
        subject="model",
        item="question",
        response="correct",
        item_meta_columns=["category"],
    )
    back = Responses.from_xarray(resp.to_xarray())
    assert back.equals(resp)
    assert back.item_meta["category"].tolist() == resp.item_meta["category"].tolist()


def test_metadata_is_matched_by_label_not_position():
    resp = Responses.from_wide(pd.DataFrame({"q1": [1, 0], "q2": [0, 1]}, index=["a", "b"]))
    meta = pd.DataFrame({"category": ["code", "math"]}, index=["q2", "q1"])
    aligned = Responses(
        subject_index=resp.subject_index,
        item_index=resp.item_index,
        response=resp.response,
        subjects=resp.subjects,
        items=resp.items,
        item_meta=meta,
    )
    assert aligned.item_meta["category"].to_dict() == {"q1": "math", "q2": "code"}
    with pytest.raises(ResponsesError, match="no row for 'q2'"):
        Responses(
            subject_index=resp.subject_index,
            item_index=resp.item_index,
            response=resp.response,
            subjects=resp.subjects,
            items=resp.items,
            item_meta=meta.rename(index={"q2": "q9"}),
        )


def test_subset_and_groups(sparse_long):
    with pytest.warns(ResponsesWarning, match="without any observed response"):
        resp = Responses.from_long(
            sparse_long,
            subject="model",
            item="question",
            response="correct",
            item_meta_columns=["category"],
        )
    sub = resp.subset(items=["q3", "q1"], subjects=["llama", "gpt"])
    assert list(sub.items) == ["q3", "q1"]
    np.testing.assert_array_equal(
        sub.dense(), resp.to_wide().loc[["llama", "gpt"], ["q3", "q1"]].to_numpy()
    )
    codes, labels = resp.item_groups("category")
    assert list(labels) == ["code", "math"]
    assert codes.tolist() == [1, 1, 0, 0]
    with pytest.raises(ResponsesError, match=r"unknown item label.*'q9'"):
        resp.subset(items=["q9"])
