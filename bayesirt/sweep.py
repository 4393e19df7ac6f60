r"""Sweeps: a declared grid of fits and analyses, cached on disk, on a process pool or Dask.

A sensitivity study of a ranking is many fits of the same subjects: other model families,
other priors, other item sets (subsets, a bootstrap over items), other seeds. :func:`sweep`
takes the grid as data (a TOML file or a dict), fits every point, runs the ranking analyses on
each fit and gathers them into one labelled :class:`xarray.Dataset`.

Spec
----
Every key is optional but ``data``::

    models = ["2pl", "3pl"]        # registered model names (default ["2pl"])
    seeds = [0, 1]                 # seed of each fit and of its analyses (default [0])

    [data]                         # labelled sources; or data = "example" / a list of them
    example = "example"            # the example leaderboard shipped with bayesirt
    chem = "dataset:chembench"     # a public dataset (bayesirt.datasets)
    mine = { path = "results.csv", format = "long", subject = "model" }  # load_responses
    sim = { simulate = { n_subjects = 30, n_items = 200, seed = 1 } }   # simulate_responses

    [items]                        # the item sets every source is fitted on
    full = true                    # all items, labelled "all" (default true)
    bootstrap = 10                 # replicates "boot1" ... "boot10" (default 0)
    bootstrap_seed = 0
    subsets = { code = { column = "category", values = ["code"] }, two = ["q1", "q2"] }

    [priors]                       # labelled prior overrides (default { default = {} })
    default = {}
    tight = { sigma_log_a = { distribution = "HalfNormal", sigma = 0.25 } }

    [fit]                          # keyword arguments of bayesirt.fit: method, draws, pool_by...
    method = "advi"

    [analysis]                     # keyword arguments of scenario_rankings
    groups = "category"
    group_weights = { code_heavy = { code = 0.5 } }

A relative ``path`` is read from the spec file's folder. The grid is the product
data × items × models × priors × seeds, in that order; each point is labelled
``"{data}/{items}/{model}/{priors}/seed{seed}"``.

**Item bootstrap.** Replicate :math:`r` draws :math:`n` items uniformly with replacement from
the :math:`n` items of the source, with the generator ``numpy.random.default_rng(
[bootstrap_seed, r])``: the same replicate for every model, prior and seed, so that the fits
of one replicate are paired. The :math:`k`-th copy (:math:`k \ge 2`) of item ``q`` is the item
``q#k``, with the answers and metadata of ``q`` and its own parameters. The spread of a
ranking over the replicates is the part of its uncertainty that comes from which questions
the benchmark happened to contain, which one fit cannot show.

**Analyses.** Each fit goes through :func:`~bayesirt.analysis.robustness.scenario_rankings`
with the grid point's seed: the rank posterior by ability (:func:`~bayesirt.analysis.rank`,
scenario ``theta``), by expected score on all items (``uniform``) and, with ``groups``, under
the group weights of ``balanced``, of every ``group_weights`` entry and of random Dirichlet use
cases.

Cache
-----
A completed fit is written to ``cache_dir/fits/KEY.nc`` (with its card), its analyses to
``cache_dir/results/KEY2.nc``. ``KEY`` is the sha256 of the fit's configuration (model, every
prior after the overrides, the inference settings with their defaults filled in, the seed,
the package version) and of the fingerprint (:meth:`~bayesirt.data.Responses.fingerprint`) of
the responses actually fitted (after the item subset or bootstrap); ``KEY2`` adds the analysis
settings. Labels are not part of a key: a point that is renamed, or appears in two sweeps, is
found again. Files are written under a temporary name and renamed into place, so a sweep that
is interrupted leaves only whole files, and the next run computes only what is missing. A
rerun of a finished sweep starts no worker at all.

Engines
-------
``"local"`` (default) runs the points on a :class:`concurrent.futures.ProcessPoolExecutor`
(spawned processes). ``"dask"`` runs them on Dask distributed (``pip install
'bayesirt[dask]'``): on the scheduler at ``address`` (the cluster's workers need bayesirt
installed; the data are loaded here and sent to them), or on a
``LocalCluster`` of worker processes on the loopback interface. The driver writes every cache
file itself, so workers need no shared file system. Every point has its own fixed seed and
the same code runs it, so both engines give identical results.

Why Dask rather than Ray: Dask distributed installs from PyPI as pure-Python wheels (about
28 MB with its new dependencies, two small compiled ones), starts a ``LocalCluster`` on the
loopback interface in seconds for tests and laptops, and its futures mirror
:mod:`concurrent.futures`, so both engines share one code path; existing clusters (SLURM /
PBS through dask-jobqueue, Kubernetes) are reached with ``Client(address)``. The measurements
behind this are in ``benchmarks/README.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import itertools
import json
import logging
import multiprocessing
import os
import shutil
import tomllib
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as futures_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayesirt.analysis.robustness import _SCENARIO_VARS, scenario_rankings
from bayesirt.data import Responses, datasets, load_example, load_responses, simulate_responses
from bayesirt.inference import (
    METHODS,
    ConvergenceWarning,
    fit,
    fit_info,
    fit_model,
    load_fit,
    save_fit,
)
from bayesirt.inference.io import card_path
from bayesirt.models import MODELS, get_model
from bayesirt.models.priors import merge_priors

__all__ = [
    "DEFAULT_CACHE_DIR",
    "ENGINES",
    "SweepError",
    "load_spec",
    "sweep",
    "sweep_scenarios",
]

ENGINES = ("local", "dask")
#: Where :func:`sweep` caches fits and results unless told otherwise (relative to the cwd).
DEFAULT_CACHE_DIR = Path(".bayesirt-cache") / "sweep"
#: Data source naming the example leaderboard, and the prefix naming a public dataset.
EXAMPLE = "example"
DATASET_PREFIX = "dataset:"
#: Top-level keys of a spec.
SPEC_KEYS = ("data", "models", "seeds", "items", "priors", "fit", "analysis")
#: Keys of the ``items`` table.
ITEMS_KEYS = ("full", "bootstrap", "bootstrap_seed", "subsets")
#: Per-point settings that the grid sets itself, never the ``fit`` / ``analysis`` tables.
_FIT_RESERVED = ("irt_model", "random_seed", "progressbar")
_ANALYSIS_RESERVED = ("idata", "random_seed", "other_fits")
#: Coordinates along ``fit`` naming the grid point.
AXES = ("data", "items", "model", "priors", "seed")
#: Dimensions of the per-fit results aligned across fits when they are gathered.
_ALIGNED_DIMS = ("subject", "rank", "scenario", "group", "use_case")
#: Bump when the layout of the cached files changes: it is part of every key.
_CACHE_LAYOUT = 1


class SweepError(RuntimeError):
    """Some grid points failed; the message names them. The others are cached."""


# ---------------------------------------------------------------------------- spec
@dataclass(frozen=True)
class _Source:
    """A data source: ``kind`` is "example", "dataset", "path" or "simulate"."""

    kind: str
    value: Any = None
    options: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class _Grid:
    sources: dict[str, _Source]
    items: dict[str, tuple]  # label -> ("full",) | ("labels", [...]) | ("column", col, [...])
    #                          | ("bootstrap", seed, r)
    models: list[str]
    priors: dict[str, dict]
    seeds: list[int]
    fit: dict[str, Any]
    analysis: dict[str, Any]
    spec: dict  # the normalised spec, stored with the results


def load_spec(spec: str | os.PathLike | Mapping) -> dict:
    """The spec of a sweep as a dict: read from a TOML file, or checked and copied from a dict.

    Returns the normalised spec (every default filled in, paths made absolute), which is what
    :func:`sweep` stores in ``attrs["spec"]`` of its result. Raises :class:`ValueError` naming
    the first bad key or value.
    """
    return _parse(spec).spec


def _parse(spec: str | os.PathLike | Mapping) -> _Grid:
    if isinstance(spec, Mapping):
        raw, base = dict(spec), Path.cwd()
    else:
        path = Path(spec)
        if not path.is_file():
            raise ValueError(f"no sweep spec file at {str(path)!r}")
        with path.open("rb") as handle:
            try:
                raw = tomllib.load(handle)
            except tomllib.TOMLDecodeError as err:
                raise ValueError(f"{str(path)!r} is not valid TOML: {err}") from err
        base = path.resolve().parent
    unknown = sorted(set(raw) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f"sweep spec: unknown key(s) {unknown}; keys are {list(SPEC_KEYS)}")
    if "data" not in raw:
        raise ValueError("sweep spec: 'data' is missing (a source or a table of sources)")
    sources = _parse_sources(raw["data"], base)
    models = _string_list(raw.get("models", ["2pl"]), "models")
    for name in models:
        if name not in MODELS:
            raise ValueError(f"sweep spec: unknown model {name!r}; models are {list(MODELS)}")
    seeds = raw.get("seeds", [0])
    seeds = [seeds] if isinstance(seeds, int) and not isinstance(seeds, bool) else seeds
    if (
        not isinstance(seeds, list)
        or not seeds
        or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds)
    ):
        raise ValueError(f"sweep spec: seeds must be non-negative integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"sweep spec: repeated seeds in {seeds}")
    priors = _table(raw.get("priors", {"default": {}}), "priors")
    if not priors:
        raise ValueError("sweep spec: 'priors' is empty; give at least default = {}")
    for label, overrides in priors.items():
        _check_label(label, "priors")
        for name in models:
            try:
                merge_priors(get_model(name).default_priors, _table(overrides, f"priors.{label}"))
            except (TypeError, ValueError) as err:
                raise ValueError(f"sweep spec: priors {label!r} for model {name!r}: {err}") from err
    items = _parse_items(_table(raw.get("items", {}), "items"))
    fit_settings = _checked_settings(
        _table(raw.get("fit", {}), "fit"), fit_model, _FIT_RESERVED, "fit", extra=("pool_by",)
    )
    if "method" in fit_settings and fit_settings["method"] not in METHODS:
        raise ValueError(
            f"sweep spec: unknown fit.method {fit_settings['method']!r}; methods are "
            f"{list(METHODS)}"
        )
    analysis = _checked_settings(
        _table(raw.get("analysis", {}), "analysis"),
        scenario_rankings,
        _ANALYSIS_RESERVED,
        "analysis",
    )
    normalised = {
        "data": {label: _source_spec(source) for label, source in sources.items()},
        "models": models,
        "seeds": seeds,
        "items": {label: list(variant) for label, variant in items.items()},
        "priors": priors,
        "fit": fit_settings,
        "analysis": analysis,
    }
    return _Grid(sources, items, models, priors, seeds, fit_settings, analysis, normalised)


def _parse_sources(data: Any, base: Path) -> dict[str, _Source]:
    if isinstance(data, str):
        data = [data]
    if isinstance(data, list):
        entries = {}
        for text in data:
            if not isinstance(text, str):
                raise ValueError(f"sweep spec: a data source must be a string, got {text!r}")
            label = (
                text.removeprefix(DATASET_PREFIX)
                if text == EXAMPLE or text.startswith(DATASET_PREFIX)
                else Path(text).stem
            )
            entries[label] = text
        data = entries
    sources = {}
    for label, entry in _table(data, "data").items():
        _check_label(label, "data")
        if isinstance(entry, str):
            if entry == EXAMPLE:
                sources[label] = _Source("example")
            elif entry.startswith(DATASET_PREFIX):
                name = entry.removeprefix(DATASET_PREFIX)
                if name not in datasets.DATASETS:
                    raise ValueError(
                        f"sweep spec: data {label!r}: unknown dataset {name!r}; datasets are "
                        f"{list(datasets.DATASETS)}"
                    )
                sources[label] = _Source("dataset", name)
            else:
                sources[label] = _Source("path", str((base / entry).resolve()), {})
        elif isinstance(entry, Mapping) and "simulate" in entry:
            if set(entry) != {"simulate"}:
                raise ValueError(f"sweep spec: data {label!r}: 'simulate' takes no other keys")
            settings = _table(entry["simulate"], f"data.{label}.simulate")
            _check_keywords(settings, simulate_responses, (), f"data.{label}.simulate")
            for required in ("n_subjects", "n_items", "seed"):
                if required not in settings:
                    raise ValueError(f"sweep spec: data {label!r}: simulate needs {required!r}")
            sources[label] = _Source("simulate", None, settings)
        elif isinstance(entry, Mapping) and "path" in entry:
            options = {k: v for k, v in entry.items() if k != "path"}
            _check_keywords(options, load_responses, ("path",), f"data.{label}")
            sources[label] = _Source("path", str((base / entry["path"]).resolve()), options)
        else:
            raise ValueError(
                f"sweep spec: data {label!r} must be '{EXAMPLE}', '{DATASET_PREFIX}NAME', a path, "
                f"a table with 'path' (and load_responses options) or with 'simulate', got "
                f"{entry!r}"
            )
    if not sources:
        raise ValueError("sweep spec: 'data' names no source")
    return sources


def _source_spec(source: _Source) -> Any:
    match source.kind:
        case "example":
            return EXAMPLE
        case "dataset":
            return DATASET_PREFIX + source.value
        case "simulate":
            return {"simulate": dict(source.options)}
        case _:
            return {"path": source.value, **source.options}


def _parse_items(table: dict) -> dict[str, tuple]:
    unknown = sorted(set(table) - set(ITEMS_KEYS))
    if unknown:
        raise ValueError(f"sweep spec: unknown items key(s) {unknown}; keys are {list(ITEMS_KEYS)}")
    full = table.get("full", True)
    n_boot = table.get("bootstrap", 0)
    boot_seed = table.get("bootstrap_seed", 0)
    if not isinstance(full, bool):
        raise ValueError(f"sweep spec: items.full must be true or false, got {full!r}")
    for name, value in (("bootstrap", n_boot), ("bootstrap_seed", boot_seed)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(
                f"sweep spec: items.{name} must be a non-negative integer, got {value!r}"
            )
    variants: dict[str, tuple] = {"all": ("full",)} if full else {}
    for r in range(1, n_boot + 1):
        variants[f"boot{r}"] = ("bootstrap", boot_seed, r)
    for label, subset in _table(table.get("subsets", {}), "items.subsets").items():
        _check_label(label, "items.subsets")
        if label in variants:
            raise ValueError(f"sweep spec: item subset {label!r} clashes with a built-in label")
        if isinstance(subset, list) and subset and all(isinstance(x, str) for x in subset):
            variants[label] = ("labels", list(subset))
        elif isinstance(subset, Mapping) and set(subset) == {"column", "values"}:
            values = subset["values"]
            values = values if isinstance(values, list) else [values]
            variants[label] = ("column", str(subset["column"]), [str(v) for v in values])
        else:
            raise ValueError(
                f"sweep spec: item subset {label!r} must be a list of item labels or "
                f"{{column = ..., values = [...]}}, got {subset!r}"
            )
    if not variants:
        raise ValueError("sweep spec: no item set (items.full is false, no bootstrap, no subsets)")
    return variants


def _checked_settings(
    table: dict, function: Callable, reserved: tuple[str, ...], where: str, extra=()
) -> dict:
    for key in reserved:
        if key in table:
            raise ValueError(f"sweep spec: {where}.{key} is set by the sweep itself")
    _check_keywords(table, function, reserved, where, extra=extra)
    return dict(table)


def _check_keywords(
    table: Mapping, function: Callable, reserved: tuple[str, ...], where: str, extra=()
) -> None:
    allowed = [
        name
        for name, p in inspect.signature(function).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name not in reserved
    ] + list(extra)
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ValueError(f"sweep spec: unknown {where} setting(s) {unknown}; allowed: {allowed}")


def _table(value: Any, where: str) -> dict:
    if not isinstance(value, Mapping):
        raise ValueError(f"sweep spec: {where} must be a table, got {value!r}")
    return {str(k): v for k, v in value.items()}


def _string_list(value: Any, where: str) -> list[str]:
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"sweep spec: {where} must be a non-empty list of names, got {value!r}")
    if len(set(value)) != len(value):
        raise ValueError(f"sweep spec: repeated names in {where}: {value}")
    return [v.lower() for v in value]


def _check_label(label: str, where: str) -> None:
    if not label or "/" in label:
        raise ValueError(f"sweep spec: {where} label {label!r} must be non-empty, without '/'")


# ---------------------------------------------------------------------- data
def _load_source(source: _Source) -> Responses:
    match source.kind:
        case "example":
            return load_example()
        case "dataset":
            return datasets.load(source.value)
        case "simulate":
            return simulate_responses(**source.options)[0]
        case _:
            return load_responses(source.value, **source.options)


def _item_variant(base: Responses, variant: tuple) -> Responses:
    """The responses on one item set of the grid (see the module docstring)."""
    match variant[0]:
        case "full":
            return base
        case "labels":
            return base.subset(items=variant[1])
        case "column":
            _, column, values = variant
            if column not in base.item_meta.columns:
                raise ValueError(
                    f"item subset by {column!r}: the data have no such item metadata column; "
                    f"columns: {list(base.item_meta.columns)}"
                )
            keep = base.item_meta[column].astype(str).isin(values)
            if not keep.any():
                raise ValueError(f"item subset {column} in {values}: no item matches")
            return base.subset(items=base.items[keep.to_numpy()])
        case "bootstrap":
            _, seed, replicate = variant
            return _bootstrap_items(base, np.random.default_rng([seed, replicate]))
    raise ValueError(f"unknown item set {variant!r}")


def _bootstrap_items(base: Responses, rng: np.random.Generator) -> Responses:
    """``n_items`` items drawn with replacement; the k-th copy of ``q`` becomes ``q#k``."""
    n_items = base.n_items
    picks = np.sort(rng.integers(0, n_items, size=n_items))
    copy = np.arange(n_items) - np.searchsorted(picks, picks)  # 0 for the first copy
    labels = [
        str(label) if k == 0 else f"{label}#{k + 1}"
        for label, k in zip(base.items[picks], copy, strict=True)
    ]
    by_item = np.argsort(base.item_index, kind="stable")
    counts = np.bincount(base.item_index, minlength=n_items)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n_rows = counts[picks]
    new_item = np.repeat(np.arange(n_items), n_rows)
    offsets = np.arange(n_rows.sum()) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
    rows = by_item[np.repeat(starts[picks], n_rows) + offsets]
    item_meta = base.item_meta.iloc[picks].set_axis(pd.Index(labels, name="item"))
    return Responses(
        subject_index=base.subject_index[rows],
        item_index=new_item,
        response=base.response[rows],
        subjects=base.subjects,
        items=pd.Index(labels),
        item_meta=item_meta,
        subject_meta=base.subject_meta,
    )


