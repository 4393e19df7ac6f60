"""The convergence criterion: estimators equal ArviZ's, NaN never passes, the thresholds."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pytest
import xarray as xr

from bayesirt.inference import ConvergenceWarning, check_convergence
from bayesirt.inference.diagnostics import ESS_MIN, convergence_statistics
from bayesirt.inference.fit import _advi_diagnostics


def _ar1(rng, n_chains, n_draws, n_params):
    """AR(1) chains with persistence from -0.5 to 0.99, one parameter with shifted chains
    and one with many repeated draws (ties, as NUTS produces)."""
    phi = np.linspace(-0.5, 0.99, n_params)
    noise = rng.normal(size=(n_chains, n_draws, n_params))
    x = np.zeros_like(noise)
    for t in range(n_draws):
        x[:, t] = phi * (x[:, t - 1] if t else 0.0) + noise[:, t]
    x[:, :, 3] += 2.0 * np.arange(n_chains)[:, None]
    x[:, ::3, 5] = x[:, :1, 5]
    return x


@pytest.mark.parametrize(
    ("n_chains", "n_draws"), [(3, 7), (3, 10), (3, 51), (3, 400), (3, 1001), (1, 400)]
)
def test_statistics_equal_arviz(n_chains, n_draws):
    rng = np.random.default_rng(n_draws)
    x = _ar1(rng, n_chains, n_draws, 70)
    data = xr.Dataset({"v": (("chain", "draw", "i"), x)})
    ours = convergence_statistics(x)
    theirs = [
        az.rhat(data)["v"].values,
        az.ess(data, method="bulk")["v"].values,
        az.ess(data, method="tail")["v"].values,
    ]
    for mine, reference in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine, reference, rtol=1e-12)  # NaN where ArviZ's is NaN


def _fake_fit(posterior: dict, n_chains: int, n_draws: int, rng) -> az.InferenceData:
    return az.from_dict(
        posterior=posterior,
        sample_stats={
            "diverging": np.zeros((n_chains, n_draws), dtype=bool),
            "energy": rng.normal(size=(n_chains, n_draws)),
        },
    )


def test_nan_draws_are_not_converged():
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(4, 500, 3))
    theta[1, 200:, 2] = np.nan  # an interrupted chain, padded with NaN
    with pytest.warns(ConvergenceWarning, match=r"theta\[theta_dim_0=2\]"):
        diag = check_convergence(_fake_fit({"theta": theta}, 4, 500, rng))
    assert not diag.converged
    assert np.isnan(diag.max_rhat) or diag.max_rhat > 1.01


def test_constant_parameter_is_not_converged():
    """A parameter that never moves has R-hat 0/0: that is no pass."""
    rng = np.random.default_rng(1)
    posterior = {"theta": rng.normal(size=(4, 500)), "stuck": np.ones((4, 500))}
    with pytest.warns(ConvergenceWarning, match="stuck"):
        assert not check_convergence(_fake_fit(posterior, 4, 500, rng)).converged


def test_ess_target_is_total_not_per_chain():
    """Independent draws: 4 × 90 fail the 400 target, 4 × 150 pass it."""
    rng = np.random.default_rng(2)
    with pytest.warns(ConvergenceWarning, match="bulk ESS"):
        short = check_convergence(_fake_fit({"x": rng.normal(size=(4, 90))}, 4, 90, rng))
    assert short.min_ess_bulk < ESS_MIN
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        long = check_convergence(_fake_fit({"x": rng.normal(size=(4, 150))}, 4, 150, rng))
    assert long.converged and long.min_ess_bulk >= ESS_MIN


def test_advi_with_a_nan_loss_is_not_converged():
    posterior = xr.Dataset({"theta": (("chain", "draw"), np.zeros((1, 10)))})
    settings = {"advi_final_loss": float("nan"), "advi_converged": True, "advi_iterations": 10}
    with pytest.warns(ConvergenceWarning, match="loss is nan"):
        diag = _advi_diagnostics(settings, posterior)
    assert not diag.converged
    posterior["theta"][0, 3] = np.inf
    settings["advi_final_loss"] = 12.5
    with pytest.warns(ConvergenceWarning, match="non-finite draws in theta"):
        assert not _advi_diagnostics(settings, posterior).converged


def test_chains_in_separate_modes_are_named():
    """One chain in another mode: R-hat fails and the message says that the chains sit apart
    (more draws do not help); chains that merely mix slowly get no such note."""
    rng = np.random.default_rng(3)
    bimodal = rng.normal(size=(4, 500, 2))
    bimodal[1, :, 1] += 6.0  # chain 1 of item 1 explores another mode
    with pytest.warns(ConvergenceWarning, match="separate regions"):
        diag = check_convergence(_fake_fit({"c": bimodal}, 4, 500, rng))
    assert diag.worst_rhat == "c[c_dim_0=1]" and "chain means range from" in diag.problems[0]

    slow = np.cumsum(rng.normal(scale=0.2, size=(4, 500, 1)), axis=1)  # random walks
    with pytest.warns(ConvergenceWarning) as record:
        diag = check_convergence(_fake_fit({"slow": slow}, 4, 500, rng))
    assert diag.max_rhat > 1.01
    assert "separate regions" not in str(record[0].message)


def test_cluster_codes_kept_in_the_posterior_are_not_judged():
    """The clustered models keep each item's cluster code in the posterior, the same in every
    draw; it is data, not a parameter, and must not fail the check (R-hat 0/0) as a stuck
    parameter does."""
    rng = np.random.default_rng(5)
    codes = np.broadcast_to(np.array([0.0, 1.0, 1.0]), (4, 500, 3)).copy()
    posterior = {"theta": rng.normal(size=(4, 500)), "item_cluster": codes}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_convergence(_fake_fit(posterior, 4, 500, rng)).converged
