"""Preprocessing filters: what they drop, and the record of why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayesirt.data import Responses, ResponsesError, filters


@pytest.fixture(scope="module")
def lsat7(shared_data) -> Responses:
    return Responses.from_wide(
        pd.read_csv(shared_data / "classic-irt" / "lsat7_wide.csv", index_col=0)
    )


@pytest.fixture
def small() -> Responses:
    """6 models × 6 items: q_all1 constant, q_anti against the rest, m_sparse answers 2."""
    wide = pd.DataFrame(
        {
            "q_easy": [1, 1, 1, 1, 1, 0],
            "q_mid": [1, 1, 1, 0, 0, 0],
            "q_hard": [1, 1, 0, 0, 0, np.nan],
            "q_mid2": [1, 1, 0, 1, 0, np.nan],
            "q_all1": [1, 1, 1, 1, 1, np.nan],
            "q_anti": [0, 0, 0, 1, 1, np.nan],
        },
        index=["m1", "m2", "m3", "m4", "m5", "m_sparse"],
    )
    return Responses.from_wide(wide)


def test_point_biserial_equals_classical_item_rest_correlation(lsat7):
    dense = lsat7.dense()
    rest = dense.sum(axis=1, keepdims=True) - dense
    expected = [np.corrcoef(dense[:, i], rest[:, i])[0, 1] for i in range(lsat7.n_items)]
    np.testing.assert_allclose(filters.compute_point_biserial(lsat7), expected, rtol=1e-12)


def test_point_biserial_with_missing_cells(small):
    corr = filters.compute_point_biserial(small)
    assert np.isnan(corr["q_all1"])  # constant item
    assert corr["q_anti"] < 0
    assert (corr[["q_easy", "q_mid", "q_hard", "q_mid2"]] > 0).all()
    # q_easy by hand: subjects' accuracy on their other observed items
    dense = small.dense()
    observed = ~np.isnan(dense)
    rest = (np.nansum(dense, axis=1) - dense[:, 0]) / (observed.sum(axis=1) - 1)
    assert corr["q_easy"] == pytest.approx(np.corrcoef(dense[:, 0], rest)[0, 1])


def test_drop_items_by_accuracy_records_value_and_reason(small):
    kept, removed = filters.drop_items_by_accuracy(small, min_accuracy=0.45, max_accuracy=0.9)
    assert list(kept.items) == ["q_easy", "q_mid", "q_mid2"]
    assert list(removed.columns) == filters.REMOVED_COLUMNS
    by_label = removed.set_index("label")
    assert by_label["value"].to_dict() == {"q_hard": 0.4, "q_all1": 1.0, "q_anti": 0.4}
    assert by_label.loc["q_hard", "reason"] == "accuracy 0.4 below min_accuracy=0.45"
    assert by_label.loc["q_all1", "reason"] == "accuracy 1 above max_accuracy=0.9"
    assert (removed["kind"] == "item").all()
    with pytest.raises(ResponsesError, match=r"min_accuracy=0\.9, max_accuracy=0\.1"):
        filters.drop_items_by_accuracy(small, min_accuracy=0.9, max_accuracy=0.1)


def test_drop_constant_items(small):
    kept, removed = filters.drop_constant_items(small)
    assert list(removed["label"]) == ["q_all1"]
    assert removed["reason"].iloc[0] == "constant: every observed response is 1"
    assert kept.n_items == 5 and len(kept.constant_items()) == 0


def test_drop_items_by_point_biserial(small):
    kept, removed = filters.drop_items_by_point_biserial(small, min_correlation=0.0)
    assert set(removed["label"]) == {"q_anti", "q_all1"}
    by_label = removed.set_index("label")
    assert by_label.loc["q_anti", "value"] < 0
    assert "below min_correlation=0.0" in by_label.loc["q_anti", "reason"]
    assert np.isnan(by_label.loc["q_all1", "value"])
    assert "undefined" in by_label.loc["q_all1", "reason"]
    assert list(kept.items) == ["q_easy", "q_mid", "q_hard", "q_mid2"]


def test_drop_subjects_by_count(small):
    kept, removed = filters.drop_subjects_by_count(small, min_responses=3)
    assert list(removed["label"]) == ["m_sparse"]
    assert removed["value"].iloc[0] == 2
    assert removed["kind"].iloc[0] == "subject"
    assert removed["reason"].iloc[0] == "2 observed responses, fewer than min_responses=3"
    assert "m_sparse" not in kept.subjects
    assert kept.n_observed == small.n_observed - 2


def test_filter_that_leaves_too_little_is_refused(small):
    with pytest.raises(ResponsesError, match="at least 2 items to fit a model, got 1"):
        filters.drop_items_by_accuracy(small, min_accuracy=0.95, max_accuracy=1.0)
