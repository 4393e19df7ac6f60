"""Errors raised on bad response data.

Every check in :mod:`bayesirt.data` raises :class:`ResponsesError` (a ``ValueError``) with a
message that names the offending value and where it was found, so a user can fix the input
without reading a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = [
    "DUPLICATE_RULES",
    "RESPONSE_TYPES",
    "ResponsesError",
    "ResponsesWarning",
    "describe_values",
]

DUPLICATE_RULES = ("error", "mean", "first", "last")
#: The kinds of response a :class:`~bayesirt.data.Responses` holds: ``"binary"`` (right or
#: wrong, 0/1) or ``"ordinal"`` (ordered integer scores, e.g. 1..5 on a rating scale).
RESPONSE_TYPES = ("binary", "ordinal")


class ResponsesError(ValueError):
    """Response data that cannot be used as given; the message names the bad value."""


class ResponsesWarning(UserWarning):
    """Usable response data with a property worth knowing (e.g. items that carry no information)."""


def describe_values(values: Iterable, limit: int = 5) -> str:
    """Render up to ``limit`` values for an error message, with a count of the rest."""
    values = [v.item() if isinstance(v, np.generic) else v for v in values]
    shown = ", ".join(repr(v) for v in values[:limit])
    if len(values) > limit:
        shown += f", ... ({len(values) - limit} more)"
    return shown


def require_frame(frame) -> pd.DataFrame:
    """The input as a DataFrame; refuses other types and empty tables."""
    if not isinstance(frame, pd.DataFrame):
        raise ResponsesError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    if frame.empty:
        raise ResponsesError("the response table is empty (no rows or no columns)")
    return frame


def require_columns(frame: pd.DataFrame, columns: dict[str, str]) -> None:
    """Each role (``subject``, ``item``, ...) must name an existing column."""
    missing = {role: col for role, col in columns.items() if col not in frame.columns}
    if missing:
        wanted = ", ".join(f"{role}={col!r}" for role, col in missing.items())
        raise ResponsesError(
            f"column(s) not found: {wanted}; the table has columns "
            f"{describe_values(frame.columns, limit=12)}. Map other names with "
            "subject=/item=/response=."
        )


def require_labels(labels: pd.Series, column: str) -> None:
    """Subject and item labels may not be missing."""
    bad = labels.isna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ResponsesError(
            f"column {column!r} has {bad.sum()} missing label(s) (NaN), at row(s) "
            f"{describe_values(rows.tolist())}"
        )


def numeric_responses(values: pd.Series, column: str) -> np.ndarray:
    """Responses as floats (NaN = missing); refuses text such as 'yes'."""
    converted = pd.to_numeric(values, errors="coerce")
    bad = converted.isna() & values.notna()
    if bad.any():
        raise ResponsesError(
            f"column {column!r} holds non-numeric responses {describe_values(values[bad].unique())}"
            f" (first at row {int(np.flatnonzero(bad.to_numpy())[0])})"
        )
    return converted.to_numpy(dtype=float)


def resolve_duplicates(long: pd.DataFrame, rule: str) -> pd.DataFrame:
    """Apply the duplicate rule to repeated (subject, item) pairs of a long table."""
    if rule not in DUPLICATE_RULES:
        raise ResponsesError(
            f"unknown duplicates rule {rule!r}; choose one of {', '.join(DUPLICATE_RULES)}"
        )
    dup = long.duplicated(subset=["subject", "item"], keep=False)
    if not dup.any():
        return long
    if rule == "error":
        pairs = long.loc[dup, ["subject", "item"]].drop_duplicates()
        shown = [tuple(p) for p in pairs.itertuples(index=False)]
        raise ResponsesError(
            f"{len(pairs)} duplicate subject-item pair(s), e.g. {describe_values(shown, 3)}; "
            "pass duplicates='mean', 'first' or 'last' to resolve them"
        )
    if rule == "mean":
        return long.groupby(["subject", "item"], sort=False, as_index=False)["response"].mean()
    return long.drop_duplicates(subset=["subject", "item"], keep=rule)


def require_response_type(response_type: object) -> str:
    """One of :data:`RESPONSE_TYPES`; anything else is an error naming it."""
    if not isinstance(response_type, str) or response_type not in RESPONSE_TYPES:
        raise ResponsesError(
            f"unknown response_type {response_type!r}; choose 'binary' (right/wrong, 0/1) or "
            "'ordinal' (ordered integer scores)"
        )
    return response_type


def reading_options(
    response_type: object, threshold: float | None, scale: object
) -> tuple[int, int] | None:
    """Check how responses are to be read: ``response_type``, and ``threshold`` and
    ``scale``, which belong to binary and to ordinal responses respectively.

    Returns ``scale`` as a pair of ints (``None`` if not given).
    """
    response_type = require_response_type(response_type)
    if response_type == "ordinal" and threshold is not None:
        raise ResponsesError(
            f"threshold={threshold!r} and response_type='ordinal' exclude each other: "
            "threshold= binarises the scores into right/wrong, response_type='ordinal' keeps "
            "them as ordered categories; give one of them"
        )
    if scale is None:
        return None
    lo_hi = _scale_pair(scale)
    if response_type != "ordinal":
        raise ResponsesError(
            f"scale={describe_scale(lo_hi)} declares the range of ordinal scores; it needs "
            "response_type='ordinal'"
        )
    return lo_hi


def describe_scale(scale: tuple[int, int]) -> str:
    """A scale as messages write it, ``(1, 5)``."""
    return f"({scale[0]}, {scale[1]})"


def _scale_pair(scale: object) -> tuple[int, int]:
    """``scale`` as ``(lo, hi)``: two whole numbers, ``lo < hi``."""
    try:
        lo, hi = scale  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ResponsesError(
            f"scale must be a pair (lo, hi) of whole numbers, got {scale!r}"
        ) from None
    pair = []
    for value in (lo, hi):
        if isinstance(value, bool | np.bool_) or not isinstance(
            value, int | float | np.integer | np.floating
        ):
            raise ResponsesError(f"scale must be a pair (lo, hi) of whole numbers, got {scale!r}")
        if not (np.isfinite(value) and float(value).is_integer()):
            raise ResponsesError(f"scale must be a pair (lo, hi) of whole numbers, got {scale!r}")
        pair.append(int(value))
    if pair[0] >= pair[1]:
        raise ResponsesError(
            f"scale=({pair[0]}, {pair[1]}) is empty or reversed: need lo < hi, e.g. (1, 5)"
        )
    return pair[0], pair[1]


def ordinal_scores(
    long: pd.DataFrame, *, scale: tuple[int, int] | None, column: str, averaged: bool = False
) -> np.ndarray:
    """Ordinal scores (NaN kept as missing): whole numbers, within ``scale`` if given."""
    values = long["response"].to_numpy(dtype=float)
    observed = ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (values == np.round(values))
    bad = observed & ~whole
    if bad.any():
        hint = " (duplicates='mean' averaged repeated pairs into them)" if averaged else ""
        raise ResponsesError(
            f"column {column!r} holds non-integer scores {describe_values(np.unique(values[bad]))}"
            f" ({_first_at(long, bad)}){hint}; ordinal responses (response_type='ordinal') "
            "must be whole numbers"
        )
    if scale is not None:
        lo, hi = scale
        outside = observed & ((values < lo) | (values > hi))
        if outside.any():
            raise ResponsesError(
                f"column {column!r} holds scores {describe_values(_ints(values[outside]))} "
                f"outside the declared scale={describe_scale(scale)} ({_first_at(long, outside)})"
            )
    return values


def _first_at(long: pd.DataFrame, mask: np.ndarray) -> str:
    where = long.loc[mask, ["subject", "item"]].iloc[0]
    return f"first for subject {where['subject']!r}, item {where['item']!r}"


def _ints(values: np.ndarray) -> list[int]:
    """Distinct whole numbers, as ints (``7`` rather than ``7.0`` in a message)."""
    return [int(v) for v in np.unique(values)]


def binarise(long: pd.DataFrame, *, threshold: float | None, column: str) -> np.ndarray:
    """0/1 responses (NaN kept as missing); graded values need an explicit threshold."""
    values = long["response"].to_numpy(dtype=float)
    observed = ~np.isnan(values)
    if threshold is not None:
        if not np.isfinite(threshold):
            raise ResponsesError(f"threshold must be a finite number, got {threshold}")
        out = np.where(values >= threshold, 1.0, 0.0)
        out[~observed] = np.nan
        outcomes = np.unique(out[observed])
        if len(outcomes) == 1:
            verdict = "correct" if outcomes[0] == 1 else "incorrect"
            raise ResponsesError(
                f"threshold {threshold:g} makes every observed response {verdict} (scores in "
                f"column {column!r} range from {np.nanmin(values):g} to {np.nanmax(values):g})"
            )
        return out
    bad = observed & ~np.isin(values, (0.0, 1.0))
    if bad.any():
        where = long.loc[bad, ["subject", "item"]].iloc[0]
        distinct = np.unique(values[bad])
        shown = describe_values(distinct)
        integers = bool(np.all(np.isfinite(distinct) & (distinct == np.round(distinct))))
        ordinal = (
            ", or response_type='ordinal' to keep integer scores as ordered categories"
            if integers
            else ""
        )
        raise ResponsesError(
            f"column {column!r} holds non-binary responses {shown}"
            f" (first for subject {where['subject']!r}, item {where['item']!r}); pass "
            f"threshold= to binarise graded or fractional responses{ordinal}"
        )
    return values


def require_nonempty(n_observed: int) -> None:
    """At least one observed response (one subject's answers are data: they can be scored
    against a fit)."""
    if n_observed == 0:
        raise ResponsesError("no observed responses: every response is missing")


def require_fittable(n_subjects: int, n_items: int) -> None:
    """At least 2 subjects and 2 items, as fitting a model needs."""
    if n_subjects < 2:
        raise ResponsesError(
            f"need at least 2 subjects to fit a model, got {n_subjects} (one model's results "
            "can be scored against an existing fit: bayesirt score, bayesirt.score_new)"
        )
    if n_items < 2:
        raise ResponsesError(f"need at least 2 items to fit a model, got {n_items}")
