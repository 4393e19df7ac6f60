r"""Auditing subjects: posterior predictive person fit and a contamination screen.

Two questions a leaderboard maintainer asks of every model: *does its pattern of answers
look like the answers of a model of its ability?* and *does it answer one group of questions
(a benchmark, a category, the items published before its training cut-off) better than its
ability predicts*, the signature of having seen them. Both are answered here from the
posterior of a fitted model of right/wrong answers, by posterior predictive checks (Gelman,
Meng & Stern 1996) with one replication :math:`y^{rep,(s)} \sim \text{Bernoulli}(P^{(s)})` per
used draw :math:`s` (the probabilities of the fitted model,
:meth:`~bayesirt.models.base.IRTModel.observation_probability`).

**Person fit.** For subject :math:`j` over a set of its observed items :math:`G`, the
standardised log-likelihood of Drasgow, Levine & Williams (1985),

.. math::

    l_z = \frac{l - E[l]}{\sqrt{\operatorname{Var}[l]}}, \quad
    l = \sum_{i \in G} y_i \log P_i + (1 - y_i) \log(1 - P_i),

    E[l] = \sum_{i \in G} P_i \log P_i + (1 - P_i)\log(1 - P_i), \quad
    \operatorname{Var}[l] = \sum_{i \in G} P_i (1 - P_i) \Big(\log\frac{P_i}{1 - P_i}\Big)^2,

is computed in every used draw, for the observed answers and for their replication. A low
:math:`l_z` is a pattern less likely than the model's own (easy questions failed, hard ones
solved). The posterior predictive p-value is the mid-p

.. math::

    p = \Pr\big(l_z(y^{rep}) < l_z(y)\big) + \tfrac12\Pr\big(l_z(y^{rep}) = l_z(y)\big),

small when the observed answers fit worse than the model's replications. Evaluated in each
draw, :math:`l_z` needs no correction for an estimated ability (the reason for Snijders'
:math:`l_z^*`): the draws carry the ability's uncertainty. Like every posterior predictive
p-value it is conservative, since the subject's own answers inform its ability: under the
model, subjects are flagged (``p < alpha``) at most at the rate ``alpha``, usually less
(measured in ``benchmarks/audit.py``). ``person_fit`` is the posterior mean of the observed
:math:`l_z`; ``drivers`` names the items whose answers were most surprising, by the posterior
mean of :math:`-\log p(y_i) - H(P_i)` (the surprise of the answer beyond the entropy of the
item's own answers).

**Contamination screen.** Per subject and item group :math:`g` (an item metadata column,
``item_groups``), the number right :math:`T = \sum_{i \in g} y_i` against its replications:
``p_better`` :math:`= \Pr(T(y^{rep}) < T(y)) + \tfrac12 \Pr(T(y^{rep}) = T(y))`, the posterior
predictive probability that the subject answers the group better than its ability (fitted to
all of its answers) predicts. A group is flagged where ``p_better > 1 - alpha``; the group's
person fit (:math:`l_z` within the group) comes with it. The screen is conservative in the
same way: a model that saw one group has its ability pulled up by it, which hides part of
the excess.

**Differential item functioning.** A fit of the DIF model (:mod:`bayesirt.models.dif`,
``model="2pl-dif"``, ``dif_by=`` a subject metadata column) holds each focal group's effect
:math:`\delta_{g,i}` of every item at equal ability. The audit reports its posterior mean and
central ``1 - alpha`` interval; ``flagged`` where the interval excludes 0 (per item, at the
nominal rate ``alpha`` for items without DIF), and ``flagged_fdr`` by the Benjamini–Hochberg
rule at level ``alpha`` over all items and focal groups, applied to the two-sided posterior
tail probabilities :math:`2\min(\Pr(\delta > 0), \Pr(\delta < 0))` (multiplicity-aware, and
conservative; both measured in ``benchmarks/audit.py``). Differential test functioning
(``dtf``): per focal group, the difference its subjects' expected scores on the whole
benchmark would show if the items functioned for them as for the reference group,
:math:`\frac{1}{N_g}\sum_{j \in g}\frac{1}{I}\sum_i [\sigma(a_i\theta_j + \alpha_i +
\delta_{g,i}) - \sigma(a_i\theta_j + \alpha_i)]`, with its interval. The effects sum to zero
over the items (a shift of every item for a group cannot be told from a difference of
ability), so the DTF is the part of the score gap that the items' differences make beyond
such a shift, small unless the effects fall on items that the group finds hard or easy.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pandas as pd
from scipy.special import expit

from bayesirt._json import json_number
from bayesirt._validate import check_probability
from bayesirt.analysis.posterior import fitted_responses
from bayesirt.analysis.ppc import (
    CHUNK_ELEMENTS,
    _chosen_draws,
    _mid_p,
    _observed,
    _probabilities,
)
from bayesirt.inference.fit import fit
from bayesirt.inference.io import fit_diagnostics

__all__ = ["audit", "audit_json", "dif_table"]

#: Probabilities are kept this far from 0 and 1 in the logarithms of the person-fit statistic.
_EDGE = 1e-12


def audit(
    idata,
    *,
    item_groups: str | None = None,
    subject_groups: str | None = None,
    alpha: float = 0.05,
    n_draws: int | None = 500,
    drivers: int = 5,
    random_seed: int = 0,
) -> dict[str, pd.DataFrame]:
    r"""Person fit of every subject, and with ``item_groups`` a contamination screen per
    subject and group (definitions in the module docstring).

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit of right/wrong answers made by :func:`bayesirt.fit`.
    item_groups : str, optional
        Item metadata column of the fitted responses whose values group the items (a
        benchmark, a category, "before"/"after" a date).
    subject_groups : str, optional
        Subject metadata column of the fitted responses (model family, open or closed
        weights): fit the DIF model (``model="2pl-dif"``, ``dif_by=subject_groups``) to the
        same responses, by NUTS until converged with seed ``random_seed``, and report its
        DIF (:func:`dif_table`; its convergence diagnostics in ``"dif_fit"``). This is a
        fit of its own: minutes on a large table. Not needed for a fit of the DIF model,
        whose effects are reported anyway.
    alpha : float in (0, 1)
        Flag a subject when its person-fit p-value is below ``alpha``, a group when its
        ``p_better`` is above ``1 - alpha``.
    n_draws : int or None
        Posterior draws used, one replication each (``None``: all).
    drivers : int
        Items named per subject as driving its person fit.
    random_seed : int
        Seed of the draws used and of the replications.

    Returns
    -------
    dict of str to pandas.DataFrame
        For a fit of the DIF model or with ``subject_groups``, also ``"items"`` and ``"dtf"``
        (:func:`dif_table`), and with ``subject_groups`` ``"dif_fit"``: the diagnostics of
        the DIF model's fit (one row).
        ``"subjects"``: one row per subject, worst fit first: ``person_fit`` (posterior mean
        :math:`l_z`), ``p_value``, ``flagged``, ``drivers`` (a list of ``(item, answer,
        P(correct))``), ``n_items``. With ``item_groups``, ``"groups"``: one row per subject
        and group: ``group``, ``n_items``, ``observed_right``, ``expected_right`` (posterior
        mean of :math:`\sum P`), ``p_better``, ``flagged``, ``person_fit``, ``p_value``.
    """
    check_probability("alpha", alpha)
    if int(drivers) != drivers or drivers < 0:
        raise ValueError(f"drivers must be a whole number >= 0, got {drivers!r}")
    observed = _observed(idata)  # refuses responses that are not right/wrong
    group_codes, group_labels = _groups(idata, item_groups, observed)
    rng = np.random.default_rng(random_seed)
    samples = _chosen_draws(idata.posterior, n_draws, rng)

    n_subjects = observed.n_subjects
    n_groups = len(group_labels)
    # units: each subject over all its items, then each (subject, group)
    units = [observed.subject_index]
    if n_groups:
        units.append(n_subjects + observed.subject_index * n_groups + group_codes)
    n_units = n_subjects * (1 + n_groups)
    y = observed.y
    lz_obs = np.empty((len(samples), n_units))
    lz_rep = np.empty_like(lz_obs)
    right_rep = np.empty_like(lz_obs)
    expected_right = np.zeros(n_units)
    surprise = np.zeros(len(y))
    mean_probability = np.zeros(len(y))
    for s, p in enumerate(_probabilities(idata, observed, samples, CHUNK_ELEMENTS)):
        p = np.clip(p, _EDGE, 1.0 - _EDGE)
        log_p, log_q = np.log(p), np.log1p(-p)
        entropy = -(p * log_p + (1 - p) * log_q)
        variance = p * (1 - p) * (log_p - log_q) ** 2
        y_rep = (rng.uniform(size=p.size) < p).astype(float)
        ll_obs = np.where(y == 1, log_p, log_q)
        ll_rep = np.where(y_rep == 1, log_p, log_q)
        surprise += -ll_obs - entropy
        mean_probability += p
        for codes in units:
            mean = -_sums(codes, entropy, n_units)
            sd = np.sqrt(_sums(codes, variance, n_units))
            with np.errstate(invalid="ignore", divide="ignore"):
                obs = (_sums(codes, ll_obs, n_units) - mean) / sd
                rep = (_sums(codes, ll_rep, n_units) - mean) / sd
            used = np.bincount(codes, minlength=n_units) > 0
            lz_obs[s, used] = obs[used]
            lz_rep[s, used] = rep[used]
            right_rep[s, used] = _sums(codes, y_rep, n_units)[used]
            expected_right[used] += _sums(codes, p, n_units)[used]
    surprise /= len(samples)
    mean_probability /= len(samples)
    expected_right /= len(samples)
    p_value = _mid_p(-lz_rep, -lz_obs)  # Pr(l_z(rep) < l_z(obs))
    person = np.nanmean(lz_obs, axis=0)

    counts = np.zeros(n_units, dtype=np.int64)
    right = np.zeros(n_units)
    for codes in units:
        counts += np.bincount(codes, minlength=n_units)
        right += _sums(codes, y, n_units)
    subjects = pd.DataFrame(
        {
            "subject": observed.subjects,
            "person_fit": person[:n_subjects],
            "p_value": p_value[:n_subjects],
            "flagged": p_value[:n_subjects] < alpha,
            "drivers": _drivers(observed, surprise, mean_probability, drivers),
            "n_items": counts[:n_subjects],
        }
    ).sort_values("person_fit", kind="stable", ignore_index=True)
    subjects.attrs["alpha"] = alpha
    out = {"subjects": subjects}
    dif_fit = idata if "dif" in idata.posterior else None
    if subject_groups is not None:
        dif_fit = fit(
            fitted_responses(idata),
            model="2pl-dif",
            dif_by=subject_groups,
            random_seed=random_seed,
            progressbar=False,
        )
        out["dif_fit"] = pd.DataFrame([fit_diagnostics(dif_fit)])
    if dif_fit is not None:
        out["items"], out["dtf"] = dif_table(dif_fit, alpha=alpha)
    if n_groups:
        better = _mid_p(np.broadcast_to(right, right_rep.shape), right_rep)  # Pr(T > T_rep)
        rows = slice(n_subjects, None)
        groups = pd.DataFrame(
            {
                "subject": np.repeat(observed.subjects, n_groups),
                "group": np.tile(group_labels, n_subjects),
                "n_items": counts[rows],
                "observed_right": right[rows],
                "expected_right": expected_right[rows],
                "p_better": better[rows],
                "flagged": better[rows] > 1 - alpha,
                "person_fit": person[rows],
                "p_value": p_value[rows],
            }
        )
        out["groups"] = groups[groups["n_items"] > 0].reset_index(drop=True)
    return out


def dif_table(idata, *, alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The DIF effects of a fit of the DIF model, one row per focal group and item (``group``,
    ``item``, ``dif``, ``dif_lo``, ``dif_hi``, ``p_two_sided``, ``flagged``, ``flagged_fdr``;
    largest effects first), and its differential test functioning per focal group
    (``group``, ``dtf``, ``dtf_lo``, ``dtf_hi``); definitions in the module docstring."""
    check_probability("alpha", alpha)
    posterior = idata.posterior
    if "dif" not in posterior:
        raise ValueError("the fit has no DIF effects; fit model='2pl-dif' with dif_by=")
    dif = posterior["dif"].stack(sample=("chain", "draw")).transpose("dif_group", "item", ...)
    draws = dif.values
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=-1)
    positive = (draws > 0).mean(axis=-1)
    p_two = 2 * np.minimum(positive, 1 - positive)
    flat = p_two.ravel()
    order = np.argsort(flat, kind="stable")
    passing = flat[order] <= alpha * np.arange(1, flat.size + 1) / flat.size
    fdr = np.zeros(flat.size, dtype=bool)
    if passing.any():
        fdr[order[: np.flatnonzero(passing).max() + 1]] = True
    groups = dif["dif_group"].values.astype(str)
    items = dif["item"].values.astype(str)
    table = pd.DataFrame(
        {
            "group": np.repeat(groups, len(items)),
            "item": np.tile(items, len(groups)),
            "dif": draws.mean(axis=-1).ravel(),
            "dif_lo": lo.ravel(),
            "dif_hi": hi.ravel(),
            "p_two_sided": flat,
            "flagged": ((lo > 0) | (hi < 0)).ravel(),
            "flagged_fdr": fdr,
        }
    )
    table = table.iloc[np.argsort(-np.abs(table["dif"].to_numpy()), kind="stable")]
    # DTF: the focal subjects' expected scores with and without their group's effects
    theta = posterior["theta"].stack(sample=("chain", "draw")).transpose("sample", ...).values
    a = posterior["a"].stack(sample=("chain", "draw")).transpose("sample", ...).values
    intercept = posterior["intercept"].stack(sample=("chain", "draw")).transpose("sample", ...)
    intercept = intercept.values
    codes = posterior["dif_code"].values[0, 0].astype(int)
    rows = []
    for g, label in enumerate(groups, start=1):
        logit = a[:, None, :] * theta[:, codes == g, None] + intercept[:, None, :]
        shift = draws[g - 1].T[:, None, :]  # sample, 1, item
        gap = (expit(logit + shift) - expit(logit)).mean(axis=(1, 2))
        low, high = np.quantile(gap, [alpha / 2, 1 - alpha / 2])
        rows.append({"group": label, "dtf": gap.mean(), "dtf_lo": low, "dtf_hi": high})
    return table.reset_index(drop=True), pd.DataFrame(rows)


