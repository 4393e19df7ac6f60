"""The spec of a sweep: read from TOML or a dict, checked, and turned into a :class:`_Grid`.

Checks every key and value before anything is fitted (data sources, item sets, models,
priors, seeds, the ``fit`` and ``analysis`` settings against the signatures of
:func:`~bayesirt.inference.fit_model` and
:func:`~bayesirt.analysis.scenarios.scenario_rankings`) and fills in the defaults. Also builds
the responses of one item set of the grid (:func:`_item_variant`), the item bootstrap
included. The spec format is in the docstring of :mod:`bayesirt.sweep`.
"""

from __future__ import annotations

import inspect
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayesirt.analysis.scenarios import scenario_rankings
from bayesirt.data import Responses, datasets, load_responses, simulate_responses
from bayesirt.data.sources import DATASET_PREFIX, EXAMPLE, DataSource, parse_source, source_name
from bayesirt.inference import METHODS, fit_model
from bayesirt.models import MODELS, get_model
from bayesirt.models.priors import merge_priors

__all__ = ["ITEMS_KEYS", "SPEC_KEYS", "load_spec"]

#: Top-level keys of a spec.
SPEC_KEYS = ("data", "models", "seeds", "items", "priors", "fit", "analysis")
#: Keys of the ``items`` table.
ITEMS_KEYS = ("full", "bootstrap", "bootstrap_seed", "subsets")
#: Per-point settings that the grid sets itself, never the ``fit`` / ``analysis`` tables.
_FIT_RESERVED = ("irt_model", "random_seed", "progressbar")
_ANALYSIS_RESERVED = ("idata", "random_seed", "other_fits")


@dataclass(frozen=True)
class _Grid:
    sources: dict[str, DataSource]
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
    :func:`~bayesirt.sweep.sweep` stores in ``attrs["spec"]`` of its result. Raises
    :class:`ValueError` naming the first bad key or value.
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


def _parse_sources(data: Any, base: Path) -> dict[str, DataSource]:
    if isinstance(data, str):
        data = [data]
    if isinstance(data, list):
        entries = {}
        for text in data:
            if not isinstance(text, str):
                raise ValueError(f"sweep spec: a data source must be a string, got {text!r}")
            entries[source_name(text)] = text
        data = entries
    sources = {}
    for label, entry in _table(data, "data").items():
        _check_label(label, "data")
        if isinstance(entry, str):
            source = parse_source(entry, base=base)
            if source.kind == "dataset" and source.value not in datasets.DATASETS:
                raise ValueError(
                    f"sweep spec: data {label!r}: unknown dataset {source.value!r}; datasets "
                    f"are {list(datasets.DATASETS)}"
                )
            sources[label] = source
        elif isinstance(entry, Mapping) and "simulate" in entry:
            if set(entry) != {"simulate"}:
                raise ValueError(f"sweep spec: data {label!r}: 'simulate' takes no other keys")
            settings = _table(entry["simulate"], f"data.{label}.simulate")
            _check_keywords(settings, simulate_responses, (), f"data.{label}.simulate")
            for required in ("n_subjects", "n_items", "seed"):
                if required not in settings:
                    raise ValueError(f"sweep spec: data {label!r}: simulate needs {required!r}")
            sources[label] = DataSource("simulate", None, settings)
        elif isinstance(entry, Mapping) and "path" in entry:
            options = {k: v for k, v in entry.items() if k != "path"}
            _check_keywords(options, load_responses, ("path",), f"data.{label}")
            sources[label] = DataSource("path", str((base / entry["path"]).resolve()), options)
        else:
            raise ValueError(
                f"sweep spec: data {label!r} must be '{EXAMPLE}', '{DATASET_PREFIX}NAME', a path, "
                f"a table with 'path' (and load_responses options) or with 'simulate', got "
                f"{entry!r}"
            )
    if not sources:
        raise ValueError("sweep spec: 'data' names no source")
    return sources


def _source_spec(source: DataSource) -> Any:
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


def _item_variant(base: Responses, variant: tuple) -> Responses:
    """The responses on one item set of the grid (see :mod:`bayesirt.sweep`)."""
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
