"""Running a sweep (:mod:`bayesirt.sweep.run`): cache keys, the gathered results against a
direct fit, the cache on reruns, a failed point and its resumption, and ``bayesirt sweep``
reading the cache.

The sweep of two real ADVI fits (``local_run`` of ``conftest.py``) is shared with the engine
tests; the failure test interrupts a sweep with a point that cannot be fitted and resumes it.
The command-line test stays here rather than in ``tests/cli``: it reads that sweep's cache.
"""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pytest
import xarray as xr
from scipy.stats import kendalltau, spearmanr

import bayesirt
from bayesirt.analysis.scenarios import rank_stability, scenario_rankings
from bayesirt.cli import main
from bayesirt.data.sources import load_source
from bayesirt.inference import ConvergenceWarning, fit_info
from bayesirt.models import get_model
from bayesirt.sweep import SweepError, sweep, sweep_scenarios
from bayesirt.sweep.run import _points, _warn_unconverged
from bayesirt.sweep.spec import _parse

from .conftest import ANALYSIS, FIT, LABELS, SIM, SPEC, SPEC_TOML, fit_files

# Whether 1,500 ADVI steps meet the convergence rule is not what these tests check; the sweep
# reports it (checked against the direct fit below).
pytestmark = pytest.mark.filterwarnings("ignore::bayesirt.inference.ConvergenceWarning")


def test_cache_keys_follow_the_configuration_not_the_labels():
    def keys(spec):
        grid = _parse(spec)
        bases = {label: load_source(source) for label, source in grid.sources.items()}
        return [(p.fit_key, p.result_key) for p in _points(grid, bases)]

    base = keys(SPEC)
    # a default written out, a renamed prior set that overrides nothing, a renamed source
    assert keys({**SPEC, "fit": {**FIT, "target_accept": 0.8}}) == base
    assert keys({**SPEC, "priors": {"plain": {}}}) == base
    assert keys({**SPEC, "data": {"other": {"simulate": SIM}}}) == base
    # a prior that equals the default is the same configuration, another one is not
    shared = sorted(set.intersection(*(set(get_model(m).default_priors) for m in SPEC["models"])))
    default = get_model("2pl").default_priors[shared[0]].to_dict()
    assert keys({**SPEC, "priors": {"same": {shared[0]: default}}}) == base
    other_prior = {shared[0]: {**default, "distribution": "Cauchy"}}
    other_keys = keys({**SPEC, "priors": {"other": other_prior}})
    assert {f for f, _ in other_keys}.isdisjoint(f for f, _ in base)
    # other data, other fit settings, other seed: other fits
    changed = [
        {**SPEC, "data": {"sim": {"simulate": {**SIM, "seed": 4}}}},
        {**SPEC, "fit": {**FIT, "draws": 51}},
        {**SPEC, "seeds": [1]},
    ]
    for spec in changed:
        assert {f for f, _ in keys(spec)}.isdisjoint(f for f, _ in base)
    # other analyses of the same fits
    other = keys({**SPEC, "analysis": {**ANALYSIS, "n_boot": 21}})
    assert [f for f, _ in other] == [f for f, _ in base]
    assert {r for _, r in other}.isdisjoint(r for _, r in base)


def test_gathered_results_are_labelled_and_match_a_direct_fit(local_run):
    result, _ = local_run
    assert list(result["fit"].values) == LABELS
    assert list(result["model"].values) == ["1pl", "2pl"]
    assert list(result["items"].values) == ["all", "all"]
    assert list(result["seed"].values) == [0, 0]
    assert list(result["scenario"].values) == ["theta", "uniform", "balanced", "dirichlet"]
    assert result["p_rank"].dims == ("fit", "scenario", "subject", "rank")
    assert result["mean_rank"].dims == ("fit", "scenario", "subject")
    assert (result.attrs["n_fitted"], result.attrs["n_cached"]) == (2, 0)

    responses, truth = bayesirt.simulate_responses(**SIM)
    assert set(result["subject"].values) == set(responses.subjects)
    direct_fit = bayesirt.fit(responses, model="2pl", random_seed=0, progressbar=False, **FIT)
    direct = scenario_rankings(direct_fit, random_seed=0, **ANALYSIS)
    diagnostics = fit_info(direct_fit)["diagnostics"]
    assert bool(result["converged"].values[1]) == diagnostics["converged"]
    assert str(result["problems"].values[1]) == "; ".join(diagnostics["problems"])
    swept = result.sel(fit=LABELS[1]).sel(
        subject=direct["subject"].values, opponent=direct["subject"].values
    )
    for var in ("mean_rank", "p_rank", "p_beats", "accuracy_rank", "use_case_rank"):
        np.testing.assert_array_equal(swept[var].values, direct[var].values, err_msg=var)
    # and the ranking recovers the simulated abilities
    true_theta = truth["theta"].to_series().reindex(direct["subject"].values)
    rho = spearmanr(-swept["mean_rank"].sel(scenario="theta"), true_theta).statistic
    assert rho >= 0.8


