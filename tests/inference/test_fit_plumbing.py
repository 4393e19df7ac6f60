"""Fit dispatch, diagnostics, save/load: errors named, failures shown, round trips exact."""

from __future__ import annotations

import json
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayesirt
from bayesirt.analysis.summary import summarize_fit
from bayesirt.inference import (
    ConvergenceWarning,
    FitFileError,
    check_convergence,
    fit,
    fit_info,
    load_fit,
    model_from_fit,
    save_fit,
)
from bayesirt.inference.diagnostics import (
    STATISTICS_GROUP,
    fit_statistics,
    parameter_statistics,
)
from bayesirt.models import Prior, TwoPL, get_model, icc, model_from_config


@pytest.fixture(scope="module")
def tiny():
    return bayesirt.simulate_responses(12, 30, model="2pl", seed=2)[0]


def test_unknown_names_are_refused_with_the_known_ones(tiny):
    with pytest.raises(ValueError, match=r"'5pl'.*1pl, 2pl, 3pl, 4pl"):
        fit(tiny, model="5pl")
    with pytest.raises(ValueError, match=r"'mcmc'.*nuts, advi"):
        fit(tiny, method="mcmc")
    with pytest.raises(ValueError, match=r"'stan'.*nutpie, pymc, numpyro"):
        fit(tiny, sampler="stan")
    with pytest.raises(ValueError, match="draws must be a positive integer, got 0"):
        fit(tiny, draws=0)


def test_priors_are_validated_and_used(tiny):
    with pytest.raises(ValueError, match="unknown prior 'sigma_theta'"):
        TwoPL(tiny, priors={"sigma_theta": Prior("HalfNormal", sigma=1.0)})
    with pytest.raises(ValueError, match="'Normall' is not a PyMC distribution"):
        Prior("Normall", mu=0)
    model = TwoPL(tiny, priors={"mu_intercept": Prior("Normal", mu=3.0, sigma=0.01)})
    with model.build_model() as pm_model:
        mu = pm_model["mu_intercept"]
    # sampled through the items' sample mean, yet its prior is exactly N(3, 0.01)
    draws = bayesirt.models.priors.pm.draw(mu, draws=2000, random_seed=1)
    assert np.mean(draws) == pytest.approx(3.0, abs=0.002)
    assert np.std(draws) == pytest.approx(0.01, rel=0.1)
    with pytest.raises(ValueError, match="mu_intercept must be Normal"):
        TwoPL(tiny, priors={"mu_intercept": Prior("StudentT", nu=3, sigma=1)}).build_model()
    rebuilt = model_from_config(json.dumps(model.config()), tiny)
    assert rebuilt.priors == model.priors


def test_pool_by_needs_an_existing_column(tiny):
    with pytest.raises(bayesirt.ResponsesError, match="'benchmark'"):
        TwoPL(tiny, pool_by="benchmark")


def test_every_model_exposes_the_same_item_variables(tiny):
    for name in ("1pl", "2pl", "3pl", "4pl"):
        model = get_model(name)(tiny).build_model()
        names = {v.name for v in model.deterministics} | {v.name for v in model.free_RVs}
        assert {"theta", "a", "intercept"} <= names, name
        assert ("c" in names) == (name in ("3pl", "4pl")), name
        assert ("d" in names) == (name == "4pl"), name


def _fake_fit(rng, n_chains=2, offset=0.0, divergences=0):
    theta = rng.normal(size=(n_chains, 300, 4))
    theta[0] += offset  # chains that disagree
    diverging = np.zeros((n_chains, 300), dtype=bool)
    diverging[0, :divergences] = True
    return az.from_dict(
        posterior={"theta": theta, "theta_z": theta, "mu_b": rng.normal(size=(n_chains, 300))},
        sample_stats={"diverging": diverging, "energy": rng.normal(size=(n_chains, 300))},
        coords={"subject": list("abcd")},
        dims={"theta": ["subject"], "theta_z": ["subject"]},
    )


def test_convergence_failure_is_shown_and_names_the_parameter():
    rng = np.random.default_rng(0)
    with pytest.warns(ConvergenceWarning, match=r"R-hat .* for theta\[subject=") as record:
        diag = check_convergence(_fake_fit(rng, offset=3.0, divergences=4))
    assert not diag.converged
    assert diag.divergences == 4
    assert any("4 divergent" in p for p in diag.problems)
    assert "divergent" in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clean = check_convergence(_fake_fit(rng))
    assert clean.converged and clean.max_rhat < 1.01
    assert "theta_z" not in clean.worst_rhat


def test_too_short_sampling_warns(tiny):
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        idata = fit(
            tiny, model="4pl", sampler="pymc", draws=20, tune=5, random_seed=1, progressbar=False
        )
    assert not fit_info(idata)["diagnostics"]["converged"]