def _sums(codes: np.ndarray, values: np.ndarray, n_units: int) -> np.ndarray:
    return np.bincount(codes, weights=values, minlength=n_units)


def _groups(idata, column: str | None, observed) -> tuple[np.ndarray, pd.Index]:
    """The group code of every observed answer and the group labels (none without
    ``column``)."""
    if column is None:
        return np.zeros(len(observed.y), dtype=np.int64), pd.Index([])
    responses = fitted_responses(idata)
    codes, labels = responses.item_groups(column)
    return np.asarray(codes, dtype=np.int64)[observed.item_index], pd.Index(labels).astype(str)


def _drivers(observed, surprise: np.ndarray, probability: np.ndarray, top: int) -> list[list]:
    """Per subject, its ``top`` most surprising answers: (item, answer, posterior mean
    P(correct))."""
    out: list[list] = [[] for _ in range(observed.n_subjects)]
    order = np.lexsort((-surprise, observed.subject_index))  # by subject, most surprising first
    starts = np.searchsorted(observed.subject_index[order], np.arange(observed.n_subjects + 1))
    for subject, (start, end) in enumerate(pairwise(starts)):
        out[subject] = [
            (
                str(observed.items[observed.item_index[row]]),
                int(observed.y[row]),
                float(probability[row]),
            )
            for row in order[start : min(start + top, end)]
        ]
    return out


