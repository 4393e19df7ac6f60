"""The fake fits of :mod:`bayesirt.testing` against real ones: a fake carries what a fit of
:func:`bayesirt.fit` carries (groups, posterior variables and their dimensions, every attribute,
the settings a run records), so that the tests built on fakes test what real fits go through.

One real ADVI fit (a few hundred steps) is the reference; the fakes themselves sample nothing.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from scipy.stats import spearmanr

import bayesirt
from bayesirt.analysis import compare, rank
from bayesirt.analysis.compare import ParetoKWarning
from bayesirt.analysis.summary import summarize_fit
from bayesirt.inference import (
    ConvergenceWarning,
    Diagnostics,
    SettingError,
    fit_info,
    load_fit,
    model_from_fit,
    save_fit,
)
from bayesirt.inference.io import fit_diagnostics
from bayesirt.models import TwoPL
from bayesirt.testing import (
    FAKE_DRAWS,
    complete_responses,
    fake_fit,
    fake_fit_model,
    simulated_fit,
)

ADVI = {"method": "advi", "advi_iterations": 300, "draws": 10, "chains": 2, "random_seed": 4}


@pytest.fixture(scope="module")
def responses():
    return bayesirt.simulate_responses(12, 30, seed=2)[0]


@pytest.fixture(scope="module")
def real(responses):
    """A real ADVI fit (300 steps: not converged, which is not what is checked here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return bayesirt.fit(responses, progressbar=False, **ADVI)


def test_a_fake_fit_has_the_groups_attributes_and_variables_of_a_real_one(responses, real):
    fake = fake_fit(responses, method="advi")
    assert set(fake.attrs) == set(real.attrs)
    assert {"posterior", "constant_data"} <= set(fake.groups()) <= set(real.groups())
    xr.testing.assert_identical(fake.constant_data, real.constant_data)
    assert set(fake.posterior.data_vars) <= set(real.posterior.data_vars)
    assert {"theta", "a", "intercept", "b"} <= set(fake.posterior.data_vars)
    for name, var in fake.posterior.data_vars.items():
        assert var.dims == real.posterior[name].dims, name
        for dim in var.dims[2:]:
            np.testing.assert_array_equal(var[dim].values, real.posterior[dim].values)
    mine, theirs = fit_info(fake), fit_info(real)
    for key in ("config", "data_fingerprint", "versions"):
        assert mine[key] == theirs[key], key
    assert set(mine["inference"]) == set(theirs["inference"])
    assert set(mine["diagnostics"]) == set(theirs["diagnostics"])
    assert mine["diagnostics"]["method"] == "advi" and mine["diagnostics"]["converged"]


def test_the_stand_in_records_the_settings_a_real_run_records(responses, real):
    fake = fake_fit_model(TwoPL(responses), progressbar=False, **ADVI)
    recorded, expected = fit_info(fake)["inference"], fit_info(real)["inference"]
    assert set(recorded) == set(expected)
    for key in ("method", "draws", "chains", "random_seed", "advi_iterations", "batch_size"):
        assert recorded[key] == expected[key], key
    for dim in ("chain", "draw", "subject", "item"):  # ADVI: one chain of draws × chains
        assert fake.posterior.sizes[dim] == real.posterior.sizes[dim], dim
    nuts = fit_info(fake_fit_model(TwoPL(responses), draws=7, chains=3, sampler="pymc"))
    assert nuts["inference"] == {
        "method": "nuts",
        "draws": 7,
        "chains": 3,
        "random_seed": 0,
        "sampler": "pymc",
        "tune": 500,
        "target_accept": 0.8,
        "seconds": 0.0,
    }
    adaptive = fake_fit_model(TwoPL(responses), chains=2)
    assert dict(adaptive.posterior.sizes)["draw"] == FAKE_DRAWS


def test_the_stand_in_refuses_what_fit_model_refuses(responses):
    model = TwoPL(responses)
    with pytest.raises(SettingError, match="draws"):
        fake_fit_model(model, draws=0)
    with pytest.raises(SettingError, match="batch_size"):
        fake_fit_model(model, batch_size=5)
    with pytest.raises(SettingError, match="target_accept"):
        fake_fit_model(model, target_accept=1.5)


def test_a_fake_fit_survives_save_and_load(tmp_path):
    fake, _ = simulated_fit(10, 20, n_draws=30, seed=3)
    path = save_fit(fake, tmp_path / "fake.nc", overwrite=False)
    loaded = load_fit(path, responses=model_from_fit(fake).responses)
    assert fit_info(loaded) == fit_info(fake)
    assert model_from_fit(loaded).config() == model_from_fit(fake).config()
    # the difficulty is not stored but derived again from the stored intercept and a
    for name in ("theta", "a", "intercept", "b"):
        np.testing.assert_allclose(loaded.posterior[name], fake.posterior[name], rtol=2.0**-14)
    before, after = summarize_fit(fake), summarize_fit(loaded)
    assert [s["subject"] for s in after["subjects"]] == [s["subject"] for s in before["subjects"]]
    assert path.with_name("fake.card.md").is_file()


def test_a_fake_fit_goes_through_the_analyses():
    fake, _ = simulated_fit(8, 30, n_draws=40, seed=1)
    ranking = rank(fake, n_boot=20)
    assert list(ranking["subject"].values) == [f"s{j}" for j in range(8)]  # best first
    post = fake.posterior
    reversed_fit = fake_fit(
        model_from_fit(fake).responses,
        theta=-post["theta"].values,
        a=post["a"].values,
        b=post["b"].values,
        log_likelihood=True,
    )
    assert "log_likelihood" in reversed_fit.groups()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ParetoKWarning)
        table = compare({"sim": fake, "reversed": reversed_fit})
    assert table.index[0] == "sim"  # abilities near the truth predict the data better


