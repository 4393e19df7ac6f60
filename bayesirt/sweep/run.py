"""Running a sweep: the grid of points, their cache keys and files, the run, the results.

:func:`sweep` parses the spec (:mod:`bayesirt.sweep.spec`), loads each data source once,
labels every point of the grid and keys it by its configuration (:func:`_points`), reads what
the cache (:class:`_Cache`) already holds, runs the rest on an engine
(:mod:`bayesirt.sweep.engines`), writes each new fit and result whole, and gathers the per-fit
results into one dataset along ``fit``. :func:`sweep_scenarios` turns that dataset into the
scenarios of :func:`~bayesirt.analysis.scenarios.rank_stability`.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import itertools
import json
import os
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, TimeElapsedColumn

from bayesirt._version import __version__
from bayesirt.analysis.scenarios import SCENARIO_VARS, scenario_rankings
from bayesirt.data import Responses
from bayesirt.data.sources import load_source
from bayesirt.inference import ConvergenceWarning, fit_model, load_fit, save_fit
from bayesirt.inference.io import card_path
from bayesirt.models import get_model
from bayesirt.models.priors import merge_priors
from bayesirt.sweep.engines import ENGINES, _engine, _run_task, _Task
from bayesirt.sweep.spec import _ANALYSIS_RESERVED, _FIT_RESERVED, _Grid, _item_variant, _parse

__all__ = ["AXES", "DEFAULT_CACHE_DIR", "SweepError", "sweep", "sweep_scenarios"]

#: Where :func:`sweep` caches fits and results unless told otherwise (relative to the cwd).
DEFAULT_CACHE_DIR = Path(".bayesirt-cache") / "sweep"
#: Coordinates along ``fit`` naming the grid point.
AXES = ("data", "items", "model", "priors", "seed")
#: Dimensions of the per-fit results aligned across fits when they are gathered.
_ALIGNED_DIMS = ("subject", "rank", "scenario", "group", "use_case")
#: Bump when the layout of the cached files changes: it is part of every key.
_CACHE_LAYOUT = 1


class SweepError(RuntimeError):
    """Some grid points failed; the message names them. The others are cached."""


# ----------------------------------------------------------------------- points
@dataclass(frozen=True)
class _Point:
    label: str
    axes: tuple  # (data, items, model, priors, seed)
    task: _Task
    fit_key: str
    result_key: str


def _points(grid: _Grid, bases: dict[str, Responses]) -> list[_Point]:
    fingerprints = {}
    for data, items in itertools.product(grid.sources, grid.items):
        try:
            fingerprints[data, items] = _item_variant(bases[data], grid.items[items]).fingerprint()
        except ValueError as err:
            raise ValueError(f"sweep spec: item set {items!r} of data {data!r}: {err}") from err
    fit_defaults = _defaults(fit_model, _FIT_RESERVED) | {"pool_by": None}
    analysis_defaults = _defaults(scenario_rankings, _ANALYSIS_RESERVED)
    points = []
    for data, items, model, priors, seed in itertools.product(
        grid.sources, grid.items, grid.models, grid.priors, grid.seeds
    ):
        task = _Task(grid.items[items], model, grid.priors[priors], grid.fit, seed, grid.analysis)
        effective = merge_priors(get_model(model).default_priors, task.priors)
        fit_config = {
            "layout": _CACHE_LAYOUT,
            "bayesirt": __version__,
            "data": fingerprints[data, items],
            "model": model,
            "priors": {k: p.to_dict() for k, p in effective.items()},
            "fit": fit_defaults | task.fit,
            "seed": seed,
        }
        fit_key = _digest(fit_config)
        result_key = _digest({"fit": fit_key, "analysis": analysis_defaults | task.analysis})
        label = f"{data}/{items}/{model}/{priors}/seed{seed}"
        points.append(_Point(label, (data, items, model, priors, seed), task, fit_key, result_key))
    return points


def _defaults(function: Callable, reserved: tuple[str, ...]) -> dict:
    return {
        name: p.default
        for name, p in inspect.signature(function).parameters.items()
        if p.default is not inspect.Parameter.empty and name not in reserved
    }


def _digest(config: dict) -> str:
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------- cache
class _Cache:
    """Fits and results as files named by their keys, written whole or not at all."""

    def __init__(self, root: Path) -> None:
        self.fits, self.results = root / "fits", root / "results"

    def fit_path(self, key: str) -> Path:
        return self.fits / f"{key}.nc"

    def result_path(self, key: str) -> Path:
        return self.results / f"{key}.nc"

    def read_fit(self, key: str):
        path = self.fit_path(key)
        return load_fit(path) if path.is_file() else None

    def read_result(self, key: str) -> xr.Dataset | None:
        path = self.result_path(key)
        return xr.load_dataset(path, engine="h5netcdf") if path.is_file() else None

    def write_fit(self, key: str, idata) -> None:
        final = self.fit_path(key)
        with self._staging(final.parent) as folder:
            written = save_fit(idata, folder / final.name)
            os.replace(card_path(written), card_path(final))
            os.replace(written, final)

    def write_result(self, key: str, result: xr.Dataset) -> None:
        final = self.result_path(key)
        with self._staging(final.parent) as folder:
            result.to_netcdf(folder / final.name, engine="h5netcdf")
            os.replace(folder / final.name, final)

    @staticmethod
    @contextlib.contextmanager
    def _staging(parent: Path) -> Iterator[Path]:
        """A private folder beside the final file (same file system: renames are atomic)."""
        folder = parent / f".tmp-{uuid.uuid4().hex}"
        folder.mkdir(parents=True)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)


# -------------------------------------------------------------------------- sweep
def sweep(
    spec: str | os.PathLike | Mapping,
    *,
    engine: str = "local",
    address: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    n_workers: int | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Fit and analyse every point of a grid, resuming from the cache; gather the results.

    Parameters
    ----------
    spec : path to a TOML file, or dict
        The grid (see the module docstring, :mod:`bayesirt.sweep`).
    engine : {"local", "dask"}
        A local process pool, or Dask distributed.
    address : str, optional
        ``engine="dask"`` only: the scheduler of an existing cluster, e.g.
        ``"tcp://10.0.0.5:8786"``. Without it a ``LocalCluster`` is started on 127.0.0.1.
    cache_dir : path, optional
        Where fits and results are cached (default :data:`DEFAULT_CACHE_DIR`).
    n_workers : int, optional
        Worker processes of the pool or of the local cluster (default: the CPU count, at
        most the number of points to compute); not with ``address``.
    progress : bool
        Show a progress bar over the grid points (on stderr).

    Returns
    -------
    xarray.Dataset
        The per-fit results of :func:`~bayesirt.analysis.scenarios.scenario_rankings`
        stacked along a new first dimension ``fit`` (coordinates: the point labels, and
        ``data``, ``items``, ``model``, ``priors``, ``seed`` and the cache key ``fit_key``
        along ``fit``), e.g. ``p_rank`` (fit, scenario, subject, rank) and ``mean_rank``
        (fit, scenario, subject); plus ``converged`` and ``problems`` (fit) from the fit's
        diagnostics. Subjects are aligned by label (the first fit's posterior order, then
        any new ones); a subject or rank a fit does not have is NaN. ``attrs``: ``spec``
        (JSON), ``engine``, ``n_fits``, and what this run did: ``n_fitted`` (fits made),
        ``n_analysed`` (analyses run) and ``n_cached`` (results read from the cache).
        :func:`sweep_scenarios` turns it into the input of
        :func:`~bayesirt.analysis.scenarios.rank_stability`.

    Raises
    ------
    SweepError
        After every point has been tried, if some failed: names each with its error. The
        points that succeeded are cached, so a rerun (after a fix) computes only the others.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if address is not None and engine != "dask":
        raise ValueError("address is only for engine='dask'")
    if address is not None and n_workers is not None:
        raise ValueError("n_workers starts a local cluster; it cannot be given with address")
    if n_workers is not None and n_workers < 1:
        raise ValueError(f"n_workers must be at least 1, got {n_workers}")
    grid = _parse(spec)
    bases = {label: load_source(source) for label, source in grid.sources.items()}
    points = _points(grid, bases)
    cache = _Cache(Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR)

    results: dict[str, xr.Dataset] = {}
    pending: dict[str, list[_Point]] = {}  # result key -> the points that share it
    for point in points:
        cached = cache.read_result(point.result_key)
        if cached is not None:
            results[point.label] = cached
        else:
            pending.setdefault(point.result_key, []).append(point)
    counts = {"n_fitted": 0, "n_analysed": 0, "n_cached": len(results)}
    failures: dict[str, str] = {}
    with _progress(len(points), progress) as advance:
        advance(len(results))
        if pending:
            workers = n_workers or min(os.cpu_count() or 1, len(pending))
            with _engine(engine, address, workers) as runner:
                shared = {label: runner.share(base) for label, base in bases.items()}
                futures = {}
                for group in pending.values():
                    first = group[0]
                    idata = cache.read_fit(first.fit_key)
                    future = runner.submit(_run_task, first.task, shared[first.axes[0]], idata)
                    futures[future] = group
                for future in runner.completed(list(futures)):
                    group = futures[future]
                    try:
                        new_fit, result = future.result()
                    except Exception as err:  # a failed point is reported, the rest go on
                        for point in group:
                            failures[point.label] = f"{type(err).__name__}: {_first_line(err)}"
                        advance(len(group))
                        continue
                    if new_fit is not None:
                        cache.write_fit(group[0].fit_key, new_fit)
                        counts["n_fitted"] += 1
                    cache.write_result(group[0].result_key, result)
                    counts["n_analysed"] += 1
                    for point in group:
                        results[point.label] = result
                    advance(len(group))
    if failures:
        listed = "; ".join(f"{label}: {message}" for label, message in failures.items())
        raise SweepError(
            f"{len(failures)} of {len(points)} grid points failed ({listed}); the other "
            f"{len(points) - len(failures)} are cached in {str(cache.fits.parent)!r}, so a "
            "rerun computes only the failed ones"
        )
    gathered = _gather(points, results)
    gathered.attrs.update(
        spec=json.dumps(grid.spec, default=str), engine=engine, n_fits=len(points), **counts
    )
    _warn_unconverged(gathered)
    return gathered


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0].strip() if lines else ""


@contextlib.contextmanager
def _progress(total: int, show: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar over the grid points; yields ``advance(n)``."""
    if not show:
        yield lambda n: None
        return
    with Progress(
        *Progress.get_default_columns(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("sweep", total=total)
        yield lambda n: bar.advance(task, n)


def _gather(points: list[_Point], results: dict[str, xr.Dataset]) -> xr.Dataset:
    """One dataset along ``fit``: the per-fit results aligned on their labels."""
    ordered = [results[point.label] for point in points]
    union: dict[str, dict] = {}  # dim -> its labels in order of first appearance (dict keys)
    kinds: dict[str, str] = {}
    for result in ordered:
        for dim in _ALIGNED_DIMS:
            if dim in result.dims:
                union.setdefault(dim, {}).update(dict.fromkeys(result[dim].values.tolist()))
        kinds.update(
            zip(
                result["scenario"].values.tolist(),
                result["scenario_kind"].values.tolist(),
                strict=True,
            )
        )
    aligned = []
    for result in ordered:
        indexers = {dim: list(union[dim]) for dim in _ALIGNED_DIMS if dim in result.dims}
        if "opponent" in result.dims:
            indexers["opponent"] = indexers["subject"]
        aligned.append(result.drop_vars("scenario_kind").reindex(indexers))
    labels = xr.DataArray(np.array([point.label for point in points]), dims="fit", name="fit")
    gathered = xr.concat(aligned, dim=labels, combine_attrs="drop_conflicts")
    gathered.attrs.pop("random_seed", None)  # one per fit: the seed coordinate
    axes = list(zip(*(point.axes for point in points), strict=True))
    coords = {name: ("fit", list(values)) for name, values in zip(AXES, axes, strict=True)}
    coords["fit_key"] = ("fit", [point.fit_key for point in points])
    coords["scenario_kind"] = ("scenario", [kinds[s] for s in union["scenario"]])
    return gathered.assign_coords(coords)


def _warn_unconverged(gathered: xr.Dataset) -> None:
    bad = ~gathered["converged"].values.astype(bool)
    if bad.any():
        listed = "; ".join(
            f"{label}: {problems}"
            for label, problems in zip(
                gathered["fit"].values[bad], gathered["problems"].values[bad], strict=True
            )
        )
        warnings.warn(
            f"{bad.sum()} of {bad.size} fits of the sweep did not converge ({listed})",
            ConvergenceWarning,
            stacklevel=3,
        )


# ------------------------------------------------------------------------ analyses
def sweep_scenarios(
    result: xr.Dataset, *, scenario: str = "theta", reference: str | None = None
) -> xr.Dataset:
    """The fits of a sweep as the scenarios of :func:`~bayesirt.analysis.scenarios.rank_stability`.

    One scenario of each fit (by default the ranking by ability) becomes one scenario named
    by the fit's label, so :func:`~bayesirt.analysis.scenarios.rank_stability` and
    :func:`~bayesirt.analysis.scenarios.order_flips` say how much the ranking moves across
    models, priors, item sets and seeds: Kendall's τ between fits, rank shifts, and the
    pairs of subjects that some fit orders the other way round.

    Parameters
    ----------
    result : xarray.Dataset
        What :func:`sweep` returns.
    scenario : str
        The scenario of each fit to compare (``"theta"``, ``"uniform"``, ...).
    reference : str, optional
        The fit the others are compared with (default: the first).

    Returns
    -------
    xarray.Dataset
        The per-scenario variables of ``scenario_rankings`` (``mean_rank``, ``p_rank``,
        ``p_beats``, ``accuracy_rank``, ...) with dim ``scenario`` (the fit labels),
        ``scenario_kind`` ``"fit"`` and ``attrs["reference"]``.
    """
    names = [str(s) for s in result["scenario"].values]
    if scenario not in names:
        raise ValueError(f"scenario {scenario!r} is not in the sweep's results: {names}")
    fits = [str(f) for f in result["fit"].values]
    reference = fits[0] if reference is None else reference
    if reference not in fits:
        raise ValueError(f"reference {reference!r} is not a fit of the sweep: {fits}")
    chosen = result[list(SCENARIO_VARS)].sel(scenario=scenario, drop=True)
    chosen = chosen.drop_vars([c for c in chosen.coords if c not in chosen.dims])
    out = chosen.rename(fit="scenario").assign_coords(
        scenario_kind=("scenario", ["fit"] * len(fits))
    )
    out.attrs = {"reference": reference, "scenario": scenario}
    return out
