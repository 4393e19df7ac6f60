"""End to end on a real NUTS fit: planted clusters are found and the dependence is detected."""

import pytest

import bayesirt
from bayesirt.analysis import dependence_test, residual_clusters
from bayesirt.analysis.dependence.clusters import adjusted_rand_index


@pytest.mark.slow
# 300 + 300 draws are too few for R-hat 1.01 on every item; the check only needs the residuals
@pytest.mark.filterwarnings("ignore::bayesirt.inference.diagnostics.ConvergenceWarning")
def test_real_2pl_fit_finds_planted_clusters():
    responses, _ = bayesirt.simulate_responses(
        120, 360, seed=1, clusters=6, cluster_size=30, cluster_sd=1.0, n_categories=4
    )
    idata = bayesirt.fit(
        responses,
        model="2pl",
        method="nuts",
        draws=300,
        tune=300,
        chains=2,
        random_seed=1,
        progressbar=False,
    )
    found = residual_clusters(idata)
    planted = responses.item_meta["cluster"]
    clustered = planted.notna().to_numpy()
    ari = adjusted_rand_index(found["cluster"].to_numpy()[clustered], planted.to_numpy()[clustered])
    assert ari >= 0.8
    test = dependence_test(idata, clusters="cluster", n_permutations=500)
    assert test.attrs["ppc_p"] < 0.01
    assert test.attrs["permutation_p"] < 0.01