# ----------------------------------------------------------------------- points
@dataclass(frozen=True)
class _Task:
    """What a worker needs besides the source's responses (plain data, cheap to send)."""

    items: tuple
    model: str
    priors: dict
    fit: dict
    seed: int
    analysis: dict


@dataclass(frozen=True)
class _Point:
    label: str
    axes: tuple  # (data, items, model, priors, seed)
    task: _Task
    fit_key: str
    result_key: str


def _points(grid: _Grid, bases: dict[str, Responses]) -> list[_Point]:
    from bayesirt import __version__

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


# ------------------------------------------------------------------------ worker
def _run_task(task: _Task, base: Responses, idata=None):
    """Fit one grid point (unless its fit is given) and analyse it; runs in a worker.

    Returns ``(new_fit, result)``: the fit when it was made here (else ``None``), and the
    analyses (:func:`scenario_rankings` with ``converged`` and ``problems`` of the fit).
    """
    new_fit = None
    with _quiet_worker():
        if idata is None:
            responses = _item_variant(base, task.items)
            idata = new_fit = fit(
                responses,
                model=task.model,
                priors=task.priors,
                random_seed=task.seed,
                progressbar=False,
                **task.fit,
            )
        result = scenario_rankings(idata, random_seed=task.seed, **task.analysis)
    diagnostics = fit_info(idata)["diagnostics"]
    result["converged"] = bool(diagnostics.get("converged", False))
    result["problems"] = "; ".join(diagnostics.get("problems", []))
    return new_fit, result