def test_pointwise_log_likelihood_matches_the_item_response_function(tiny):
    idata = fit(
        tiny,
        model="3pl",
        sampler="pymc",
        draws=10,
        tune=10,
        random_seed=1,
        log_likelihood=True,
        progressbar=False,
    )
    ll = idata.log_likelihood["y"]
    assert ll.dims == ("chain", "draw", "obs") and ll.sizes["obs"] == tiny.n_observed
    draw = idata.posterior.isel(chain=1, draw=4)
    s, i, y = tiny.subject_index, tiny.item_index, tiny.response
    p = icc(draw["theta"].values[s], *(draw[k].values[i] for k in ("a", "b", "c")))
    expected = np.where(y == 1, np.log(p), np.log(1 - p))
    np.testing.assert_allclose(ll.isel(chain=1, draw=4).values, expected, rtol=1e-10)


def _numbers(tree) -> list[float]:
    """Every number in a nested summary, in order (booleans and labels left out)."""
    if isinstance(tree, dict):
        return [x for value in tree.values() for x in _numbers(value)]
    if isinstance(tree, list):
        return [x for value in tree for x in _numbers(value)]
    is_number = isinstance(tree, int | float) and not isinstance(tree, bool)
    return [float(tree)] if is_number else []


def test_save_load_round_trip_keeps_every_summary(tmp_path, simulated_2pl, nuts_2pl):
    responses, _ = simulated_2pl
    path = save_fit(nuts_2pl, tmp_path / "fits" / "sim.nc")
    card = (tmp_path / "fits" / "sim.card.md").read_text()
    assert "2pl" in card and responses.fingerprint() in card and "- diagnostics:" in card
    loaded = load_fit(path, responses=responses)
    # Abilities and scalars are stored as float32; item parameters as float32 rounded to 16
    # significand bits: within 2^-17 (+ float32 rounding), and not closer (they are rounded).
    for name in ("theta", "sigma_log_a"):
        assert loaded.posterior[name].dtype == np.float64
        np.testing.assert_array_equal(
            loaded.posterior[name], nuts_2pl.posterior[name].astype(np.float32)
        )
    for name in ("a", "intercept"):
        assert loaded.posterior[name].dtype == np.float64
        np.testing.assert_allclose(
            loaded.posterior[name], nuts_2pl.posterior[name], rtol=2.0**-17 + 2.0**-24, atol=0
        )
        relative = np.abs(loaded.posterior[name] / nuts_2pl.posterior[name] - 1)
        assert float(relative.max()) > 2.0**-20
    # b is not stored but derived again from the stored intercept and a.
    np.testing.assert_allclose(loaded.posterior["b"], nuts_2pl.posterior["b"], rtol=2.0**-15)
    xr.testing.assert_equal(loaded.sample_stats, nuts_2pl.sample_stats)
    before, after = summarize_fit(nuts_2pl), summarize_fit(loaded)
    assert [s["subject"] for s in after["subjects"]] == [s["subject"] for s in before["subjects"]]
    np.testing.assert_allclose(_numbers(after), _numbers(before), rtol=5e-5, atol=1e-6)
    assert fit_info(loaded) == fit_info(nuts_2pl)
    rebuilt = model_from_fit(loaded)
    assert rebuilt.responses.equals(responses) and rebuilt.config() == json.loads(
        nuts_2pl.attrs["bayesirt_config"]
    )


def test_fit_file_keeps_the_convergence_statistics_the_fit_saw(tmp_path, nuts_2pl):
    """R-hat and ESS of every parameter element as computed on the draws in memory come back
    exactly from the file, whose draws are rounded; for other draws they are computed anew."""
    in_memory = parameter_statistics(nuts_2pl.posterior.drop_vars("b"))
    loaded = load_fit(save_fit(nuts_2pl, tmp_path / "sim.nc"))
    assert STATISTICS_GROUP in loaded.groups()
    stored = fit_statistics(loaded)
    assert set(stored) == set(in_memory)
    assert {"theta", "a", "intercept", "sigma_log_a", "log_a_mean"} <= set(stored)
    for name, (rhat, bulk, tail, _) in in_memory.items():
        np.testing.assert_array_equal(stored[name][0], rhat)
        np.testing.assert_array_equal(stored[name][1], bulk)
        np.testing.assert_array_equal(stored[name][2], tail)
    thinned = az.InferenceData(
        posterior=loaded.posterior.isel(draw=slice(None, None, 2)),
        **{STATISTICS_GROUP: loaded[STATISTICS_GROUP]},
    )
    again = parameter_statistics(thinned.posterior.drop_vars("b"))
    np.testing.assert_array_equal(fit_statistics(thinned)["a"][1], again["a"][1])


def test_fit_file_stores_no_derived_variable_and_compact_draws(tmp_path, nuts_2pl):
    path = save_fit(nuts_2pl, tmp_path / "sim.nc")
    stored = xr.open_dataset(path, group="posterior", engine="h5netcdf")
    assert "b" not in stored and "theta_z" not in stored
    assert {stored[name].dtype for name in stored.data_vars} == {np.dtype("float32")}
    full = tmp_path / "arviz.nc"
    nuts_2pl.to_netcdf(str(full), engine="h5netcdf")  # every variable, float64, zlib
    assert path.stat().st_size < 0.3 * full.stat().st_size