def test_random_draws_scatter_around_rough_estimates_from_the_data():
    """A fake of data it was given no draws for ranks the subjects by their accuracy and the
    items by their difficulty, as a fit would."""
    responses, truth = bayesirt.simulate_responses(30, 60, seed=5)
    fake = fake_fit(responses, seed=1)
    theta = fake.posterior["theta"].mean(("chain", "draw")).to_series()
    accuracy = responses.subject_accuracy().set_axis(theta.index)
    assert spearmanr(theta, accuracy).statistic > 0.95
    assert abs(theta.mean()) < 0.1 and 0.9 < theta.std() < 1.1
    b = fake.posterior["b"].mean(("chain", "draw")).to_series()
    assert spearmanr(b, responses.item_accuracy().set_axis(b.index)).statistic < -0.95
    assert spearmanr(b, truth["b"].values).statistic > 0.7


def test_draws_and_models_are_what_was_given():
    responses = complete_responses([[1, 0, np.nan], [0, 1, 1], [1, 1, 0]])
    theta = np.arange(6.0).reshape(1, 2, 3)
    fit = fake_fit(responses, theta=theta, a=2.0, b=[0.0, 1.0, -1.0], c=0.2)
    np.testing.assert_array_equal(fit.posterior["theta"], theta)
    np.testing.assert_array_equal(fit.posterior["b"].values[0, 1], [0.0, 1.0, -1.0])
    np.testing.assert_array_equal(fit.posterior["intercept"].values[0, 1], [-0.0, -2.0, 2.0])
    assert fit_info(fit)["config"]["model"] == "3pl"
    assert fit_info(fake_fit(responses, d=0.9, c=0.1))["config"]["model"] == "4pl"
    by_intercept = fake_fit(responses, a=2.0, intercept=[1.0, 2.0, 3.0])
    np.testing.assert_allclose(by_intercept.posterior["b"].values[0, 0], [-0.5, -1.0, -1.5])
    stored = Diagnostics(method="nuts", max_rhat=1.2, problems=["max R-hat 1.2"])
    flagged = fake_fit(responses, diagnostics=stored, settings={"tune": 50})
    assert fit_diagnostics(flagged)["converged"] is False
    assert fit_info(flagged)["inference"]["tune"] == 50
    assert fit_info(fake_fit(responses, model="1pl"))["config"]["model"] == "1pl"


def test_shapes_that_do_not_fit_are_refused():
    responses = complete_responses(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"theta has shape \(2, 5, 4\)"):
        fake_fit(responses, theta=np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match="b or intercept, not both"):
        fake_fit(responses, b=0.0, intercept=0.0)
    with pytest.raises(ValueError, match="log_likelihood has shape"):
        fake_fit(responses, log_likelihood=np.zeros((2, 50, 3)))
    other = complete_responses(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="other responses"):
        fake_fit(responses, model=TwoPL(other))
    with pytest.raises(ValueError, match="method"):
        fake_fit(responses, method="mcmc")
