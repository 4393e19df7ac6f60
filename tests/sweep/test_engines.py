"""The engines of a sweep (:mod:`bayesirt.sweep.engines`): the Dask engine on a loopback cluster
gives the dataset of the local pool (``local_run`` of ``conftest.py``), identically."""

from __future__ import annotations

import pytest
import xarray as xr

from bayesirt.sweep import sweep

from .conftest import SPEC

# Whether 1,500 ADVI steps meet the convergence rule is not what this test checks.
pytestmark = pytest.mark.filterwarnings("ignore::bayesirt.inference.ConvergenceWarning")


def test_dask_local_cluster_gives_identical_results(local_run, tmp_path):
    pytest.importorskip("distributed")
    result, _ = local_run
    on_dask = sweep(SPEC, engine="dask", cache_dir=tmp_path, n_workers=2, progress=False)
    assert on_dask.attrs["engine"] == "dask" and on_dask.attrs["n_fitted"] == 2
    xr.testing.assert_identical(on_dask.drop_attrs(), result.drop_attrs())
