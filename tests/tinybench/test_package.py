"""bayesirt.tinybench's public names, and bayesirt.analysis resolving them lazily."""

import subprocess
import sys

import pytest

import bayesirt.analysis
import bayesirt.tinybench

MOVED = (
    "SubsetEvaluation",
    "SubsetSelection",
    "estimate_scores",
    "evaluate_subsets",
    "select_items",
    "simulate_adaptive_test",
)


@pytest.mark.parametrize("name", MOVED)
def test_analysis_still_offers_the_tiny_benchmark_names(name):
    assert name in bayesirt.analysis.__all__ and name in bayesirt.tinybench.__all__
    assert getattr(bayesirt.analysis, name) is getattr(bayesirt.tinybench, name)


def test_importing_analysis_does_not_import_tinybench():
    code = (
        "import sys, bayesirt.analysis\n"
        "assert 'bayesirt.tinybench' not in sys.modules\n"
        "from bayesirt.analysis import select_items\n"
        "assert select_items.__module__ == 'bayesirt.tinybench.design'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_other_missing_names_are_still_errors():
    with pytest.raises(AttributeError, match="no attribute 'subsets'"):
        bayesirt.analysis.subsets  # noqa: B018
