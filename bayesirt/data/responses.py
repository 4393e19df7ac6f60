"""The :class:`Responses` container: who answered which question, and how.

A benchmark result is a sparse subjects × items table of binary outcomes (right/wrong), of
ordinal scores (ordered categories, e.g. a 1..4 rating), of binomial counts (k successes of
n trials, e.g. an LLM sampled n times on a question) or of continuous scores (a judge's
preference, ROUGE, a pass rate: a number in a bounded range). ``Responses`` stores only the
observed cells, in long format with integer codes (continuous scores as floats in [0, 1]),
next to the original labels:

* ``subject_index[k]``, ``item_index[k]``, ``response[k]`` for each observed pair ``k``;
* ``response_type``: ``"binary"``, ``"ordinal"``, ``"binomial"`` or ``"continuous"``; for
  ordinal responses ``response`` holds category codes and ``category_scores`` the score
  behind each code of each item; for binomial ones ``response`` holds the successes k and
  ``trials`` the trials n; continuous ones are mapped onto [0, 1] by their scale;
* ``subjects`` and ``items``: the labels behind the codes (a subject or an item with no observed
  response at all keeps its label: it is part of the table, its cells are missing);
* ``item_meta`` / ``subject_meta``: optional metadata tables indexed by label (``category``,
  ``benchmark``, ``text`` for items; ``family``, ``size`` for subjects).

A missing cell is simply absent from the long arrays. Nothing is ever filled in.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

import bayesirt.data.validation as checks
from bayesirt.data.codes import (
    category_score_table,
    describe_categories,
    ordinal_codes,
    response_codes,
)
from bayesirt.data.metadata import (
    align_meta,
    checked_labels,
    index_meta,
    joined_meta,
    merge_meta,
    meta_from_columns,
    plain_source,
    storable,
)
from bayesirt.data.validation import (
    DUPLICATE_RULES,
    RESPONSE_TYPES,
    ResponsesError,
    ResponsesWarning,
    describe_values,
)

__all__ = ["DUPLICATE_RULES", "RESPONSE_TYPES", "Responses"]

#: Attribute of :meth:`Responses.to_xarray` output holding the provenance record as JSON.
SOURCE_ATTR = "bayesirt_responses_source"
#: Attribute of :meth:`Responses.to_xarray` output holding :attr:`Responses.response_type`
#: (a dataset without it, written before ordinal responses existed, is binary).
RESPONSE_TYPE_ATTR = "bayesirt_response_type"
#: Variable of :meth:`Responses.to_xarray` output holding :attr:`Responses.category_scores`,
#: on the dims ``("item", CATEGORY_DIM)``.
CATEGORY_SCORES_VAR = "category_scores"
CATEGORY_DIM = "category"
#: Variable of :meth:`Responses.to_xarray` output holding :attr:`Responses.trials` (binomial
#: responses only), on the observation dimension of ``response``.
TRIALS_VAR = "trials"
#: Integer type of the codes in :attr:`Responses.response`, by response type.
CODE_DTYPES = {"binary": np.int8, "ordinal": np.int16, "binomial": np.int32}
#: Response types whose responses are numbers in [0, 1] rather than integer codes.
SCORE_TYPES = ("continuous",)


@dataclass(frozen=True, eq=False)
class Responses:
    """Responses of subjects (evaluated models) to items (benchmark questions): binary
    (right/wrong), ordinal (ordered integer scores), binomial (k successes of n trials) or
    continuous (bounded scores, stored in [0, 1]).

    Build one with :meth:`from_long`, :meth:`from_wide` or :func:`bayesirt.load_responses`
    (``response_type="ordinal"`` for ordinal scores, ``response_type="binomial"`` with
    ``trials=`` for counts of successes); the constructor expects already-validated codes.

    Attributes
    ----------
    subject_index, item_index : numpy.ndarray of int32, shape (n_observed,)
        Codes into ``subjects`` and ``items`` of each observed pair.
    response : numpy.ndarray, shape (n_observed,)
        Binary: the observed outcome, 0 or 1 (int8). Ordinal: the category code (int16),
        ``0 .. K_i - 1`` for item ``i``, in the order of the item's scores
        (``category_scores[i, code]`` is the score). Binomial: the number of successes k
        (int32), ``0 <= k <= trials``. Continuous: the score mapped onto [0, 1] by its scale
        (float64; exact 0 and 1 are the ends of the scale).
    subjects, items : pandas.Index
        Labels of the codes, unique.
    item_meta, subject_meta : pandas.DataFrame
        Metadata indexed by ``items`` / ``subjects`` (possibly with no columns).
    source : dict
        Provenance: what was read and how (paths, format, the options used), as filled in by
        :func:`bayesirt.load_responses`; empty when unknown. Plain JSON values (anything else
        is stored as its string). It travels with the data through :meth:`subset`,
        :meth:`to_xarray` and :meth:`from_xarray`, but is not part of :meth:`fingerprint`:
        the same responses read in two ways are the same data.
    response_type : {"binary", "ordinal", "binomial", "continuous"}
        What ``response`` holds (:data:`RESPONSE_TYPES`); anything else is an error.
    category_scores : numpy.ndarray of float, shape (n_items, K_max), or None
        Ordinal responses only (``None`` for binary ones): row ``i`` holds the scores of the
        ``K_i`` categories of item ``i`` in increasing order, the score of code ``c`` at
        column ``c``, padded with NaN on the right up to the largest ``K_max`` (trailing
        columns of NaN only are dropped). Built by :meth:`from_long`, the categories of an
        item are the distinct scores observed for it: a score of the scale that nobody gave
        on that item is collapsed (an item scored 1, 2 and 4 on a 1..5 scale has 3
        categories, codes 0, 1, 2 for 1, 2, 4), as R's mirt does by default. :meth:`subset`
        keeps each item's categories even where the subset leaves one unobserved, so that a
        code keeps its meaning.
    trials : numpy.ndarray of int32, shape (n_observed,), or None
        Binomial responses only (``None`` for the others): the number of trials n of each
        observed pair, at least 1. :attr:`n_trials` gives it for every response type (all
        ones for binary responses).
    """

    subject_index: np.ndarray
    item_index: np.ndarray
    response: np.ndarray
    subjects: pd.Index
    items: pd.Index
    item_meta: pd.DataFrame = field(default=None)  # type: ignore[assignment]
    subject_meta: pd.DataFrame = field(default=None)  # type: ignore[assignment]
    source: dict = field(default_factory=dict)
    response_type: str = "binary"
    category_scores: np.ndarray | None = None
    trials: np.ndarray | None = None

    def __post_init__(self) -> None:
        subjects = pd.Index(self.subjects, name="subject")
        items = pd.Index(self.items, name="item")
        for name, labels in (("subject", subjects), ("item", items)):
            if labels.has_duplicates:
                dup = labels[labels.duplicated()].unique()
                raise ResponsesError(f"duplicate {name} labels: {describe_values(dup)}")
        object.__setattr__(self, "subjects", subjects)
        object.__setattr__(self, "items", items)
        object.__setattr__(self, "subject_index", np.asarray(self.subject_index, dtype=np.int32))
        object.__setattr__(self, "item_index", np.asarray(self.item_index, dtype=np.int32))
        response_type = checks.require_response_type(self.response_type)
        object.__setattr__(
            self,
            "response",
            checks.require_unit_interval(self.response)
            if response_type in SCORE_TYPES
            else response_codes(self.response, CODE_DTYPES[response_type]),
        )
        object.__setattr__(self, "item_meta", align_meta(self.item_meta, items, "item"))
        object.__setattr__(self, "subject_meta", align_meta(self.subject_meta, subjects, "subject"))
        object.__setattr__(self, "source", plain_source(self.source))
        n = len(self.response)
        if not (len(self.subject_index) == len(self.item_index) == n):
            raise ResponsesError(
                "subject_index, item_index and response must have the same length, got "
                f"{len(self.subject_index)}, {len(self.item_index)}, {n}"
            )
        if n and (self.subject_index.min() < 0 or self.subject_index.max() >= len(subjects)):
            raise ResponsesError("subject_index holds codes outside the subject labels")
        if n and (self.item_index.min() < 0 or self.item_index.max() >= len(items)):
            raise ResponsesError("item_index holds codes outside the item labels")
        if response_type != "binomial" and self.trials is not None:
            raise ResponsesError(
                "trials are for binomial responses (response_type='binomial'); "
                f"{response_type} responses have none"
            )
        if response_type != "ordinal" and self.category_scores is not None:
            raise ResponsesError(
                "category_scores are for ordinal responses (response_type='ordinal'); "
                f"{response_type} responses have none"
            )
        if response_type == "binomial":
            self._check_binomial()
            return
        if response_type == "continuous":
            return
        if response_type == "binary":
            bad = ~np.isin(self.response, (0, 1))
            if bad.any():
                raise ResponsesError(
                    "responses must be 0 or 1, found "
                    f"{describe_values(np.unique(self.response[bad]))}"
                )
            return
        scores = category_score_table(self.category_scores, items)
        object.__setattr__(self, "category_scores", scores)
        k = np.sum(~np.isnan(scores), axis=1)
        bad = (self.response < 0) | (self.response >= k[self.item_index])
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            item = int(self.item_index[first])
            raise ResponsesError(
                f"ordinal response codes must lie in 0..K-1 for an item with K categories: "
                f"found {describe_values(np.unique(self.response[bad]))}, e.g. code "
                f"{int(self.response[first])} for item {items[item]!r}, which has {k[item]}"
            )

    def _check_binomial(self) -> None:
        if self.trials is None:
            raise ResponsesError(
                "binomial responses need trials: the number of trials n of each observed pair"
            )
        trials = response_codes(self.trials, np.int32, what="trials")
        if trials.shape != self.response.shape:
            raise ResponsesError(
                f"trials must have one entry per observed pair: {trials.size} for "
                f"{self.response.shape[0]} responses"
            )
        object.__setattr__(self, "trials", trials)
        k = self.response
        for bad, problem, values in (
            (trials < 1, "trials n below 1", trials),
            (k < 0, "negative successes k", k),
            (k > trials, "more successes than trials", None),
        ):
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                shown = (
                    f"k={k[first]} > n={trials[first]}"
                    if values is None
                    else describe_values(np.unique(values[bad]))
                )
                raise ResponsesError(
                    f"binomial responses with {problem}: {shown} ({int(bad.sum())} pair(s), "
                    f"e.g. subject {self.subjects[self.subject_index[first]]!r}, item "
                    f"{self.items[self.item_index[first]]!r}); need 0 <= k <= n and n >= 1"
                )

    # ------------------------------------------------------------------ counts
    @property
    def n_subjects(self) -> int:
        return len(self.subjects)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_observed(self) -> int:
        return len(self.response)

    @property
    def fraction_missing(self) -> float:
        cells = self.n_subjects * self.n_items
        return 1.0 - self.n_observed / cells if cells else 0.0

    def __len__(self) -> int:
        return self.n_observed

    @property
    def is_ordinal(self) -> bool:
        """Whether the responses are ordinal (:attr:`response_type` ``"ordinal"``)."""
        return self.response_type == "ordinal"

    @property
    def is_binomial(self) -> bool:
        """Whether the responses are binomial (:attr:`response_type` ``"binomial"``)."""
        return self.response_type == "binomial"

    @property
    def is_continuous(self) -> bool:
        """Whether the responses are continuous scores in [0, 1] (``"continuous"``)."""
        return self.response_type == "continuous"

    @property
    def n_trials(self) -> np.ndarray:
        """Number of trials n of each observed pair (int32, shape (n_observed,)):
        :attr:`trials` for binomial responses, all ones otherwise (one binary response is
        one trial), so that callers need not tell the types apart."""
        if self.trials is None:
            return np.ones(self.n_observed, dtype=np.int32)
        return self.trials

    @property
    def n_categories(self) -> np.ndarray:
        """Number of categories ``K_i`` of each item (int64, shape (n_items,)): 2 for every
        binary item (and for binomial ones: each trial is right or wrong); for ordinal ones
        the non-NaN entries of its row of :attr:`category_scores`."""
        if not self.is_ordinal:
            return np.full(self.n_items, 2, dtype=np.int64)
        return np.sum(~np.isnan(self.category_scores), axis=1).astype(np.int64)

    def require_binary(self, what: str) -> None:
        """Raise :class:`ResponsesError` unless the responses are binary: for a model or an
        analysis (``what``, e.g. ``"the 2PL"``) defined for right/wrong responses only."""
        if self.is_binomial:
            top = int(self.trials.max()) if self.n_observed else 0
            raise ResponsesError(
                f"{what} needs binary (right/wrong) responses; these responses are binomial "
                f"(k successes of n trials, up to {top} trials per pair). Use a model for "
                "binomial responses, or read one trial per pair as binary"
            )
        if self.is_ordinal:
            k = self.n_categories
            raise ResponsesError(
                f"{what} needs binary (right/wrong) responses; these responses are ordinal "
                f"({describe_categories(k)} per item). Use a graded model for them, or read "
                "the scores as binary with threshold= (score >= threshold counts as correct)"
            )
        if self.is_continuous:
            raise ResponsesError(
                f"{what} needs binary (right/wrong) responses; these responses are continuous "
                "scores in [0, 1]. Use a model for continuous scores (the ordered beta model "
                "'beta'), or read the scores as binary with threshold="
            )

    def __repr__(self) -> str:
        kind = ""
        if self.is_ordinal:
            kind = f"ordinal, {describe_categories(self.n_categories)}, "
        elif self.is_binomial:
            top = int(self.trials.max()) if self.n_observed else 0
            kind = f"binomial, up to {top} trials, "
        elif self.is_continuous:
            kind = "continuous in [0, 1], "
        return (
            f"Responses({self.n_subjects} subjects × {self.n_items} items, {kind}"
            f"{self.n_observed} observed, {self.fraction_missing:.1%} missing)"
        )

    def summary(self) -> dict:
        """Counts of the table: subjects, items, observed pairs, missing fraction, accuracy
        (for ordinal responses the mean normalised score, see :meth:`item_accuracy`; for
        binomial ones the successes over the trials, all pairs pooled), the response type,
        for ordinal responses the most categories of an item (``max_categories``) and for
        binomial ones the number of trials in all (``total_trials``)."""
        out = {
            "n_subjects": self.n_subjects,
            "n_items": self.n_items,
            "n_observed": self.n_observed,
            "fraction_missing": self.fraction_missing,
            "mean_accuracy": (
                float(self.response.sum() / self.trials.sum())
                if self.is_binomial and self.n_observed
                else float(self.normalised_scores().mean())
                if self.n_observed
                else float("nan")
            ),
            "item_metadata": list(self.item_meta.columns),
            "subject_metadata": list(self.subject_meta.columns),
            "response_type": self.response_type,
        }
        if self.is_ordinal:
            out["max_categories"] = int(self.n_categories.max()) if self.n_items else 0
        if self.is_binomial:
            out["total_trials"] = int(self.trials.sum(dtype=np.int64))
        return out

    # ------------------------------------------------------------ aggregates
    def subject_accuracy(self) -> pd.Series:
        """Fraction correct of each subject over its observed items (NaN if none).

        For ordinal responses: the mean normalised score ``code / (K_i - 1)`` in [0, 1]
        (0 for the lowest category of an item, 1 for its highest; 0 for an item with a single
        category), which weighs every item alike whatever its number of categories.

        For binomial responses: trial-weighted, the subject's successes over its trials,
        ``sum(k) / sum(n)`` over its observed items (not the mean of the fractions ``k / n``).
        """
        return self._mean_by(self.subject_index, self.subjects)

    def item_accuracy(self) -> pd.Series:
        """Fraction correct of each item over the subjects that answered it (NaN if none).

        For ordinal responses: the mean normalised score ``code / (K_i - 1)`` in [0, 1], as
        in :meth:`subject_accuracy`. Codes count the observed categories, so with a collapsed
        category this is not the mean score rescaled to the scale's range.

        For binomial responses: trial-weighted, the item's successes over its trials,
        ``sum(k) / sum(n)`` over the subjects that answered it.
        """
        return self._mean_by(self.item_index, self.items)

    def subject_counts(self) -> pd.Series:
        """Number of observed responses of each subject."""
        return pd.Series(
            np.bincount(self.subject_index, minlength=self.n_subjects), index=self.subjects
        )

    def item_counts(self) -> pd.Series:
        """Number of observed responses to each item."""
        return pd.Series(np.bincount(self.item_index, minlength=self.n_items), index=self.items)

    def constant_items(self) -> pd.Index:
        """Items every observed subject answered the same way: they carry no information.

        Binary: accuracy 0 or 1. Ordinal: items observed in fewer than 2 categories. Binomial:
        items where every trial of every subject succeeded (``k = n`` throughout) or every
        one failed (``k = 0``). Continuous: items with one score for every subject. Items with
        no observed response are in none of these cases.
        """
        if self.is_continuous:
            lowest = np.full(self.n_items, np.inf)
            highest = np.full(self.n_items, -np.inf)
            np.minimum.at(lowest, self.item_index, self.response)
            np.maximum.at(highest, self.item_index, self.response)
            return self.items[lowest == highest]
        if self.is_ordinal:
            pairs = np.unique(np.column_stack([self.item_index, self.response]), axis=0)
            seen = np.bincount(pairs[:, 0].astype(np.int64), minlength=self.n_items)
            return self.items[seen == 1]
        acc = self.item_accuracy()
        return acc.index[(acc == 0) | (acc == 1)]

    def normalised_scores(self) -> np.ndarray:
        """Each observed response in [0, 1]: binary and continuous as they are, ordinal
        ``code / (K_i - 1)``, binomial ``k / n``."""
        if self.is_binomial:
            return self.response / self.trials
        if not self.is_ordinal:
            return self.response.astype(float)
        top = np.maximum(self.n_categories - 1, 1)
        return self.response / top[self.item_index]

    def _mean_by(self, codes: np.ndarray, labels: pd.Index) -> pd.Series:
        """Mean normalised score by ``codes``; binomial responses pool the trials (sum of the
        successes over the sum of the trials)."""
        if self.is_binomial:
            total = np.bincount(codes, weights=self.response, minlength=len(labels))
            count = np.bincount(codes, weights=self.trials, minlength=len(labels))
        else:
            total = np.bincount(codes, weights=self.normalised_scores(), minlength=len(labels))
            count = np.bincount(codes, minlength=len(labels))
        with np.errstate(invalid="ignore", divide="ignore"):
            return pd.Series(total / count, index=labels)

    def dense(self) -> np.ndarray:
        """Subjects × items float matrix of :attr:`response` with NaN for missing cells.

        For ordinal responses it holds the category codes, not the scores (those are in
        :meth:`to_wide`); for binomial ones the successes k, not the fractions ``k / n``.
        """
        out = np.full((self.n_subjects, self.n_items), np.nan)
        out[self.subject_index, self.item_index] = self.response
        return out

    def _scores(self) -> np.ndarray:
        """The original score of each observed response: binary 0/1, ordinal the score of
        its code (ints where every score is whole, else floats), binomial the successes k."""
        if not self.is_ordinal:
            return self.response
        scores = self.category_scores[self.item_index, self.response]
        if np.all(scores == np.round(scores)) and np.all(np.abs(scores) < 2**53):
            return scores.astype(np.int64)
        return scores

    # ---------------------------------------------------------- conversions
    @classmethod
    def from_long(
        cls,
        frame: pd.DataFrame,
        *,
        subject: str = "subject",
        item: str = "item",
        response: str = "response",
        duplicates: str = "error",
        threshold: float | None = None,
        item_meta: pd.DataFrame | None = None,
        subject_meta: pd.DataFrame | None = None,
        item_meta_columns: list[str] | None = None,
        subject_meta_columns: list[str] | None = None,
        response_type: str = "binary",
        scale: tuple[float, float] | None = None,
        trials: str | None = None,
    ) -> Responses:
        """Build from a long table with one row per (subject, item) pair.

        Parameters
        ----------
        frame : pandas.DataFrame
            One row per pair. A NaN response marks a missing cell: the pair is kept out of the
            observed arrays but its subject and item keep their labels.
        subject, item, response : str
            Column names in ``frame``.
        duplicates : {"error", "mean", "first", "last"}
            What to do with repeated (subject, item) pairs. ``"mean"`` averages them, which
            can give a fractional response that then needs ``threshold``; it is refused for
            binomial responses (``"first"`` and ``"last"`` keep a row's k and n together).
        threshold : float, optional
            Binarise graded or fractional responses: ``response >= threshold`` counts as
            correct. Without it any binary response other than 0/1 is an error. Not with
            ``response_type="ordinal"``.
        item_meta, subject_meta : pandas.DataFrame, optional
            Metadata indexed by label (or with the label in a column named like ``item`` /
            ``subject``).
        item_meta_columns, subject_meta_columns : list of str, optional
            Columns of ``frame`` that are item (subject) metadata; each must hold one value
            per item (subject).
        response_type : {"binary", "ordinal", "binomial", "continuous"}
            ``"binary"``: responses 0/1 (or binarised by ``threshold``). ``"continuous"``:
            bounded scores, in [0, 1] or in ``scale``, stored mapped onto [0, 1] (a score
            outside the range is an error). ``"binomial"``: the
            response column holds the successes k and the column ``trials`` the trials n of
            each pair, whole numbers with ``0 <= k <= n`` and ``n >= 1``. ``"ordinal"``:
            whole-number scores read as ordered categories; each item's categories are the
            distinct scores observed for it, coded ``0 .. K_i - 1`` in increasing order, the
            scores kept in :attr:`category_scores` (unobserved scores are collapsed, as R's
            mirt does by default). A non-integer score is an error.
        scale : (float, float), optional
            Ordinal and continuous responses only: the range ``(lo, hi)`` a score must lie in,
            e.g. ``(1, 5)`` for a five-point scale (whole numbers for ordinal scores); a score
            outside it is an error. For ordinal scores it does not add categories: a score of
            the scale that nobody gave on an item is still collapsed. Continuous scores are
            stored as ``(x - lo) / (hi - lo)`` (default ``(0, 1)``).
        trials : str, optional
            Binomial responses only, and needed by them: the column of the number of trials
            n of each pair (read into :attr:`trials`). A missing response (NaN) leaves the
            pair out whatever its trials.
        """
        scale = checks.reading_options(response_type, threshold, scale, trials)
        frame = checks.require_frame(frame)
        columns = {"subject": subject, "item": item, "response": response}
        if trials is not None:
            columns["trials"] = trials
        checks.require_columns(frame, columns)
        for col in (subject, item):
            checks.require_labels(frame[col], col)
        values = checks.numeric_responses(frame[response], response)
        long = pd.DataFrame(
            {
                "subject": frame[subject].to_numpy(),
                "item": frame[item].to_numpy(),
                "response": values,
            }
        )
        if trials is not None:
            long["trials"] = checks.numeric_responses(frame[trials], trials)
            if duplicates == "mean":
                raise ResponsesError(
                    "duplicates='mean' would average the successes of repeated pairs apart "
                    "from their trials; binomial responses take duplicates='first' or 'last'"
                )
        long = checks.resolve_duplicates(long, duplicates)
        n_trials = None
        if response_type == "binomial":
            long["response"], n_trials = checks.binomial_counts(
                long, column=response, trials_column=trials
            )
        elif response_type == "ordinal":
            long["response"] = checks.ordinal_scores(
                long, scale=scale, column=response, averaged=duplicates == "mean"
            )
        elif response_type == "continuous":
            long["response"] = checks.continuous_scores(long, scale=scale, column=response)
        else:
            long["response"] = checks.binarise(long, threshold=threshold, column=response)

        observed_rows = long["response"].notna().to_numpy()
        observed = long[observed_rows]
        subjects = _labels_with_responses(long["subject"], observed["subject"], "subject")
        items = _labels_with_responses(long["item"], observed["item"], "item")
        meta_items = meta_from_columns(frame, item, item_meta_columns, items)
        meta_subjects = meta_from_columns(frame, subject, subject_meta_columns, subjects)
        if item_meta is not None:
            meta_items = merge_meta(meta_items, index_meta(item_meta, "item"))
        if subject_meta is not None:
            meta_subjects = merge_meta(meta_subjects, index_meta(subject_meta, "subject"))

        checks.require_nonempty(len(observed))
        item_index = items.get_indexer(observed["item"])
        values = observed["response"].to_numpy(dtype=float)
        category_scores = None
        if response_type == "ordinal":
            codes, category_scores = ordinal_codes(item_index, values, len(items))
        elif response_type == "binomial":
            codes = values.astype(np.int32)
            n_trials = n_trials[observed_rows].astype(np.int32)
        elif response_type == "continuous":
            codes = values
        else:
            codes = values.astype(np.int8)
        return cls(
            subject_index=subjects.get_indexer(observed["subject"]),
            item_index=item_index,
            response=codes,
            subjects=subjects,
            items=items,
            item_meta=meta_items,
            subject_meta=meta_subjects,
            response_type=response_type,
            category_scores=category_scores,
            trials=n_trials,
        )

    @classmethod
    def from_wide(
        cls,
        frame: pd.DataFrame,
        *,
        subject: str | None = None,
        threshold: float | None = None,
        item_meta: pd.DataFrame | None = None,
        subject_meta: pd.DataFrame | None = None,
        response_type: str = "binary",
        scale: tuple[float, float] | None = None,
    ) -> Responses:
        """Build from a subjects × items table (NaN = missing).

        ``subject`` names the column with the subject labels; without it the frame's index
        is used. ``threshold``, ``response_type`` and ``scale`` are those of
        :meth:`from_long`. A wide table holds one number per cell, so it cannot carry
        binomial responses (k of n trials): read those with :meth:`from_long`.
        """
        if response_type == "binomial":
            raise ResponsesError(
                "a wide table holds one number per cell and cannot carry binomial responses "
                "(k successes of n trials); give a long table with a column of successes and "
                "one of trials (from_long(..., response_type='binomial', trials=...))"
            )
        checks.reading_options(response_type, threshold, scale)
        frame = checks.require_frame(frame)
        if subject is not None:
            checks.require_columns(frame, {"subject": subject})
            frame = frame.set_index(subject)
        frame = frame.rename_axis(index="subject", columns="item")
        if frame.columns.has_duplicates:
            dup = frame.columns[frame.columns.duplicated()].unique()
            raise ResponsesError(
                f"duplicate item columns in the wide table: {describe_values(dup)}"
            )
        long = frame.stack(future_stack=True).rename("response").reset_index()
        return cls.from_long(
            long,
            threshold=threshold,
            item_meta=item_meta,
            subject_meta=subject_meta,
            response_type=response_type,
            scale=scale,
        )

    def to_long(self, *, with_metadata: bool = False) -> pd.DataFrame:
        """Long table of the observed pairs: ``subject, item, response`` (+ metadata).

        For ordinal responses ``response`` is the original score, not the code, so that
        :meth:`from_long` with ``response_type="ordinal"`` reads the table back. For binomial
        responses ``response`` is the successes k and a column ``trials`` the trials n, read
        back by ``from_long(..., response_type="binomial", trials="trials")``.
        """
        frame = pd.DataFrame(
            {
                "subject": self.subjects[self.subject_index],
                "item": self.items[self.item_index],
                "response": self._scores(),
            }
        )
        if self.is_binomial:
            frame["trials"] = self.trials
        if with_metadata:
            if len(self.item_meta.columns):
                frame = frame.join(self.item_meta, on="item")
            if len(self.subject_meta.columns):
                frame = frame.join(self.subject_meta, on="subject", rsuffix="_subject")
        return frame

    def to_wide(self) -> pd.DataFrame:
        """Subjects × items table with NaN where a response is missing (for ordinal
        responses the original scores, not the codes of :meth:`dense`; for binomial ones the
        fractions ``k / n``, so the number of trials is lost: use :meth:`to_long` to keep
        it)."""
        out = np.full((self.n_subjects, self.n_items), np.nan)
        values = self.normalised_scores() if self.is_binomial else self._scores()
        out[self.subject_index, self.item_index] = values
        return pd.DataFrame(out, index=self.subjects, columns=self.items)

    def to_xarray(self) -> xr.Dataset:
        """The data as an xarray Dataset (dims ``obs``, ``subject``, ``item``).

        Variables: ``response``, ``subject_index``, ``item_index`` over ``obs``, for ordinal
        responses ``category_scores`` over ``("item", "category")``, for binomial ones
        ``trials`` over ``obs``, and each metadata
        column as ``item_<name>`` / ``subject_<name>``; the attributes hold the fingerprint,
        the response type (``bayesirt_response_type``) and, if known, the provenance
        :attr:`source` as a JSON string. :meth:`from_xarray` inverts it; fitted models store
        this dataset in their InferenceData.
        """
        data_vars = {
            "response": ("obs", self.response),
            "subject_index": ("obs", self.subject_index),
            "item_index": ("obs", self.item_index),
        }
        if self.is_ordinal:
            data_vars[CATEGORY_SCORES_VAR] = (("item", CATEGORY_DIM), self.category_scores)
        if self.is_binomial:
            data_vars[TRIALS_VAR] = ("obs", self.trials)
        for name, col in self.item_meta.items():
            data_vars[f"item_{name}"] = ("item", storable(col))
        for name, col in self.subject_meta.items():
            data_vars[f"subject_{name}"] = ("subject", storable(col))
        attrs = {
            "bayesirt_responses_fingerprint": self.fingerprint(),
            RESPONSE_TYPE_ATTR: self.response_type,
        }
        if self.source:
            attrs[SOURCE_ATTR] = json.dumps(self.source)
        return xr.Dataset(
            data_vars,
            coords={
                "subject": np.asarray(self.subjects.astype(str)),
                "item": np.asarray(self.items.astype(str)),
            },
            attrs=attrs,
        )

    @classmethod
    def from_xarray(cls, ds: xr.Dataset) -> Responses:
        """Rebuild from :meth:`to_xarray` output (labels come back as strings). A dataset
        without the response type attribute (written by an older bayesirt) is binary."""
        item_meta = pd.DataFrame(
            {
                k[len("item_") :]: ds[k].values
                for k in ds.data_vars
                if k.startswith("item_") and k != "item_index"
            },
            index=ds["item"].values,
        )
        subject_meta = pd.DataFrame(
            {
                k[len("subject_") :]: ds[k].values
                for k in ds.data_vars
                if k.startswith("subject_") and k != "subject_index"
            },
            index=ds["subject"].values,
        )
        return cls(
            subject_index=ds["subject_index"].values,
            item_index=ds["item_index"].values,
            response=ds["response"].values,
            subjects=pd.Index(ds["subject"].values),
            items=pd.Index(ds["item"].values),
            item_meta=item_meta.replace({"": np.nan}),
            subject_meta=subject_meta.replace({"": np.nan}),
            source=json.loads(ds.attrs.get(SOURCE_ATTR, "{}")),
            response_type=ds.attrs.get(RESPONSE_TYPE_ATTR, "binary"),
            category_scores=(
                ds[CATEGORY_SCORES_VAR].values if CATEGORY_SCORES_VAR in ds.data_vars else None
            ),
            trials=ds[TRIALS_VAR].values if TRIALS_VAR in ds.data_vars else None,
        )

    # -------------------------------------------------------------- subsets
    def subset(
        self, *, subjects: list | pd.Index | None = None, items: list | pd.Index | None = None
    ) -> Responses:
        """The responses of the given subjects and items (labels), in the given order.

        Ordinal items keep their categories (:attr:`category_scores`), observed or not.
        """
        new_subjects = (
            self.subjects
            if subjects is None
            else checked_labels(subjects, self.subjects, "subject")
        )
        new_items = self.items if items is None else checked_labels(items, self.items, "item")
        s_map = new_subjects.get_indexer(self.subjects)
        i_map = new_items.get_indexer(self.items)
        s_new = s_map[self.subject_index]
        i_new = i_map[self.item_index]
        keep = (s_new >= 0) & (i_new >= 0)
        return Responses(
            subject_index=s_new[keep],
            item_index=i_new[keep],
            response=self.response[keep],
            subjects=new_subjects,
            items=new_items,
            item_meta=self.item_meta.loc[new_items],
            subject_meta=self.subject_meta.loc[new_subjects],
            source=self.source,
            response_type=self.response_type,
            category_scores=(
                None
                if self.category_scores is None
                else self.category_scores[self.items.get_indexer(new_items)]
            ),
            trials=None if self.trials is None else self.trials[keep],
        )

    def with_item_meta(self, meta: pd.DataFrame, *, on: str = "item") -> Responses:
        """Join item metadata (indexed by item, or with the label in column ``on``)."""
        return _replace(self, item_meta=joined_meta(self.item_meta, meta, self.items, on, "item"))

    def with_subject_meta(self, meta: pd.DataFrame, *, on: str = "subject") -> Responses:
        """Join subject metadata (indexed by subject, or with the label in column ``on``)."""
        merged = joined_meta(self.subject_meta, meta, self.subjects, on, "subject")
        return _replace(self, subject_meta=merged)

    def with_source(self, source: Mapping) -> Responses:
        """The same responses with the provenance record ``source`` (see :attr:`source`)."""
        return _replace(self, source=source)

    def item_groups(self, column: str) -> tuple[np.ndarray, pd.Index]:
        """Integer code of each item's group in metadata ``column``, and the group labels."""
        if column not in self.item_meta.columns:
            raise ResponsesError(
                f"no item metadata column {column!r}; available: "
                f"{describe_values(self.item_meta.columns) or 'none'}"
            )
        values = self.item_meta[column]
        if values.isna().any():
            raise ResponsesError(
                f"item metadata {column!r} is missing for items "
                f"{describe_values(values.index[values.isna()])}"
            )
        codes, labels = pd.factorize(values, sort=True)
        return codes.astype(np.int32), pd.Index(labels, name=column)

    # ---------------------------------------------------------- identity
    def fingerprint(self) -> str:
        """sha256 of the codes, responses and labels: equal data give equal fingerprints.

        Ordinal responses also hash the response type and the category scores, so they never
        share a fingerprint with binary responses of the same codes (binary fingerprints are
        those of bayesirt before ordinal responses existed). Binomial responses likewise hash
        the response type and the trials, continuous ones the response type.
        """
        h = hashlib.sha256()
        order = np.lexsort((self.item_index, self.subject_index))
        for arr in (self.subject_index[order], self.item_index[order], self.response[order]):
            h.update(np.ascontiguousarray(arr).tobytes())
        for labels in (self.subjects, self.items):
            h.update("\x1f".join(map(str, labels)).encode())
        if self.is_ordinal:
            scores = self.category_scores
            h.update(b"\x1eordinal")
            h.update(np.ascontiguousarray(self.n_categories, dtype=np.int64).tobytes())
            h.update(np.ascontiguousarray(scores[~np.isnan(scores)], dtype=np.float64).tobytes())
        if self.is_binomial:
            h.update(b"\x1ebinomial")
            h.update(np.ascontiguousarray(self.trials[order], dtype=np.int64).tobytes())
        if self.is_continuous:
            h.update(b"\x1econtinuous")
        return h.hexdigest()

    def equals(self, other: Responses) -> bool:
        """Same labels, same observed cells and values (metadata not compared)."""
        return (
            isinstance(other, Responses)
            and list(map(str, self.subjects)) == list(map(str, other.subjects))
            and list(map(str, self.items)) == list(map(str, other.items))
            and self.fingerprint() == other.fingerprint()
        )


# ---------------------------------------------------------------- helpers
def _labels_with_responses(listed: pd.Series, observed: pd.Series, name: str) -> pd.Index:
    """The labels (in order of appearance) that have at least one observed response; the
    others are left out with a :class:`ResponsesWarning` naming them: a subject without a
    single answer has no ability to estimate, and must not be ranked as if measured."""
    labels = pd.Index(pd.unique(listed), name=name)
    kept = labels[labels.isin(pd.unique(observed))]
    if len(kept) < len(labels) and len(observed):
        empty = labels.difference(kept, sort=False)
        warnings.warn(
            f"{len(empty)} {name}(s) without any observed response left out: "
            f"{describe_values(empty)}",
            ResponsesWarning,
            stacklevel=4,
        )
        return kept
    return labels


def _replace(resp: Responses, **changes) -> Responses:
    fields = {
        "subject_index": resp.subject_index,
        "item_index": resp.item_index,
        "response": resp.response,
        "subjects": resp.subjects,
        "items": resp.items,
        "item_meta": resp.item_meta,
        "subject_meta": resp.subject_meta,
        "source": resp.source,
        "response_type": resp.response_type,
        "category_scores": resp.category_scores,
        "trials": resp.trials,
    }
    fields.update(changes)
    return Responses(**fields)
