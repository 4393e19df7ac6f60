"""bayesirt.analysis.report_inputs: the analyses of the HTML report, apart from its drawing.

Fake 2PL fits (:func:`bayesirt.testing.simulated_fit`); the report built from real fits is
tested in ``tests/reports/test_html_report.py``.
"""

from __future__ import annotations

import pytest

from bayesirt.analysis.compare import LOO_UNITS
from bayesirt.analysis.report_inputs import STAGES, report_inputs
from bayesirt.testing import simulated_fit


def stamped(seed: int):
    idata, _ = simulated_fit(8, 20, n_draws=40, seed=seed)
    return idata


def test_one_fit_has_checks_ranking_and_quality_but_no_comparison():
    stages = []
    inputs = report_inputs({"fit": stamped(0)}, n_draws=10, progress=stages.append)
    assert stages == ["ppc", "item-fit", "quality", "ranking", "person-fit"]
    assert inputs.unavailable is None and inputs.same_data
    assert inputs.checks.attrs["n_draws"] == 10
    assert inputs.ranking.sizes["subject"] == 8
    assert inputs.quality.item_fit is inputs.checks  # the quality reuses the checks
    assert inputs.comparison is None
    subjects = inputs.person_fit["subjects"]
    assert sorted(subjects["subject"]) == sorted(inputs.ranking["subject"].values)
    assert subjects.attrs["alpha"] == 0.05 and "items" not in inputs.person_fit


def test_fits_on_different_data_are_not_compared():
    stages = []
    inputs = report_inputs({"a": stamped(0), "b": stamped(1)}, n_draws=10, progress=stages.append)
    assert stages == list(STAGES)
    assert not inputs.same_data and inputs.comparison is None


def test_fits_on_the_same_data_are_compared_by_response_and_by_item():
    inputs = report_inputs({"a": stamped(0), "b": stamped(0)}, n_draws=10)
    assert inputs.same_data
    assert list(inputs.comparison) == list(LOO_UNITS)
    for table in inputs.comparison.values():
        assert sorted(table.index) == ["a", "b"]


def test_no_fit():
    with pytest.raises(ValueError, match="at least one fit"):
        report_inputs({})
