"""Data sources named by a string (:mod:`bayesirt.data.sources`): the example, a public
dataset, a results file, and simulated responses."""

from __future__ import annotations

from pathlib import Path

import pytest

from bayesirt.data import load_example, load_responses, simulate_responses
from bayesirt.data.sources import (
    DATASET_PREFIX,
    EXAMPLE,
    DataSource,
    is_shipped,
    load_source,
    parse_source,
    source_name,
)


def test_strings_name_the_example_a_dataset_or_a_file(tmp_path):
    assert parse_source(EXAMPLE) == DataSource("example")
    assert parse_source(f"{DATASET_PREFIX}chembench") == DataSource("dataset", "chembench")
    assert parse_source("runs/results.csv") == DataSource("path", "runs/results.csv", {})
    resolved = parse_source("results.csv", base=tmp_path, format="long")
    assert resolved == DataSource(
        "path", str(tmp_path.resolve() / "results.csv"), {"format": "long"}
    )
    # a path-like is always a file, even one called "example"
    assert parse_source(Path(EXAMPLE)).kind == "path"


def test_short_names_and_shipped_sources():
    assert [source_name(s) for s in (EXAMPLE, "dataset:chembench", "dir/runs.csv")] == [
        "example",
        "chembench",
        "runs",
    ]
    assert is_shipped(EXAMPLE) and is_shipped("dataset:chembench")
    assert not is_shipped("results.csv") and not is_shipped(Path(EXAMPLE))


def test_file_options_are_refused_for_shipped_data():
    with pytest.raises(ValueError, match=r"only for results files, not for 'example'"):
        parse_source(EXAMPLE, format="long")
    with pytest.raises(TypeError, match="options"):
        load_source(DataSource("example"), format="long")


def test_loading_matches_the_readers(tmp_path):
    assert load_source(EXAMPLE).fingerprint() == load_example().fingerprint()
    responses = simulate_responses(n_subjects=40, n_items=8, seed=0)[0]
    path = tmp_path / "wide.csv"
    responses.to_wide().rename_axis("subject").to_csv(path)
    direct = load_responses(path, format="wide")
    assert load_source(str(path), format="wide").fingerprint() == direct.fingerprint()
    simulated = DataSource("simulate", None, {"n_subjects": 40, "n_items": 8, "seed": 0})
    assert load_source(simulated).fingerprint() == responses.fingerprint()
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        load_source(f"{DATASET_PREFIX}nope")
