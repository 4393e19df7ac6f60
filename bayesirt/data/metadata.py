"""Metadata tables of a :class:`~bayesirt.data.Responses` (item and subject columns such as
``category`` or ``family``): aligned to the labels, merged, and kept storable; and the
provenance record made of plain JSON values."""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pandas as pd

import bayesirt.data.validation as checks
from bayesirt.data.validation import ResponsesError, describe_values

__all__ = [
    "align_meta",
    "checked_labels",
    "index_meta",
    "joined_meta",
    "merge_meta",
    "meta_from_columns",
    "plain_source",
    "storable",
]


def align_meta(meta: pd.DataFrame | None, labels: pd.Index, name: str) -> pd.DataFrame:
    """Metadata with one row per label, in label order (rows are matched by label)."""
    if meta is None:
        return pd.DataFrame(index=labels)
    missing = labels.difference(meta.index)
    if len(missing) or len(meta) != len(labels):
        raise ResponsesError(
            f"{name} metadata must have one row per {name} label: {len(meta)} rows for "
            f"{len(labels)} {name}s, no row for {describe_values(missing) or 'none'}"
        )
    meta = meta.loc[labels]
    meta.index = labels
    return meta


def index_meta(meta: pd.DataFrame, on: str) -> pd.DataFrame:
    if on in meta.columns:
        meta = meta.set_index(on)
    if meta.index.has_duplicates:
        dup = meta.index[meta.index.duplicated()].unique()
        raise ResponsesError(f"metadata has several rows for {on} {describe_values(dup)}")
    return meta


def joined_meta(
    base: pd.DataFrame, meta: pd.DataFrame, labels: pd.Index, on: str, name: str
) -> pd.DataFrame:
    """``base`` joined with ``meta`` (keyed by ``on``), which must cover every label."""
    meta = index_meta(meta, on)
    missing = labels.difference(meta.index)
    if len(missing):
        raise ResponsesError(
            f"{name} metadata has no row for {len(missing)} {name}(s): {describe_values(missing)}"
        )
    return merge_meta(base, meta.loc[labels])


def merge_meta(base: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    base = base.drop(columns=[c for c in extra.columns if c in base.columns])
    return base.join(extra, how="left")


def meta_from_columns(
    frame: pd.DataFrame, key: str, columns: list[str] | None, labels: pd.Index
) -> pd.DataFrame:
    """Metadata columns of a long table, one row per label of column ``key``."""
    if not columns:
        return pd.DataFrame(index=labels)
    checks.require_columns(frame, {c: c for c in columns})
    meta = frame[[key, *columns]].drop_duplicates()
    conflicting = meta[key][meta[key].duplicated()].unique()
    if len(conflicting):
        raise ResponsesError(
            f"metadata columns {columns} take several values for {labels.name} "
            f"{describe_values(conflicting)}"
        )
    return meta.set_index(key).reindex(labels)


def checked_labels(wanted, available: pd.Index, name: str) -> pd.Index:
    wanted = pd.Index(wanted, name=name)
    unknown = wanted.difference(available)
    if len(unknown):
        raise ResponsesError(f"unknown {name} label(s): {describe_values(unknown)}")
    return wanted


def plain_source(source: Mapping | None) -> dict:
    """A copy of the provenance record made of plain JSON values (others become strings), so
    that it reads back from :meth:`Responses.to_xarray` output exactly as it was."""
    return json.loads(json.dumps(dict(source or {}), default=str))


def storable(col: pd.Series) -> np.ndarray:
    """Metadata column as an array netCDF can store (strings for objects, NaN → '')."""
    if pd.api.types.is_numeric_dtype(col):
        return col.to_numpy()
    return col.astype(object).where(col.notna(), "").astype(str).to_numpy()
