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
#: wrong, 0/1), ``"ordinal"`` (ordered integer scores, e.g. 1..5 on a rating scale) or
#: ``"binomial"`` (k successes out of n trials, e.g. an LLM sampled n times on a question).
RESPONSE_TYPES = ("binary", "ordinal", "binomial", "continuous")


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
            f"unknown response_type {response_type!r}; choose 'binary' (right/wrong, 0/1), "
            "'ordinal' (ordered integer scores), 'binomial' (k successes of n trials) or "
            "'continuous' (bounded scores, e.g. fractions in [0, 1])"
        )
    return response_type


def reading_options(
    response_type: object, threshold: float | None, scale: object, trials: object = None
) -> tuple[float, float] | None:
    """Check how responses are to be read: ``response_type``, and ``threshold``, ``scale``
    and ``trials``, which belong to binary, ordinal or continuous, and binomial responses
    respectively (``trials`` names the column of the number of trials, which binomial
    responses need).

    Returns ``scale`` as a pair (``None`` if not given): whole numbers for ordinal scores,
    finite numbers for continuous ones.
    """
    response_type = require_response_type(response_type)
    if response_type != "binary" and threshold is not None:
        kept = {
            "ordinal": "keeps them as ordered categories",
            "binomial": "counts successes out of trials",
            "continuous": "keeps them as bounded scores",
        }[response_type]
        raise ResponsesError(
            f"threshold={threshold!r} and response_type={response_type!r} exclude each other: "
            f"threshold= binarises the scores into right/wrong, response_type={response_type!r} "
            f"{kept}; give one of them"
        )
    if response_type == "binomial" and trials is None:
        raise ResponsesError(
            "response_type='binomial' needs trials=: the column holding the number of "
            "trials n of each (subject, item) pair, next to the successes k in the "
            "response column"
        )
    if response_type != "binomial" and trials is not None:
        raise ResponsesError(
            f"trials={trials!r} names the column of the number of trials of binomial "
            f"responses; it needs response_type='binomial' (got response_type={response_type!r})"
        )
    if scale is None:
        return None
    if response_type not in ("ordinal", "continuous"):
        raise ResponsesError(
            f"scale={scale!r} declares the range of ordinal or continuous scores; it needs "
            "response_type='ordinal' or 'continuous'"
        )
    return _scale_pair(scale, whole=response_type == "ordinal")


def describe_scale(scale: tuple[int, int]) -> str:
    """A scale as messages write it, ``(1, 5)``."""
    return f"({scale[0]}, {scale[1]})"


def _scale_pair(scale: object, *, whole: bool) -> tuple[float, float]:
    """``scale`` as ``(lo, hi)``, ``lo < hi``: finite numbers, whole ones if ``whole``."""
    kind = "whole numbers" if whole else "finite numbers"
    try:
        lo, hi = scale  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ResponsesError(f"scale must be a pair (lo, hi) of {kind}, got {scale!r}") from None
    pair = []
    for value in (lo, hi):
        if (
            isinstance(value, bool | np.bool_)
            or not isinstance(value, int | float | np.integer | np.floating)
            or not np.isfinite(value)
            or (whole and not float(value).is_integer())
        ):
            raise ResponsesError(f"scale must be a pair (lo, hi) of {kind}, got {scale!r}")
        pair.append(int(value) if whole else float(value))
    if pair[0] >= pair[1]:
        raise ResponsesError(
            f"scale=({pair[0]:g}, {pair[1]:g}) is empty or reversed: need lo < hi, e.g. (1, 5)"
        )
    return pair[0], pair[1]


def continuous_scores(
    long: pd.DataFrame, *, scale: tuple[float, float] | None, column: str
) -> np.ndarray:
    """Continuous scores (NaN kept as missing) mapped onto [0, 1]: ``(x - lo) / (hi - lo)``
    with ``scale = (lo, hi)``, default ``(0, 1)``. A score outside the scale, or infinite,
    is an error naming it."""
    values = long["response"].to_numpy(dtype=float)
    lo, hi = (0.0, 1.0) if scale is None else scale
    observed = ~np.isnan(values)
    outside = observed & ~((values >= lo) & (values <= hi))
    if outside.any():
        hint = "" if scale is not None else "; pass scale=(lo, hi) for scores on another range"
        raise ResponsesError(
            f"column {column!r} holds scores {describe_values(np.unique(values[outside]))} "
            f"outside the scale [{lo:g}, {hi:g}] ({_first_at(long, outside)}){hint}"
        )
    return (values - lo) / (hi - lo)


def require_unit_interval(values: np.ndarray) -> np.ndarray:
    """Continuous responses as stored: finite floats in [0, 1]."""
    values = np.asarray(values, dtype=np.float64)
    bad = ~((values >= 0.0) & (values <= 1.0))
    if bad.any():
        raise ResponsesError(
            f"continuous responses must lie in [0, 1], found "
            f"{describe_values(np.unique(values[bad]))}"
        )
    return values


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


def binomial_counts(
    long: pd.DataFrame, *, column: str, trials_column: str
) -> tuple[np.ndarray, np.ndarray]:
    """Successes ``k`` (NaN kept as missing) and trials ``n`` of binomial responses:
    ``long`` has columns ``response`` (k) and ``trials`` (n). Observed rows need whole
    numbers with ``n >= 1`` and ``0 <= k <= n``."""
    k = long["response"].to_numpy(dtype=float)
    n = long["trials"].to_numpy(dtype=float)
    observed = ~np.isnan(k)
    with np.errstate(invalid="ignore"):
        k_whole = np.isfinite(k) & (k == np.round(k))
        n_whole = np.isfinite(n) & (n == np.round(n))
    problems = (
        (observed & ~k_whole, column, k, "non-integer successes"),
        (observed & np.isnan(n), trials_column, None, "no number of trials"),
        (observed & ~np.isnan(n) & ~n_whole, trials_column, n, "non-integer trials"),
        (observed & n_whole & (n < 1), trials_column, n, "trials below 1:"),
        (observed & k_whole & (k < 0), column, k, "negative successes"),
    )
    for bad, name, values, problem in problems:
        if bad.any():
            shown = "" if values is None else f" {describe_values(np.unique(values[bad]))}"
            raise ResponsesError(
                f"column {name!r} holds {problem}{shown} ({_first_at(long, bad)}); binomial "
                f"responses (response_type='binomial') need whole numbers k (column "
                f"{column!r}) and n >= 1 (column {trials_column!r}) with 0 <= k <= n"
            )
    over = observed & (k > n)
    if over.any():
        first = int(np.flatnonzero(over)[0])
        where = long.iloc[first]
        raise ResponsesError(
            f"{int(over.sum())} binomial response(s) with more successes than trials, e.g. "
            f"k={int(k[first])} > n={int(n[first])} for subject {where['subject']!r}, item "
            f"{where['item']!r} (columns {column!r} and {trials_column!r}); need 0 <= k <= n"
        )
    return k, n


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
            else ", or response_type='continuous' to keep bounded scores as they are"
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