@contextlib.contextmanager
def _quiet_worker() -> Iterator[None]:
    """No per-fit chatter from the workers: convergence problems travel with the fit's
    diagnostics and are reported by the driver for every fit, cached or not."""
    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            yield
    finally:
        logger.setLevel(level)


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


# ----------------------------------------------------------------------- engines
class _LocalEngine:
    """Spawned worker processes (no fork of a driver that may hold threads or locks)."""

    def __init__(self, n_workers: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=context)

    def share(self, value: Any) -> Any:
        return value

    def submit(self, function: Callable, *args: Any):
        return self._pool.submit(function, *args)

    def completed(self, futures: list) -> Iterator:
        return futures_completed(futures)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class _DaskEngine:
    """A Dask distributed client: of the cluster at ``address``, or of a loopback cluster."""

    def __init__(self, address: str | None, n_workers: int) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as err:
            raise ImportError(
                "engine='dask' needs Dask distributed: pip install 'bayesirt[dask]'"
            ) from err
        self._cluster = None
        if address is None:
            self._cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            address = self._cluster.scheduler_address
        self._client = Client(address)

    def share(self, value: Any) -> Any:
        """Send data to the workers once; tasks then refer to it."""
        return self._client.scatter(value, broadcast=False)

    def submit(self, function: Callable, *args: Any):
        return self._client.submit(function, *args, pure=False)

    def completed(self, futures: list) -> Iterator:
        from distributed import as_completed

        return as_completed(futures)

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


