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
solved). Evaluated in each draw, :math:`l_z` needs no correction for an estimated ability
(the reason for Snijders' :math:`l_z^*`): the draws carry the ability's uncertainty.
``person_fit`` is the posterior mean of the observed :math:`l_z`; ``drivers`` names the items
whose answers were most surprising, by the posterior mean of :math:`-\log p(y_i) - H(P_i)`
(the surprise of the answer beyond the entropy of the item's own answers).

Two p-values come with it. The posterior predictive mid-p (``ppp``),

.. math::

    p_{post} = \Pr\big(l_z(y^{rep}) < l_z(y)\big) + \tfrac12\Pr\big(l_z(y^{rep}) = l_z(y)\big)

over the draws, is conservative because the subject's own answers inform its ability: under
the model its null distribution piles up around 1/2 (on simulated leaderboards its deciles
ran from 0.21 to 0.80, and it flagged 1% of clean subjects at ``alpha = 0.05``;
``benchmarks/audit.py``). Subjects are therefore flagged by the **sampled posterior
p-value** (``p_value``; Johnson 2007, Gosselin 2011): one posterior draw
:math:`\tilde\vartheta` is taken per subject, and

.. math::

    p = \Pr\big(l_z(y^{rep}; \tilde\vartheta) < l_z(y; \tilde\vartheta)\big)
        + \tfrac12\Pr\big(l_z(y^{rep}; \tilde\vartheta) = l_z(y; \tilde\vartheta)\big),
    \qquad y^{rep} \sim p(y \mid \tilde\vartheta),

estimated from :data:`SAMPLED_REPLICATIONS` replications at that one draw. If the data come
from the model, a draw from the posterior is jointly with the data distributed as a draw
from the prior, so given :math:`\tilde\vartheta` the observed answers are one more
replication and :math:`p` is uniform: clean subjects are flagged at the nominal rate
``alpha``, not below it, which is what makes the check more powerful than the posterior
predictive p-value. The price is that :math:`p` depends on the draw, hence on
``random_seed``, for subjects near the threshold.

**Excess of surprising right answers.** A model that has seen some of the questions answers
them right whatever its ability. If a share :math:`\pi` of the items is answered so,
:math:`P(y_i = 1) = (1 - \pi) P_i + \pi`, and the score statistic of :math:`\pi` at
:math:`\pi = 0` (the locally most powerful test of that alternative) is

.. math::

    U = \sum_i \frac{y_i - P_i}{P_i}, \qquad \operatorname{Var}[U] = \sum_i \frac{1 - P_i}{P_i}.

Unlike :math:`l_z` it ignores surprising wrong answers and weighs each right answer by
:math:`1 / P_i`, so it looks for that signature only. ``excess`` is the posterior mean of
:math:`U / \sqrt{\operatorname{Var}[U]}`, ``p_excess`` the sampled posterior probability
:math:`\Pr(U(y^{rep}) < U(y)) + \tfrac12 \Pr(U(y^{rep}) = U(y))`, and ``flagged_excess``
where ``p_excess > 1 - alpha``.

**Contamination screen.** Per subject and item group :math:`g` (an item metadata column,
``item_groups``), the number right :math:`T = \sum_{i \in g} y_i` against its replications:
``p_better`` :math:`= \Pr(T(y^{rep}) < T(y)) + \tfrac12 \Pr(T(y^{rep}) = T(y))`, the
probability that the subject answers the group better than its ability (fitted to all of
its answers) predicts, as a sampled posterior p-value at the subject's draw (``ppp_better``:
the posterior predictive one). A group is flagged where ``p_better > 1 - alpha``; the
group's person fit (:math:`l_z` within the group, with ``p_value`` and ``ppp``) comes with
it. A model that saw one group has its ability pulled up by it, which would hide part of
the excess but for the projection below.

**Orthogonal to the ability.** Every sampled p-value (person fit, excess, the screen's
number right) is taken for the statistic with the part that moves with the subject's ability
removed: at the draw, :math:`l_z`'s :math:`\sum_i y_i \log(P_i / (1 - P_i))` becomes
:math:`\sum_i y_i w_i - c^\top \sum_i y_i r_i`, with :math:`r_i = \partial
\operatorname{logit} P_i / \partial \theta` the weights of the ability's score and
:math:`c` the regression of the statistic on that score under the replications (the
efficient score of Neyman's :math:`C(\alpha)` tests; Snijders' 2001 :math:`l_z^*` is the same
correction for a point estimate of the ability). A subject that answered hard questions it
had seen has its ability pulled up by them, which makes those answers look less surprising
and its easy answers look worse: the projection takes out exactly that shift, and the test
keeps its nominal rate, because the weights depend on the draw and not on the answers. On
simulated 2PL leaderboards (``benchmarks/audit.py``) it raised the share of plantings of 60
hard right answers found by person fit from 75% to 85% and by the excess from 40% to 85%;
on 40 null leaderboards it flagged 5.9% and 4.5% of the subjects (the plain statistics 4.7%
and 4.1% on 20): data from the model's own prior give uniform p-values, the simulator's
leaderboards are not quite that.

**Differential item functioning.** A fit of the DIF model (:mod:`bayesirt.models.dif`,
``model="2pl-dif"``, ``dif_by=`` a subject metadata column) holds each focal group's effect
:math:`\delta_{g,i}` of every item at equal ability. The audit reports its posterior mean and
central ``1 - alpha`` interval (and, for a fit with ``dif_slopes``, the same for the log
ratio :math:`\lambda_{g,i}` of the group's slope to the reference group's, columns
``dif_slope...`` and ``slope_...``); ``flagged`` where the interval excludes 0 (per item, at the
nominal rate ``alpha`` for items without DIF), and ``flagged_fdr`` by the Benjamini–Hochberg
rule at level ``alpha`` over all items and focal groups, applied to the two-sided posterior
tail probabilities :math:`2\min(\Pr(\delta > 0), \Pr(\delta < 0))` (multiplicity-aware, and
conservative; both measured in ``benchmarks/audit.py``). Differential test functioning
(``dtf``): per focal group, the difference its subjects' expected scores on the whole
benchmark would show if the items functioned for them as for the reference group,
:math:`\frac{1}{N_g}\sum_{j \in g}\frac{1}{I}\sum_i [\sigma(a_i e^{\lambda_{g,i}}\theta_j +
\alpha_i + \delta_{g,i}) - \sigma(a_i\theta_j + \alpha_i)]` (:math:`\lambda = 0` without
slopes), with its interval. The effects sum to zero
over the items (a shift of every item for a group cannot be told from a difference of
ability), so the DTF is the part of the score gap that the items' differences make beyond
such a shift, small unless the effects fall on items that the group finds hard or easy.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import expit

from bayesirt._json import json_number
from bayesirt._validate import check_probability
from bayesirt.analysis.posterior import CHUNK_ELEMENTS, fitted_responses
from bayesirt.analysis.ppc import (
    _NO_MODEL,
    _chosen_draws,
    _draw_subset,
    _mid_p,
    _observed,
    _probabilities,
)
from bayesirt.inference.fit import fit
from bayesirt.inference.io import fit_diagnostics, fitted_model_class

__all__ = ["audit", "audit_json", "dif_table"]

#: Probabilities are kept this far from 0 and 1 in the logarithms of the person-fit statistic.
_EDGE = 1e-12
#: Replications at each subject's draw behind its sampled posterior p-values.
SAMPLED_REPLICATIONS = 1000
#: Half-step in ability of the central differences behind the ability's score weights.
_ABILITY_STEP = 1e-3


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
        Flag a subject when its person-fit p-value (sampled posterior) is below ``alpha``, a
        group when its ``p_better`` is above ``1 - alpha``.
    n_draws : int or None
        Posterior draws used, one replication each (``None``: all), for the posterior
        predictive p-values, ``person_fit`` and the drivers; each subject's draw for its
        sampled p-values is one of them.
    drivers : int
        Items named per subject as driving its person fit.
    random_seed : int
        Seed of the draws used, of each subject's draw and of the replications.

    Returns
    -------
    dict of str to pandas.DataFrame
        For a fit of the DIF model or with ``subject_groups``, also ``"items"`` and ``"dtf"``
        (:func:`dif_table`), and with ``subject_groups`` ``"dif_fit"``: the diagnostics of
        the DIF model's fit (one row).
        ``"subjects"``: one row per subject, worst fit first: ``person_fit`` (posterior mean
        :math:`l_z`), ``p_value`` (sampled posterior), ``ppp`` (posterior predictive),
        ``flagged``, ``excess``, ``p_excess``, ``flagged_excess`` (surprising right answers),
        ``drivers`` (a list of ``(item, answer, P(correct))``), ``n_items``.
        With ``item_groups``, ``"groups"``: one row per subject and group: ``group``,
        ``n_items``, ``observed_right``, ``expected_right`` (posterior mean of
        :math:`\sum P`), ``p_better``, ``ppp_better``, ``flagged``, ``person_fit``,
        ``p_value``, ``ppp``, ``suspects`` (up to ``drivers`` of the group's right answers
        that the model found least likely, the items most likely seen, as ``(item, 1,
        P(correct))``).
    """
    check_probability("alpha", alpha)
    if int(drivers) != drivers or drivers < 0:
        raise ValueError(f"drivers must be a whole number >= 0, got {drivers!r}")
    observed = _observed(idata)  # refuses responses that are not right/wrong
    group_codes, group_labels = _groups(idata, item_groups, observed)
    rng = np.random.default_rng(random_seed)
    samples = _chosen_draws(idata.posterior, n_draws, rng)
    own_draw = rng.integers(len(samples), size=observed.n_subjects)[observed.subject_index]
    p_own, scores = _at_own_draws(idata, observed, samples, own_draw)

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
    excess = np.zeros(n_subjects)
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
        with np.errstate(invalid="ignore", divide="ignore"):
            excess += _sums(units[0], (y - p) / p, n_subjects) / np.sqrt(
                _sums(units[0], (1 - p) / p, n_subjects)
            )
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
    excess /= len(samples)
    mean_probability /= len(samples)
    expected_right /= len(samples)
    ppp = _mid_p(-lz_rep, -lz_obs)  # Pr(l_z(rep) < l_z(obs))
    person = np.nanmean(lz_obs, axis=0)
    unit_subject = np.arange(n_subjects)
    if n_groups:
        unit_subject = np.concatenate([unit_subject, np.repeat(unit_subject, n_groups)])
    sampled = _sampled_p_values(p_own, scores, y, units, unit_subject, rng)
    p_value, p_better = sampled["fit"], sampled["right"]

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
            "ppp": ppp[:n_subjects],
            "flagged": p_value[:n_subjects] < alpha,
            "excess": excess,
            "p_excess": sampled["excess"][:n_subjects],
            "flagged_excess": sampled["excess"][:n_subjects] > 1 - alpha,
            "drivers": _drivers(
                observed, units[0], n_subjects, surprise, mean_probability, drivers
            ),
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
        ppp_better = _mid_p(np.broadcast_to(right, right_rep.shape), right_rep)  # Pr(T > T_rep)
        rows = slice(n_subjects, None)
        groups = pd.DataFrame(
            {
                "subject": np.repeat(observed.subjects, n_groups),
                "group": np.tile(group_labels, n_subjects),
                "n_items": counts[rows],
                "observed_right": right[rows],
                "expected_right": expected_right[rows],
                "p_better": p_better[rows],
                "ppp_better": ppp_better[rows],
                "flagged": p_better[rows] > 1 - alpha,
                "person_fit": person[rows],
                "p_value": p_value[rows],
                "ppp": ppp[rows],
                "suspects": _drivers(
                    observed,
                    units[1] - n_subjects,
                    n_subjects * n_groups,
                    -mean_probability,
                    mean_probability,
                    drivers,
                    keep=y == 1,
                ),
            }
        )
        out["groups"] = groups[groups["n_items"] > 0].reset_index(drop=True)
    return out


def dif_table(idata, *, alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The DIF effects of a fit of the DIF model, one row per focal group and item (``group``,
    ``item``, ``dif``, ``dif_lo``, ``dif_hi``, ``p_two_sided``, ``flagged``, ``flagged_fdr``,
    and for a fit with ``dif_slopes`` the same for the slopes' log ratio: ``dif_slope``,
    ``dif_slope_lo``, ``dif_slope_hi``, ``slope_p_two_sided``, ``slope_flagged``,
    ``slope_flagged_fdr``; largest intercept effects first), and its differential test
    functioning per focal group (``group``, ``dtf``, ``dtf_lo``, ``dtf_hi``); definitions in
    the module docstring."""
    check_probability("alpha", alpha)
    posterior = idata.posterior
    if "dif" not in posterior:
        raise ValueError("the fit has no DIF effects; fit model='2pl-dif' with dif_by=")
    effects = {"dif": ""} | ({"dif_slope": "slope_"} if "dif_slope" in posterior else {})
    draws = {
        name: posterior[name].stack(sample=("chain", "draw")).transpose("dif_group", "item", ...)
        for name in effects
    }
    groups = draws["dif"]["dif_group"].values.astype(str)
    items = draws["dif"]["item"].values.astype(str)
    columns = {"group": np.repeat(groups, len(items)), "item": np.tile(items, len(groups))}
    for name, prefix in effects.items():
        columns |= _effect_columns(draws[name].values, name, prefix, alpha)
    table = pd.DataFrame(columns)
    table = table.iloc[np.argsort(-np.abs(table["dif"].to_numpy()), kind="stable")]
    # DTF: the focal subjects' expected scores with and without their group's effects
    theta, a, intercept = (
        posterior[name].stack(sample=("chain", "draw")).transpose("sample", ...).values
        for name in ("theta", "a", "intercept")
    )
    codes = posterior["dif_code"].values[0, 0].astype(int)
    rows = []
    for g, label in enumerate(groups, start=1):
        logit = a[:, None, :] * theta[:, codes == g, None] + intercept[:, None, :]
        slope = a
        if "dif_slope" in draws:
            slope = a * np.exp(draws["dif_slope"].values[g - 1].T)
        shifted = slope[:, None, :] * theta[:, codes == g, None] + intercept[:, None, :]
        shifted += draws["dif"].values[g - 1].T[:, None, :]  # sample, 1, item
        gap = (expit(shifted) - expit(logit)).mean(axis=(1, 2))
        low, high = np.quantile(gap, [alpha / 2, 1 - alpha / 2])
        rows.append({"group": label, "dtf": gap.mean(), "dtf_lo": low, "dtf_hi": high})
    return table.reset_index(drop=True), pd.DataFrame(rows)


def _effect_columns(draws: np.ndarray, name: str, prefix: str, alpha: float) -> dict:
    """Posterior mean, central interval, two-sided tail probability and both flags of every
    (focal group, item) effect in ``draws`` (group, item, sample)."""
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=-1)
    positive = (draws > 0).mean(axis=-1)
    p_two = (2 * np.minimum(positive, 1 - positive)).ravel()
    order = np.argsort(p_two, kind="stable")
    passing = p_two[order] <= alpha * np.arange(1, p_two.size + 1) / p_two.size
    fdr = np.zeros(p_two.size, dtype=bool)
    if passing.any():
        fdr[order[: np.flatnonzero(passing).max() + 1]] = True
    return {
        name: draws.mean(axis=-1).ravel(),
        f"{name}_lo": lo.ravel(),
        f"{name}_hi": hi.ravel(),
        f"{prefix}p_two_sided": p_two,
        f"{prefix}flagged": ((lo > 0) | (hi < 0)).ravel(),
        f"{prefix}flagged_fdr": fdr,
    }