def test_load_refuses_files_that_do_not_match(tmp_path, simulated_2pl, nuts_2pl):
    with pytest.raises(FitFileError, match="no fit file"):
        load_fit(tmp_path / "missing.nc")
    not_a_fit = tmp_path / "plain.nc"
    az.from_dict(posterior={"x": np.zeros((1, 5))}).to_netcdf(str(not_a_fit))
    with pytest.raises(FitFileError, match="not a bayesirt fit"):
        load_fit(not_a_fit)
    path = save_fit(nuts_2pl, tmp_path / "sim.nc")
    other = bayesirt.simulate_responses(10, 20, model="2pl", seed=99)[0]
    with pytest.raises(FitFileError, match="fitted on other data"):
        load_fit(path, responses=other)
    tampered = nuts_2pl.copy()
    flipped = tampered.constant_data["response"].values.copy()
    flipped[0] = 1 - flipped[0]
    tampered.constant_data["response"] = ("obs", flipped)
    save_fit(tampered, tmp_path / "tampered.nc")
    with pytest.raises(FitFileError, match="altered"):
        load_fit(tmp_path / "tampered.nc")


def test_missing_cells_are_left_out_of_the_likelihood():
    wide = pd.DataFrame(
        [[1, 0, np.nan], [1, 1, 0], [0, np.nan, 0]],
        index=["m1", "m2", "m3"],
        columns=["q1", "q2", "q3"],
    )
    responses = bayesirt.Responses.from_wide(wide)
    model = TwoPL(responses).build_model()
    assert model["y"].shape.eval()[0] == 7


def test_the_jax_path_samples_the_same_posterior():
    """numpyro (the JAX path, the one a GPU runs) against the default nutpie: the same
    abilities to within Monte Carlo error, and the device recorded in the fit's settings."""
    pytest.importorskip("numpyro")
    responses, _ = bayesirt.simulate_responses(20, 60, model="2pl", seed=4)
    settings = {"draws": 300, "tune": 300, "chains": 2, "progressbar": False, "random_seed": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        on_jax = fit(responses, sampler="numpyro", **settings)
        default = fit(responses, **settings)
    assert fit_info(on_jax)["inference"]["device"] in ("cpu", "gpu", "tpu")
    a, b = (idata.posterior["theta"] for idata in (on_jax, default))
    difference = a.mean(("chain", "draw")) - b.mean(("chain", "draw"))
    standard_error = np.sqrt(
        a.var(("chain", "draw")) / az.ess(on_jax, var_names=["theta"])["theta"]
        + b.var(("chain", "draw")) / az.ess(default, var_names=["theta"])["theta"]
    )
    assert float(np.max(np.abs(difference / standard_error))) < 4.5, difference.values


def test_only_the_known_harmless_rewrite_failure_is_silenced():
    import logging

    from bayesirt.inference.fit import _SkippedFusionFilter

    def record(text: str) -> logging.LogRecord:
        return logging.LogRecord("pytensor", logging.ERROR, __file__, 0, text, None, None)

    harmless = [
        "SequentialGraphRewriter apply FusionOptimizer",
        "Traceback:",
        "AttributeError: 'DimShuffle' object has no attribute 'scalar_op'",
    ]
    other = "AttributeError: 'Elemwise' object has no attribute 'foo'"
    unrelated = ["SequentialGraphRewriter apply local_useless_x", "Traceback:", other]
    kept = _SkippedFusionFilter()
    passed = [r.getMessage() for r in map(record, harmless + unrelated) if kept.filter(r)]
    assert passed == unrelated
    # a fusion failure of another kind keeps its traceback
    kept = _SkippedFusionFilter()
    passed = [r.getMessage() for r in map(record, [*harmless[:2], other]) if kept.filter(r)]
    assert passed == [other]
    # PyTensor 2.38 logs the fusion's scalar-conversion failure as one record
    frames = (
        "Traceback (most recent call last):\n"
        '  File "pytensor/tensor/rewriting/elemwise.py", line 886, in apply\n'
        "    scalar_inputs, scalar_outputs = self.elemwise_to_scalar(inputs, outputs)\n"
        '  File "pytensor/tensor/rewriting/elemwise.py", line 538, in elemwise_to_scalar\n'
        "    scalar_inputs = [replacement[inp] for inp in node.inputs]\n"
    )
    one_record = frames + "KeyError: mu\n"
    elsewhere = frames.replace("elemwise_to_scalar", "local_other") + "KeyError: mu\n"
    different = frames + "ValueError: shapes differ\n"
    kept = _SkippedFusionFilter()
    texts = [one_record, elsewhere, different]
    assert [r.getMessage() for r in map(record, texts) if kept.filter(r)] == texts[1:]