@contextlib.contextmanager
def _engine(engine: str, address: str | None, n_workers: int) -> Iterator[Any]:
    runner = _LocalEngine(n_workers) if engine == "local" else _DaskEngine(address, n_workers)
    try:
        yield runner
    finally:
        runner.close()


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
        The per-fit results of :func:`~bayesirt.analysis.robustness.scenario_rankings`
        stacked along a new first dimension ``fit`` (coordinates: the point labels, and
        ``data``, ``items``, ``model``, ``priors``, ``seed`` and the cache key ``fit_key``
        along ``fit``), e.g. ``p_rank`` (fit, scenario, subject, rank) and ``mean_rank``
        (fit, scenario, subject); plus ``converged`` and ``problems`` (fit) from the fit's
        diagnostics. Subjects are aligned by label (the first fit's posterior order, then
        any new ones); a subject or rank a fit does not have is NaN. ``attrs``: ``spec``
        (JSON), ``engine``, ``n_fits``, and what this run did: ``n_fitted`` (fits made),
        ``n_analysed`` (analyses run) and ``n_cached`` (results read from the cache).
        :func:`sweep_scenarios` turns it into the input of
        :func:`~bayesirt.analysis.robustness.rank_stability`.

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
    bases = {label: _load_source(source) for label, source in grid.sources.items()}
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
    from rich.console import Console
    from rich.progress import MofNCompleteColumn, Progress, TimeElapsedColumn

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
    """The fits of a sweep as the scenarios of :func:`~bayesirt.analysis.robustness.rank_stability`.

    One scenario of each fit (by default the ranking by ability) becomes one scenario named
    by the fit's label, so :func:`~bayesirt.analysis.robustness.rank_stability` and
    :func:`~bayesirt.analysis.robustness.order_flips` say how much the ranking moves across
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
    chosen = result[list(_SCENARIO_VARS)].sel(scenario=scenario, drop=True)
    chosen = chosen.drop_vars([c for c in chosen.coords if c not in chosen.dims])
    out = chosen.rename(fit="scenario").assign_coords(
        scenario_kind=("scenario", ["fit"] * len(fits))
    )
    out.attrs = {"reference": reference, "scenario": scenario}
    return out