def _at_own_draws(
    idata, observed, samples: np.ndarray, own_draw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""Per answer, at its subject's own draw (``own_draw``: an index into ``samples``):
    :math:`P_i` and the weights :math:`r_{ik} = \partial \operatorname{logit} P_i / \partial
    \theta_{jk}` of the ability's score :math:`\sum_i (y_i - P_i) r_{ik}`, one column per
    ability dimension (central differences; none for a model without ``theta``)."""
    model_cls = fitted_model_class(idata, missing=_NO_MODEL)
    posterior = idata.posterior
    n_dims = 0
    if "theta" in posterior:
        n_dims = int(np.prod([posterior.sizes[d] for d in posterior["theta"].dims[3:]], dtype=int))
    p = np.empty(len(observed.y))
    scores = np.zeros((len(observed.y), n_dims))
    for s in np.unique(own_draw):
        rows = own_draw == s
        block = _draw_subset(posterior, samples[[s]])
        pairs = (observed.subject_index[rows], observed.item_index[rows])
        prob = np.asarray(model_cls.observation_probability(block, *pairs), float)[0, 0]
        p[rows] = np.clip(prob, _EDGE, 1.0 - _EDGE)
        if not n_dims:
            continue
        theta = block["theta"]
        flat = theta.values.reshape(*theta.shape[:3], n_dims)
        for k in range(n_dims):
            logits = []
            for sign in (1.0, -1.0):
                moved = flat.copy()
                moved[..., k] += sign * _ABILITY_STEP
                shifted = block.assign(theta=(theta.dims, moved.reshape(theta.shape)))
                prob = np.asarray(model_cls.observation_probability(shifted, *pairs), float)
                prob = np.clip(prob[0, 0], _EDGE, 1.0 - _EDGE)
                logits.append(np.log(prob) - np.log1p(-prob))
            scores[rows, k] = (logits[0] - logits[1]) / (2 * _ABILITY_STEP)
    return p, scores


def _sampled_p_values(
    p: np.ndarray,
    scores: np.ndarray,
    y: np.ndarray,
    units: list[np.ndarray],
    unit_subject: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    r"""Sampled posterior p-values of every unit (a subject, or a subject and item group),
    :math:`\Pr(S(y^{rep}) < S(y)) + \tfrac12 \Pr(S(y^{rep}) = S(y))` from
    :data:`SAMPLED_REPLICATIONS` replications :math:`y^{rep} \sim \text{Bernoulli}(p)`, where
    ``p`` and ``scores`` (:math:`r_{ik}`, :func:`_at_own_draws`) hold each answer's
    probability and ability-score weights at its subject's own draw.

    Each statistic is a sum :math:`T_u = \sum_{i \in u} y_i w_i` over the unit's answers, made
    orthogonal to the ability's score :math:`A_j = \sum_{i \in j} y_i r_i` over all the
    answers of the unit's subject :math:`j`:

    .. math::

        S_u = T_u - c_u^\top A_j, \qquad
        c_u = \Big(\sum_{i \in j} P_i Q_i r_i r_i^\top\Big)^{-1}
              \sum_{i \in u} P_i Q_i w_i r_i,

    so that :math:`\operatorname{Cov}(S_u, A_j) = 0` under the replications (Neyman's
    efficient score; Snijders' 2001 correction of :math:`l_z` for an estimated ability is the
    same projection). A subject whose answers pulled its ability up or down moves
    :math:`A_j` and not :math:`S_u`, so the part of the departure that the ability absorbed
    no longer dilutes the test. The weights: ``"fit"``, :math:`w_i = \log(P_i / (1 -
    P_i))` (at one draw :math:`l_z` is an increasing function of :math:`T`, since :math:`l =
    \sum_i y_i w_i + \sum_i \log(1 - P_i)`); ``"right"``, :math:`w_i = 1` (the number
    right); ``"excess"``, :math:`w_i = 1 / P_i` (the memorisation score less a constant). The
    weights depend on the draw only, not on the answers, so every p-value stays uniform for
    answers from the model. Sparse products over blocks of replications give them for every
    unit."""
    n_obs = len(y)
    n_units, n_subjects = len(unit_subject), int(unit_subject.max()) + 1
    columns = np.arange(n_obs)
    membership = sum(
        sparse.csr_matrix((np.ones(n_obs), (codes, columns)), shape=(n_units, n_obs))
        for codes in units
    )
    subject_of = membership[:n_subjects]  # the first units are the subjects over all answers
    n_dims = scores.shape[1]
    pq = p * (1.0 - p)
    outer = pq[:, None, None] * scores[:, :, None] * scores[:, None, :]
    information = (subject_of @ outer.reshape(n_obs, -1)).reshape(n_subjects, n_dims, n_dims)
    inverse = np.linalg.pinv(information)[unit_subject]
    weights = {"fit": np.log(p) - np.log1p(-p), "right": np.ones(n_obs), "excess": 1.0 / p}
    projection = {  # c_u, (unit, dimension)
        name: np.einsum("ukl,ul->uk", inverse, membership @ ((pq * w)[:, None] * scores))
        for name, w in weights.items()
    }

    def statistics(answers: np.ndarray) -> dict[str, np.ndarray]:
        """:math:`S_u` of every unit (rows) for each column of answers (n_obs, R)."""
        ability = np.empty((n_subjects, n_dims, answers.shape[1]))
        for k in range(n_dims):
            ability[:, k] = subject_of @ (answers * scores[:, k, None])
        ability = ability[unit_subject]  # A_j of every unit: unit, dimension, replication
        return {
            name: membership @ (answers * w[:, None])
            - np.einsum("uk,ukr->ur", projection[name], ability)
            for name, w in weights.items()
        }

    observed = statistics(y[:, None])
    below = {name: np.zeros(n_units) for name in weights}
    block = max(1, min(SAMPLED_REPLICATIONS, CHUNK_ELEMENTS // max(n_obs, 1)))
    for start in range(0, SAMPLED_REPLICATIONS, block):
        y_rep = rng.uniform(size=(n_obs, min(block, SAMPLED_REPLICATIONS - start)))
        replicated = statistics((y_rep < p[:, None]).astype(float))
        for name, rep in replicated.items():
            obs = observed[name]
            below[name] += (rep < obs).sum(axis=1) + 0.5 * (rep == obs).sum(axis=1)
    answered = np.diff(membership.indptr) > 0
    return {
        name: np.where(answered, count / SAMPLED_REPLICATIONS, np.nan)
        for name, count in below.items()
    }


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


def _drivers(
    observed,
    codes: np.ndarray,
    n_units: int,
    score: np.ndarray,
    probability: np.ndarray,
    top: int,
    keep: np.ndarray | None = None,
) -> list[list]:
    """Per unit (``codes`` of every answer), the ``top`` answers of highest ``score`` among
    those in ``keep`` (default all): (item, answer, posterior mean P(correct))."""
    rows = np.flatnonzero(keep) if keep is not None else np.arange(len(codes))
    order = rows[np.lexsort((-score[rows], codes[rows]))]  # by unit, highest score first
    starts = np.searchsorted(codes[order], np.arange(n_units + 1))
    return [
        [
            (
                str(observed.items[observed.item_index[row]]),
                int(observed.y[row]),
                float(probability[row]),
            )
            for row in order[start : min(start + top, end)]
        ]
        for start, end in pairwise(starts)
    ]


def audit_json(result: dict[str, pd.DataFrame], *, groups: Sequence[str] | None = None) -> dict:
    """The audit as plain JSON values: ``{"subjects": [{"subject", "person_fit", "p_value",
    "ppp", "flagged", "excess", "p_excess", "flagged_excess", "drivers": [{"item", "answer",
    "p_correct"}], "groups": [{"group", "n_items", "observed_right", "expected_right",
    "p_better", "ppp_better", "flagged", "person_fit", "p_value", "ppp", "suspects": [{"item",
    "answer", "p_correct"}]}]}],
    "items": [{"group", "item", "dif", "dif_lo", "dif_hi", "p_two_sided", "flagged",
    "flagged_fdr"}], "dtf": [{"group", "dtf", "dtf_lo", "dtf_hi"}], "dif_fit": {...}}`` (items
    and dtf for a fit of the DIF model or with ``subject_groups``, with the slope columns of
    :func:`dif_table` for a fit with ``dif_slopes``; dif_fit with ``subject_groups``;
    ``groups`` limits the groups listed)."""
    by_subject = {}
    if "groups" in result:
        table = result["groups"]
        if groups is not None:
            table = table[table["group"].isin(list(groups))]
        for subject, rows in table.groupby("subject", sort=False):
            by_subject[subject] = [
                {
                    key: _answers(value) if key == "suspects" else _plain(value)
                    for key, value in row.items()
                    if key != "subject"
                }
                for row in rows.to_dict("records")
            ]
    subjects = []
    for row in result["subjects"].to_dict("records"):
        record = {
            "subject": row["subject"],
            "person_fit": _plain(row["person_fit"]),
            "p_value": _plain(row["p_value"]),
            "ppp": _plain(row["ppp"]),
            "flagged": bool(row["flagged"]),
            "excess": _plain(row["excess"]),
            "p_excess": _plain(row["p_excess"]),
            "flagged_excess": bool(row["flagged_excess"]),
            "n_items": int(row["n_items"]),
            "drivers": _answers(row["drivers"]),
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


def _answers(rows: list) -> list[dict]:
    """``(item, answer, P(correct))`` triples as JSON records."""
    return [{"item": item, "answer": answer, "p_correct": _plain(p)} for item, answer, p in rows]


def _plain(value):
    """A table value as a plain JSON value (NaN and infinities as None)."""
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return json_number(value)
    return value
