"""The shipped example leaderboard equals its regeneration, and the fallback returns it."""

from __future__ import annotations

import numpy as np
import pytest

import bayesirt
from bayesirt.data import ResponsesWarning
from bayesirt.data import example as example_module


@pytest.fixture(scope="module")
def regenerated():
    return example_module.generate_example()


@pytest.fixture(scope="module")
def shipped():
    assert example_module.EXAMPLE_DIR.is_dir(), "data/example/ is missing from the checkout"
    return bayesirt.load_example(return_truth=True)


def assert_same_example(left, right):
    (resp_a, truth_a), (resp_b, truth_b) = left, right
    assert resp_a.equals(resp_b)
    assert resp_a.item_meta.equals(resp_b.item_meta)
    assert resp_a.subject_meta.equals(resp_b.subject_meta)
    assert truth_a.attrs == truth_b.attrs
    assert set(truth_a.data_vars) == set(truth_b.data_vars)
    for name, var in truth_a.data_vars.items():
        assert var.dims == truth_b[name].dims
        if var.dtype.kind == "f":
            np.testing.assert_allclose(var, truth_b[name], rtol=1e-12, err_msg=name)
        else:
            np.testing.assert_array_equal(var, truth_b[name], err_msg=name)
    for dim in truth_a.dims:
        np.testing.assert_array_equal(truth_a[dim], truth_b[dim])


def test_shipped_files_equal_the_regeneration(shipped, regenerated):
    assert_same_example(shipped, regenerated)


def test_without_the_files_the_same_data_is_regenerated(shipped, monkeypatch, tmp_path):
    monkeypatch.setattr(example_module, "EXAMPLE_DIR", tmp_path / "absent")
    assert_same_example(bayesirt.load_example(return_truth=True), shipped)
    assert bayesirt.load_example().equals(shipped[0])


def test_example_has_the_described_structure(shipped):
    resp, truth = shipped
    assert (resp.n_subjects, resp.n_items) == (40, 1500)
    assert resp.n_observed == 58_800  # 2% of 60,000 cells missing
    assert resp.item_meta["category"].nunique() == 8
    assert resp.subject_meta["family"].value_counts().tolist() == [5] * 8
    assert {"theta", "a", "b"} <= set(truth.data_vars)
    assert "c" not in truth and truth.attrs["model"] == "2pl"
    assert list(truth["subject"].values) == list(resp.subjects)


def test_files_read_with_the_general_loader(shipped):
    folder = example_module.EXAMPLE_DIR
    with pytest.warns(ResponsesWarning, match="12 of 1500 items are constant"):
        resp = bayesirt.load_responses(
            folder / "responses.csv",
            item_meta=folder / "items.csv",
            subject_meta=folder / "subjects.csv",
        )
    assert resp.equals(shipped[0])
    assert resp.item_meta.equals(shipped[0].item_meta)