def test_sweep_scenarios_feed_rank_stability(local_run):
    result, _ = local_run
    stability = rank_stability(sweep_scenarios(result))
    ranks = result["mean_rank"].sel(scenario="theta").values
    assert stability.attrs["reference"] == LABELS[0]
    assert list(stability["scenario"].values) == LABELS
    tau = kendalltau(ranks[0], ranks[1]).statistic
    np.testing.assert_allclose(stability["kendall_tau"].values[0, 1], tau)
    np.testing.assert_array_equal(stability["rank_shift"].values[1], ranks[1] - ranks[0])
    with pytest.raises(ValueError, match="scenario 'nope'"):
        sweep_scenarios(result, scenario="nope")


def test_unconverged_fits_are_reported_by_label(local_run):
    result, _ = local_run
    marked = result.copy()
    marked["converged"] = ("fit", np.array([True, False]))
    marked["problems"] = ("fit", np.array(["", "max R-hat 1.2 (theta[m3]) > 1.01"]))
    with pytest.warns(ConvergenceWarning) as caught:
        _warn_unconverged(marked)
    (message,) = [str(w.message) for w in caught]
    assert f"1 of 2 fits of the sweep did not converge ({LABELS[1]}: max R-hat 1.2" in message


def test_rerun_reads_everything_from_the_cache_and_starts_no_worker(local_run, monkeypatch):
    result, cache = local_run
    before = fit_files(cache)

    def no_engine(*args, **kwargs):
        raise AssertionError("a finished sweep must not start workers")

    monkeypatch.setattr(sys.modules["bayesirt.sweep.run"], "_engine", no_engine)
    again = sweep(SPEC, cache_dir=cache, progress=False)
    xr.testing.assert_identical(again.drop_attrs(), result.drop_attrs())
    assert (again.attrs["n_fitted"], again.attrs["n_analysed"], again.attrs["n_cached"]) == (
        0,
        0,
        2,
    )
    assert fit_files(cache) == before


def test_new_analyses_reuse_the_cached_fits(local_run, tmp_path):
    _, cache = local_run
    copy = shutil.copytree(cache, tmp_path / "cache")
    before = fit_files(copy)
    other = sweep({**SPEC, "analysis": {**ANALYSIS, "n_boot": 21}}, cache_dir=copy, progress=False)
    assert (other.attrs["n_fitted"], other.attrs["n_analysed"]) == (0, 2)
    assert fit_files(copy) == before


def test_failed_point_is_reported_and_the_rerun_fits_only_it(local_run, tmp_path):
    result, _ = local_run
    # PyMC's HalfNormal has no 'scale': the model cannot be built in the worker
    broken = {"sigma_log_a": {"distribution": "HalfNormal", "scale": 1.0}}
    spec = {**SPEC, "models": ["2pl"], "priors": {"default": {}, "bad": broken}}
    with pytest.raises(SweepError) as err:
        sweep(spec, cache_dir=tmp_path, n_workers=2, progress=False)
    assert "1 of 2 grid points failed" in str(err.value)
    assert "sim/all/2pl/bad/seed0: TypeError" in str(err.value)
    finished = fit_files(tmp_path)
    assert len(finished) == 1

    fixed = {"sigma_log_a": {"distribution": "HalfNormal", "sigma": 1.0}}
    resumed = sweep(
        {**spec, "priors": {"default": {}, "fixed": fixed}}, cache_dir=tmp_path, progress=False
    )
    assert (resumed.attrs["n_fitted"], resumed.attrs["n_cached"]) == (1, 1)
    assert {k: v for k, v in fit_files(tmp_path).items() if k in finished} == finished
    # the point finished before the failure is the one the first sweep made
    order = result["subject"].values
    xr.testing.assert_identical(
        resumed.sel(fit=LABELS[1]).reindex(subject=order, opponent=order).drop_attrs(),
        result.sel(fit=LABELS[1]).drop_attrs(),
    )


def test_command_line_reads_the_cache_and_writes_the_results(local_run, tmp_path, capsys):
    result, cache = local_run
    spec = tmp_path / "sweep.toml"
    spec.write_text(SPEC_TOML)
    out = tmp_path / "results.nc"
    args = ["sweep", spec, "--cache-dir", cache, "--out", out, "--no-progress"]
    status = main([str(a) for a in args])
    printed = capsys.readouterr().out
    assert status == 0
    assert "2 fits on the local engine: 0 fitted, 0 analysed, 2 read" in printed
    assert all(label in printed for label in LABELS)
    written = xr.load_dataset(out, engine="h5netcdf")
    xr.testing.assert_equal(written.drop_attrs(), result.drop_attrs())

    assert main(["sweep", str(spec), "--out", str(tmp_path / "x.csv")]) == 2
    assert "--out must end in .nc" in capsys.readouterr().err
    assert main(["sweep", os.fspath(tmp_path / "missing.toml")]) == 1
    assert "no sweep spec file" in capsys.readouterr().err
