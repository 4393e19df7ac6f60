"""The whole robustness analysis of a fit (assess_robustness) and its JSON report."""

import json

from dependence_fakes import truth_fit

import bayesirt
from bayesirt.analysis import assess_robustness, robustness_to_json


def test_whole_analysis_is_json_safe():
    responses, truth = bayesirt.simulate_responses(
        60, 80, seed=6, clusters=3, cluster_size=10, n_categories=3, missing_fraction=0.05
    )
    idata = truth_fit(responses, truth)
    result = assess_robustness(
        idata, n_draws=10, n_ppc_draws=40, n_permutations=99, n_use_cases=20, top=5
    )
    assert result.test.attrs["partition"] == "cluster"  # "auto" found the metadata column
    assert list(result.partitions.columns) == ["residual", "cluster"]
    assert result.dependence.attrs["partition"] == "cluster"
    assert set(result.stability) == {"posterior", "accuracy"}
    report = robustness_to_json(result)
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text) == report
    assert report["dependence"]["method"] == "dense"
    assert len(report["dependence"]["top_pairs"]) == 5
    assert {c["cluster"] for c in report["dependence"]["clusters"]} == {
        "cluster_0",
        "cluster_1",
        "cluster_2",
    }
    assert report["test"]["verdict"] == result.test.attrs["verdict"]
    assert report["scenarios"]["names"][:3] == ["theta", "uniform", "balanced"]
    first = report["scenarios"]["subjects"][0]
    assert set(first["mean_rank"]) == set(report["scenarios"]["names"])
    assert report["scenarios"]["accuracy"]["kendall_tau"]["uniform"]["uniform"] == 1.0
    assert {p["partition"] for p in report["partitions"]} == {"residual", "cluster"}
    assert set(report["timings"]) >= {"local_dependence", "dependence_test"}
