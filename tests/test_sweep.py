"""Sweeps (:mod:`bayesirt.sweep`): spec checks, item bootstrap, cache keys, both engines.

Fits are ADVI on a simulated 20 × 100 table (1,500 steps, 50 draws): one sweep of two fits on
the local pool is shared by the module; the Dask test reruns it on a loopback cluster and must
give the identical dataset, the failure test interrupts a sweep with a point that cannot be
fitted and resumes it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.stats import kendalltau, spearmanr

import bayesirt
from bayesirt.analysis.scenarios import rank_stability, scenario_rankings
from bayesirt.cli import main
from bayesirt.data import Responses
from bayesirt.data.sources import load_source
from bayesirt.inference import ConvergenceWarning, fit_info
from bayesirt.models import get_model
from bayesirt.sweep import SweepError, load_spec, sweep, sweep_scenarios
from bayesirt.sweep.run import _points, _warn_unconverged
from bayesirt.sweep.spec import _bootstrap_items, _parse

SIM = {"n_subjects": 20, "n_items": 100, "seed": 3, "n_categories": 3}
FIT = {"method": "advi", "advi_iterations": 1500, "draws": 50, "chains": 1}
ANALYSIS = {"groups": "category", "n_use_cases": 10, "n_boot": 20}
SPEC = {
    "data": {"sim": {"simulate": SIM}},
    "models": ["1pl", "2pl"],
    "fit": FIT,
    "analysis": ANALYSIS,
}
#: The same spec as TOML (read by the command line).
SPEC_TOML = """
models = ["1pl", "2pl"]
[data]
sim = { simulate = { n_subjects = 20, n_items = 100, seed = 3, n_categories = 3 } }
[fit]
method = "advi"
advi_iterations = 1500
draws = 50
chains = 1
[analysis]
groups = "category"
n_use_cases = 10
n_boot = 20
"""
LABELS = ["sim/all/1pl/default/seed0", "sim/all/2pl/default/seed0"]

# Whether 1,500 ADVI steps meet the convergence rule is not what these tests check; the sweep
# reports it (checked against the direct fit below).
pytestmark = pytest.mark.filterwarnings("ignore::bayesirt.inference.ConvergenceWarning")


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> tuple[xr.Dataset, Path]:
    """The two-fit sweep on the local pool, and its cache."""
    cache = tmp_path_factory.mktemp("sweep-cache")
    return sweep(SPEC, cache_dir=cache, n_workers=2, progress=False), cache


def _fit_files(cache: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (cache / "fits").glob("*.nc")}


# ------------------------------------------------------------------- unit tests
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


# -------------------------------------------------------------- sweeps with fits
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
    before = _fit_files(cache)

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
    assert _fit_files(cache) == before


def test_new_analyses_reuse_the_cached_fits(local_run, tmp_path):
    _, cache = local_run
    copy = shutil.copytree(cache, tmp_path / "cache")
    before = _fit_files(copy)
    other = sweep({**SPEC, "analysis": {**ANALYSIS, "n_boot": 21}}, cache_dir=copy, progress=False)
    assert (other.attrs["n_fitted"], other.attrs["n_analysed"]) == (0, 2)
    assert _fit_files(copy) == before


def test_dask_local_cluster_gives_identical_results(local_run, tmp_path):
    pytest.importorskip("distributed")
    result, _ = local_run
    on_dask = sweep(SPEC, engine="dask", cache_dir=tmp_path, n_workers=2, progress=False)
    assert on_dask.attrs["engine"] == "dask" and on_dask.attrs["n_fitted"] == 2
    xr.testing.assert_identical(on_dask.drop_attrs(), result.drop_attrs())


def test_failed_point_is_reported_and_the_rerun_fits_only_it(local_run, tmp_path):
    result, _ = local_run
    # PyMC's HalfNormal has no 'scale': the model cannot be built in the worker
    broken = {"sigma_log_a": {"distribution": "HalfNormal", "scale": 1.0}}
    spec = {**SPEC, "models": ["2pl"], "priors": {"default": {}, "bad": broken}}
    with pytest.raises(SweepError) as err:
        sweep(spec, cache_dir=tmp_path, n_workers=2, progress=False)
    assert "1 of 2 grid points failed" in str(err.value)
    assert "sim/all/2pl/bad/seed0: TypeError" in str(err.value)
    finished = _fit_files(tmp_path)
    assert len(finished) == 1

    fixed = {"sigma_log_a": {"distribution": "HalfNormal", "sigma": 1.0}}
    resumed = sweep(
        {**spec, "priors": {"default": {}, "fixed": fixed}}, cache_dir=tmp_path, progress=False
    )
    assert (resumed.attrs["n_fitted"], resumed.attrs["n_cached"]) == (1, 1)
    assert {k: v for k, v in _fit_files(tmp_path).items() if k in finished} == finished
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