def audit_json(result: dict[str, pd.DataFrame], *, groups: Sequence[str] | None = None) -> dict:
    """The audit as plain JSON values: ``{"subjects": [{"subject", "person_fit", "p_value",
    "flagged", "drivers": [{"item", "answer", "p_correct"}], "groups": [{"group", "n_items",
    "observed_right", "expected_right", "p_better", "flagged", "person_fit", "p_value"}]}],
    "items": [{"group", "item", "dif", "dif_lo", "dif_hi", "p_two_sided", "flagged",
    "flagged_fdr"}], "dtf": [{"group", "dtf", "dtf_lo", "dtf_hi"}], "dif_fit": {...}}`` (items
    and dtf for a fit of the DIF model or with ``subject_groups``, dif_fit with the latter;
    ``groups`` limits the groups listed)."""
    by_subject = {}
    if "groups" in result:
        table = result["groups"]
        if groups is not None:
            table = table[table["group"].isin(list(groups))]
        for subject, rows in table.groupby("subject", sort=False):
            by_subject[subject] = [
                {key: _plain(value) for key, value in row.items() if key != "subject"}
                for row in rows.to_dict("records")
            ]
    subjects = []
    for row in result["subjects"].to_dict("records"):
        record = {
            "subject": row["subject"],
            "person_fit": _plain(row["person_fit"]),
            "p_value": _plain(row["p_value"]),
            "flagged": bool(row["flagged"]),
            "n_items": int(row["n_items"]),
            "drivers": [
                {"item": item, "answer": answer, "p_correct": _plain(p)}
                for item, answer, p in row["drivers"]
            ],
        }
        if by_subject:
            record["groups"] = by_subject.get(row["subject"], [])
        subjects.append(record)
    out = {"subjects": subjects}
    if "dif_fit" in result:
        out["dif_fit"] = {k: _plain(v) for k, v in result["dif_fit"].iloc[0].items()}
    for key in ("items", "dtf"):
        if key in result:
            out[key] = [
                {name: _plain(value) for name, value in row.items()}
                for row in result[key].to_dict("records")
            ]
    return out


def _plain(value):
    """A table value as a plain JSON value (NaN and infinities as None)."""
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return json_number(value)
    return value
