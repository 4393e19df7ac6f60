"""The spec of a sweep (:mod:`bayesirt.sweep.spec`): checks that name the bad value before any
fit, and the item bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayesirt.data import Responses
from bayesirt.sweep import load_spec, sweep
from bayesirt.sweep.spec import _bootstrap_items

from .conftest import SPEC


def test_bootstrap_copies_items_with_their_answers_and_missing_cells():
    # 3 subjects x 4 items; s2 never answered q1 (missing stays missing)
    table = pd.DataFrame(
        {"q0": [1, 0, 1], "q1": [0, 1, np.nan], "q2": [1, 1, 0], "q3": [0, 0, 1]},
        index=["s0", "s1", "s2"],
    )
    base = Responses.from_wide(table).with_item_meta(
        pd.DataFrame({"category": ["a", "a", "b", "b"]}, index=table.columns)
    )
    picks = np.sort(np.random.default_rng([0, 1]).integers(0, 4, size=4))
    boot = _bootstrap_items(base, np.random.default_rng([0, 1]))
    expected_labels, seen = [], {}
    for p in picks:
        seen[p] = seen.get(p, 0) + 1
        expected_labels.append(f"q{p}" if seen[p] == 1 else f"q{p}#{seen[p]}")
    assert list(boot.items) == expected_labels
    wide = boot.to_wide()
    for label, p in zip(expected_labels, picks, strict=True):
        pd.testing.assert_series_equal(
            wide[label].reindex(table.index), table[f"q{p}"], check_names=False, check_dtype=False
        )
        assert boot.item_meta.loc[label, "category"] == "aabb"[p]
    assert boot.n_observed == sum(int(table[f"q{p}"].notna().sum()) for p in picks)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"models": ["2pl"]}, "'data' is missing"),
        ({**SPEC, "modles": ["2pl"]}, "unknown key(s) ['modles']"),
        ({**SPEC, "models": ["5pl"]}, "unknown model '5pl'"),
        ({**SPEC, "seeds": [0, -1]}, "seeds must be non-negative"),
        ({**SPEC, "priors": {"x": {"sigma_log_a": {"distribution": "HalfNormal"}}}}, "'1pl'"),
        ({**SPEC, "fit": {"random_seed": 1}}, "fit.random_seed is set by the sweep"),
        ({**SPEC, "fit": {"method": "mcmc"}}, "unknown fit.method 'mcmc'"),
        ({**SPEC, "fit": {"n_draws": 5}}, "unknown fit setting(s) ['n_draws']"),
        ({**SPEC, "analysis": {"weights": {}}}, "unknown analysis setting(s) ['weights']"),
        ({**SPEC, "items": {"bootstrap": -2}}, "items.bootstrap must be a non-negative"),
        ({**SPEC, "items": {"subsets": {"all": ["q1"]}}}, "clashes"),
        ({**SPEC, "data": {"x": "dataset:nope"}}, "unknown dataset 'nope'"),
        ({**SPEC, "data": {"x": {"simulate": {"n_items": 5, "seed": 1}}}}, "'n_subjects'"),
    ],
)
def test_bad_specs_are_rejected_naming_the_bad_value(spec, fragment):
    with pytest.raises(ValueError) as err:
        load_spec(spec)
    assert fragment in str(err.value)


def test_unknown_subset_items_are_rejected_before_any_fit(tmp_path):
    spec = {**SPEC, "items": {"full": False, "subsets": {"few": ["item_0001", "nope"]}}}
    with pytest.raises(ValueError, match=r"item set 'few' of data 'sim'.*nope"):
        sweep(spec, cache_dir=tmp_path, progress=False)
    assert not (tmp_path / "fits").exists()
