r"""Computerised adaptive testing of new models against a fitted item bank.

An adaptive test asks a new subject one item at a time, each chosen from the answers so far,
and stops once the ability is known well enough. It is assembled from four pieces, as in
catsim:

* an **initializer** sets the starting ability posterior (:class:`PriorInitializer`: the
  fit's :math:`N(0, 1)` prior);
* a **selector** picks the next item (:class:`FisherSelector`: maximum Fisher information at
  the current estimate; :class:`VarianceSelector`: minimum expected posterior variance with
  the item parameters integrated over their posterior; :class:`RandomSelector`;
  :class:`FixedSelector`: a fixed test in a given order, for comparisons);
* an **estimator** updates the posterior with the answer (:class:`QuadratureEstimator`);
* a **stopper** ends the test (:class:`SdOrBudgetStopper`: posterior sd target or a number of
  items; :class:`DecisionStopper`: a decision "beats fitted subject X or not" reached with the
  set certainty; :class:`RankWidthStopper`: the rank interval among the fitted subjects is
  narrow enough).

:class:`ContentBalance` restricts each choice to the item category furthest below its share
(Kingsbury & Zara 1989), whatever the selector. A live test driven one answer at a time by
the caller, with exposure control across tests, is :class:`bayesirt.tinybench.live.AdaptiveTest`.

The posterior is the *cut* posterior of :func:`bayesirt.analysis.score_new`, held on a fixed
grid of abilities :math:`\theta_q` for :math:`S` draws :math:`\psi^{(s)}` of the item
parameters: after answers :math:`y_O`,

.. math::

    p(\theta_q \mid y_O) = \frac{1}{S} \sum_{s=1}^{S} \pi_{sq}, \qquad
    \pi_{sq} = \frac{\phi(\theta_q) \prod_{i \in O} p(y_i \mid \theta_q, \psi_i^{(s)})}
    {\sum_{q'} \phi(\theta_{q'}) \prod_{i \in O} p(y_i \mid \theta_{q'}, \psi_i^{(s)})},

a mixture over the item-parameter draws of the posteriors given each draw. The state of a
test is :math:`\log` of the unnormalised :math:`\pi_{sq}`, of shape (subjects, S, Q).
:func:`simulate_adaptive_test` runs tests for simulated or recorded subjects.

Every quantity reported is a function :math:`g(\theta_q, s)` averaged with the weights
:math:`w_{sq} = \pi_{sq} / S`, the draws :math:`s` of the bank carrying the fitted subjects'
abilities :math:`\theta_j^{(s)}` of the same joint draws: the **score** (expected accuracy on
the bank, :math:`g = \frac{1}{N}\sum_i P_i(\theta_q; \psi_i^{(s)})`), the **rank** among the
fitted subjects (:math:`g = 1 + \#\{j : \theta_j^{(s)} > \theta_q\}`) and the probability
of **beating** fitted subject :math:`j` (:math:`g = 1[\theta_q > \theta_j^{(s)}]`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np
import pandas as pd
from scipy.special import log_softmax, softmax

from bayesirt._validate import check_probability, check_whole
from bayesirt.analysis.posterior import CHUNK_ELEMENTS, posterior_draws
from bayesirt.data import Responses
from bayesirt.data.validation import describe_values
from bayesirt.irt import finite_item_information, icc, log_likelihood, quadrature

__all__ = [
    "SELECTORS",
    "AdaptiveTestResult",
    "ContentBalance",
    "DecisionStopper",
    "FisherSelector",
    "FixedSelector",
    "Initializer",
    "ItemBank",
    "PriorInitializer",
    "QuadratureEstimator",
    "RandomSelector",
    "RankWidthStopper",
    "SdOrBudgetStopper",
    "Selector",
    "Stopper",
    "UpdateRule",
    "VarianceSelector",
    "posterior_summary",
    "simulate_adaptive_test",
]


@dataclass(frozen=True)
class ItemBank:
    """Item-parameter draws and the ability grid an adaptive test works with.

    Attributes
    ----------
    items : pandas.Index
        Item labels.
    a, b, c, d : numpy.ndarray, shape (S, n_items)
        Posterior draws of the item parameters.
    nodes : numpy.ndarray, shape (Q,)
        Ability grid.
    log_prior : numpy.ndarray, shape (Q,)
        Normalised :math:`N(0, 1)` log weights of the nodes.
    subjects : pandas.Index
        The fitted subjects (empty for a bank without them).
    theta : numpy.ndarray, shape (S, n_subjects)
        Their abilities in the same joint draws as the item parameters.
    """

    items: pd.Index
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray
    nodes: np.ndarray
    log_prior: np.ndarray
    subjects: pd.Index = field(default_factory=lambda: pd.Index([], dtype=str))
    theta: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))

    @classmethod
    def from_idata(
        cls,
        idata,
        *,
        items: Sequence | None = None,
        n_draws: int = 100,
        n_nodes: int = 81,
        bounds: tuple[float, float] = (-5.0, 5.0),
    ) -> ItemBank:
        """The bank of a fit: ``n_draws`` evenly spaced stacked draws, ``n_nodes`` nodes.

        ``items`` restricts the bank to some of the fitted items (default: all).
        """
        draws = posterior_draws(idata)
        rows = np.unique(np.linspace(0, draws.n_samples - 1, n_draws).round().astype(int))
        cols = np.arange(len(draws.items))
        if items is not None:
            cols = draws.items.get_indexer(pd.Index([str(i) for i in items]))
            if np.any(cols < 0):
                raise ValueError(
                    "item label(s) not in the fitted model: "
                    f"{describe_values(pd.Index(items)[cols < 0])}"
                )
        nodes, log_prior = quadrature(n_nodes, bounds)
        params = {k: getattr(draws, k)[np.ix_(rows, cols)] for k in ("a", "b", "c", "d")}
        return cls(
            items=draws.items[cols],
            nodes=nodes,
            log_prior=log_prior,
            subjects=draws.subjects,
            theta=draws.theta[rows],
            **params,
        )

    @property
    def n_items(self) -> int:
        return len(self.items)

    @cached_property
    def mean_params(self) -> tuple[np.ndarray, ...]:
        """Posterior mean ``(a, b, c, d)`` of each item."""
        return tuple(p.mean(axis=0) for p in (self.a, self.b, self.c, self.d))

    @cached_property
    def log_curves(self) -> np.ndarray:
        """:math:`\\log p(y \\mid \\theta_q, \\psi_i^{(s)})` for y = 0, 1: (2, S, Q, n_items)."""
        params = [p[:, None, :] for p in (self.a, self.b, self.c, self.d)]
        nodes = self.nodes[None, :, None]
        return np.stack([log_likelihood(y, nodes, *params) for y in (0, 1)])

    def log_likelihood(self, item: np.ndarray, response: np.ndarray) -> np.ndarray:
        """:math:`\\log p(y \\mid \\theta_q, \\psi^{(s)})` of one answer per subject, (n, S, Q)."""
        params = [p[:, item].T[:, :, None] for p in (self.a, self.b, self.c, self.d)]
        return log_likelihood(response[:, None, None], self.nodes[None, None, :], *params)

    def moments(self, log_post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sd of the mixture posterior of each subject."""
        mix = mixture(log_post)
        mean = mix @ self.nodes
        var = mix @ self.nodes**2 - mean**2
        return mean, np.sqrt(np.maximum(var, 0.0))

    @cached_property
    def expected_score(self) -> np.ndarray:
        r""":math:`\frac{1}{N}\sum_i P_i(\theta_q; \psi_i^{(s)})`, the expected accuracy on
        the bank at each draw and node, (S, Q)."""
        out = np.empty((len(self.a), len(self.nodes)))
        step = max(1, CHUNK_ELEMENTS // max(len(self.nodes) * self.n_items, 1))
        for start in range(0, len(self.a), step):
            rows = slice(start, start + step)
            params = [p[rows, None, :] for p in (self.a, self.b, self.c, self.d)]
            out[rows] = icc(self.nodes[None, :, None], *params).mean(axis=2)
        return out

    @cached_property
    def rank_grid(self) -> np.ndarray:
        r"""Rank among the fitted subjects of a new subject at node q in draw s,
        :math:`1 + \#\{j : \theta_j^{(s)} > \theta_q\}`, (S, Q)."""
        ordered = np.sort(self.theta, axis=1)
        above = [len(row) - np.searchsorted(row, self.nodes, side="right") for row in ordered]
        return 1 + np.asarray(above, dtype=np.int64).reshape(len(self.a), len(self.nodes))

    def subject_code(self, subject: str) -> int:
        """Column of a fitted subject in :attr:`theta`; :class:`ValueError` naming it if the
        bank has no such subject."""
        code = self.subjects.get_indexer([str(subject)])[0]
        if code < 0:
            raise ValueError(
                f"subject {subject!r} is not in the fit; fitted subjects: "
                f"{describe_values(self.subjects) or 'none'}"
            )
        return int(code)

    def p_beats(self, log_post: np.ndarray, subject: str) -> np.ndarray:
        r"""Posterior probability that each tested subject's ability exceeds fitted
        ``subject``'s, :math:`\sum_{s,q} w_{sq} 1[\theta_q > \theta_j^{(s)}]`, (n,)."""
        above = self.nodes[None, :] > self.theta[:, [self.subject_code(subject)]]
        return np.einsum("nsq,sq->n", _weights(log_post), above)

    def quantiles(self, log_post: np.ndarray, values: np.ndarray, probs) -> np.ndarray:
        r"""Quantiles ``probs`` of :math:`g(\theta_q, s)` = ``values`` (S, Q) under each
        test's posterior weights, (n, len(probs)): the smallest value whose cumulative
        weight reaches each probability."""
        order = np.argsort(values, axis=None, kind="stable")
        cumulative = np.cumsum(_weights(log_post).reshape(len(log_post), -1)[:, order], axis=1)
        probs = np.asarray(probs, dtype=float)
        at = (cumulative[:, :, None] < probs[None, None, :] - 1e-12).sum(axis=1)
        return values.ravel()[order][np.minimum(at, order.size - 1)]


def mixture(log_post: np.ndarray) -> np.ndarray:
    """Mixture over draws of the per-draw normalised posteriors, (n, S, Q) → (n, Q)."""
    return softmax(log_post, axis=-1).mean(axis=1)


def _weights(log_post: np.ndarray) -> np.ndarray:
    r"""The weights :math:`w_{sq} = \pi_{sq} / S` of every test, (n, S, Q)."""
    return softmax(log_post, axis=-1) / log_post.shape[1]


class Initializer(Protocol):
    """Starting state of ``n`` tests: log posterior of shape (n, S, Q)."""

    def __call__(self, bank: ItemBank, n: int) -> np.ndarray: ...


class Selector(Protocol):
    """Next item of each test: ``available`` (n, n_items) marks the items it may still give."""

    def __call__(
        self,
        bank: ItemBank,
        log_post: np.ndarray,
        available: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray: ...


class UpdateRule(Protocol):
    """The posterior after one more answer per test (the catsim *estimator*)."""

    def __call__(
        self, bank: ItemBank, log_post: np.ndarray, item: np.ndarray, response: np.ndarray
    ) -> np.ndarray: ...


class Stopper(Protocol):
    """Why each test ends now (a short reason) or ``""`` to go on, from its posterior
    ``log_post`` (n, S, Q) and the number of items given so far (n,)."""

    def __call__(self, bank: ItemBank, log_post: np.ndarray, n_items: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class PriorInitializer:
    """Start every test from the prior :math:`\\theta \\sim N(0, 1)` (same for all draws)."""

    def __call__(self, bank: ItemBank, n: int) -> np.ndarray:
        shape = (n, len(bank.a), len(bank.nodes))
        return np.broadcast_to(bank.log_prior, shape).copy()


@dataclass(frozen=True)
class QuadratureEstimator:
    """Bayes' rule on the grid, draw by draw: add :math:`\\log p(y \\mid \\theta_q, \\psi_s)`."""

    def __call__(
        self, bank: ItemBank, log_post: np.ndarray, item: np.ndarray, response: np.ndarray
    ) -> np.ndarray:
        return log_post + bank.log_likelihood(item, response)


def _plugin_information(bank: ItemBank, log_post: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Fisher information of every item at each subject's posterior mean ability, with the
    posterior mean item parameters plugged in; ``-inf`` for the items no longer available."""
    mean, _ = bank.moments(log_post)
    info = finite_item_information(mean[:, None], *(p[None, :] for p in bank.mean_params))
    return np.where(available, info, -np.inf)


@dataclass(frozen=True)
class FisherSelector:
    r"""Maximum Fisher information at the current estimate (classic CAT).

    Picks :math:`\arg\max_i I_i(\hat\theta; \bar\psi_i)` over the available items, with
    :math:`\hat\theta` the posterior mean and :math:`\bar\psi_i` the posterior mean item
    parameters: the item parameters are plugged in.
    """

    def __call__(
        self,
        bank: ItemBank,
        log_post: np.ndarray,
        available: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        return _plugin_information(bank, log_post, available).argmax(axis=1)


@dataclass(frozen=True)
class VarianceSelector:
    r"""Minimum expected posterior variance, item-parameter uncertainty integrated.

    For a candidate item :math:`i` and an answer :math:`y`, with :math:`\pi_{sq}` the current
    per-draw posteriors (normalised), the per-draw posteriors after the answer and its
    predictive probability are

    .. math::

        \pi'_{sq}(y) = \frac{\pi_{sq}\, p(y \mid \theta_q, \psi_i^{(s)})}{Z_s(y)}, \qquad
        Z_s(y) = \sum_q \pi_{sq}\, p(y \mid \theta_q, \psi_i^{(s)}), \qquad
        p_i(y) = \frac{1}{S}\sum_s Z_s(y),

    and the variance of the (cut, mixture) posterior after it is
    :math:`V_i(y) = \frac{1}{S}\sum_s E'_s[\theta^2] - \big(\frac{1}{S}\sum_s
    E'_s[\theta]\big)^2`. The item chosen minimises :math:`p_i(1) V_i(1) + p_i(0) V_i(0)`,
    the expected posterior variance after its answer: an item whose parameters are uncertain
    is worth less than its plug-in information suggests. Everything is computed in log space,
    so an answer that one draw makes all but impossible still gets that draw's exact
    posterior, as :class:`QuadratureEstimator` would compute it.

    With ``beats`` (a fitted subject :math:`X`) the variance minimised is that of the
    indicator :math:`g_{sq} = 1[\theta_q > \theta_X^{(s)}]` instead of :math:`\theta`,
    :math:`V_i(y) = P'(y)(1 - P'(y))` with :math:`P'(y)` the probability of beating
    :math:`X` after the answer: the items that best settle the decision of
    :class:`DecisionStopper`, which lie between the current estimate and :math:`X` rather
    than at the estimate. (The expected probability of a wrong decision,
    :math:`\min(P', 1 - P')`, cannot serve: it does not change in expectation until one
    answer can cross 1/2.)

    Two economies keep the cost per step independent of the bank's size: the criterion is
    evaluated on a shortlist, the ``n_candidates`` available items with the largest plug-in
    Fisher information at the current posterior mean (plus that at :math:`X`'s posterior
    mean, with ``beats``), and averaged over at most ``max_draws`` evenly spaced draws of the
    bank.
    """

    n_candidates: int = 30
    max_draws: int = 32
    beats: str | None = None

    def __call__(
        self,
        bank: ItemBank,
        log_post: np.ndarray,
        available: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        n_short = min(self.n_candidates, bank.n_items)
        info = _plugin_information(bank, log_post, available)
        if self.beats is not None:
            rival = bank.theta[:, bank.subject_code(self.beats)]
            info = info + finite_item_information(rival.mean(), *bank.mean_params)
        shortlist = np.argpartition(-info, n_short - 1, axis=1)[:, :n_short]
        open_ = np.take_along_axis(info, shortlist, axis=1) > -np.inf
        n_all = len(bank.a)
        draws = np.unique(np.linspace(0, n_all - 1, min(self.max_draws, n_all)).round().astype(int))
        log_curves = bank.log_curves[:, draws]  # (2, S', Q, N)
        current = log_softmax(log_post[:, draws], axis=-1)[..., None]  # (n, S', Q, 1)
        if self.beats is None:
            target = np.broadcast_to(bank.nodes, (len(draws), len(bank.nodes)))
        else:
            rival = bank.theta[draws, bank.subject_code(self.beats)]
            target = (bank.nodes[None, :] > rival[:, None]).astype(float)
        powers = np.stack([target, target**2], axis=2)  # (S', Q, 2)
        out = np.empty(len(log_post), dtype=np.int64)
        step = max(1, CHUNK_ELEMENTS // (log_curves.shape[1] * log_curves.shape[2] * n_short))
        for start in range(0, len(log_post), step):
            rows = slice(start, start + step)
            short = log_curves[:, :, :, shortlist[rows]].transpose(0, 3, 1, 2, 4)
            expected = np.zeros((short.shape[1], n_short))
            for answer in short:  # (n, S', Q, K) for y = 0, then y = 1
                joint = current[rows] + answer
                top = joint.max(axis=2, keepdims=True)
                weight = np.exp(joint - top)
                norm = weight.sum(axis=2)  # (n, S', K)
                moments = np.einsum("nsqk,sqm->nskm", weight, powers) / norm[..., None]
                mixed = moments.mean(axis=1)  # (n, K, 2)
                predictive = (np.exp(top[:, :, 0]) * norm).mean(axis=1)
                expected += predictive * np.maximum(mixed[..., 1] - mixed[..., 0] ** 2, 0.0)
            best = np.where(open_[rows], expected, np.inf).argmin(axis=1)
            out[rows] = shortlist[rows][np.arange(len(best)), best]
        return out


@dataclass(frozen=True)
class RandomSelector:
    """A uniformly random available item (the non-adaptive baseline)."""

    def __call__(
        self,
        bank: ItemBank,
        log_post: np.ndarray,
        available: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        keys = np.where(available, rng.random(available.shape), -1.0)
        return keys.argmax(axis=1)


@dataclass(frozen=True)
class FixedSelector:
    """A fixed test: the first still available item of ``order`` (item labels)."""

    order: Sequence

    def __call__(
        self,
        bank: ItemBank,
        log_post: np.ndarray,
        available: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        codes = bank.items.get_indexer(pd.Index([str(i) for i in self.order]))
        if np.any(codes < 0):
            raise ValueError("FixedSelector.order holds items that are not in the bank")
        open_ = available[:, codes]
        if not open_.any(axis=1).all():
            raise ValueError("a fixed test ran out of items: stop it by its length")
        return codes[open_.argmax(axis=1)]


def _check_budget(max_items: int | None, min_items: int = 0) -> None:
    if max_items is not None:
        check_whole("max_items", max_items, minimum=1)
    check_whole("min_items", min_items)


def _budget(max_items: int | None, n_items: np.ndarray) -> np.ndarray:
    """``"budget"`` where ``max_items`` items were given, else ``""``."""
    reason = np.full(len(n_items), "", dtype=object)
    if max_items is not None:
        reason[np.asarray(n_items) >= max_items] = "budget"
    return reason


@dataclass(frozen=True)
class SdOrBudgetStopper:
    """Stop once the posterior sd is at most ``target_sd`` or ``max_items`` were given.

    Either criterion may be ``None`` (not used); a test also ends when no item is left.
    """

    target_sd: float | None = 0.3
    max_items: int | None = None

    def __post_init__(self) -> None:
        if self.target_sd is None and self.max_items is None:
            raise ValueError("a stopper needs target_sd, max_items or both")
        if self.target_sd is not None and not (np.isfinite(self.target_sd) and self.target_sd > 0):
            raise ValueError(f"target_sd must be a positive number, got {self.target_sd!r}")
        _check_budget(self.max_items)

    def __call__(self, bank: ItemBank, log_post: np.ndarray, n_items: np.ndarray) -> np.ndarray:
        reason = _budget(self.max_items, n_items)
        if self.target_sd is not None:
            _, sd = bank.moments(log_post)
            reason[sd <= self.target_sd] = "sd"
        return reason


@dataclass(frozen=True)
class DecisionStopper:
    r"""Stop once it is decided whether the new subject beats fitted subject ``subject``:
    :math:`P(\theta > \theta_X \mid y_O) \ge` ``level`` or :math:`\le 1 -` ``level``
    (reason ``"decided"``), or after ``max_items`` items (``"budget"``).

    A sequential test: a subject far from :math:`X` is decided after a few items, one close
    to it takes many. It never stops before ``min_items`` answers: against a fitted subject
    far from the middle the population prior alone would decide, which holds only for new
    subjects drawn from the fitted population. Under the model the probability of a wrong
    decision is at most :math:`1 -` ``level`` given the answers, so at most that on average
    over the subjects tested (``benchmarks/adaptive_live.py`` measures it and the items it
    saves against a fixed-length test of the same error rate).
    """

    subject: str
    level: float = 0.95
    max_items: int | None = None
    min_items: int = 5

    def __post_init__(self) -> None:
        if not 0.5 < self.level < 1:
            raise ValueError(f"level must be in (0.5, 1), got {self.level!r}")
        _check_budget(self.max_items, self.min_items)

    def __call__(self, bank: ItemBank, log_post: np.ndarray, n_items: np.ndarray) -> np.ndarray:
        reason = _budget(self.max_items, n_items)
        p = bank.p_beats(log_post, self.subject)
        decided = (p >= self.level) | (p <= 1 - self.level)
        reason[decided & (np.asarray(n_items) >= self.min_items)] = "decided"
        return reason


@dataclass(frozen=True)
class RankWidthStopper:
    """Stop once the central ``interval`` of the rank among the fitted subjects spans at most
    ``width`` places (``hi - lo <= width``; reason ``"rank"``) after at least ``min_items``
    answers, or after ``max_items`` items (``"budget"``)."""

    width: int
    interval: float = 0.9
    max_items: int | None = None
    min_items: int = 5

    def __post_init__(self) -> None:
        check_whole("width", self.width)
        check_probability("interval", self.interval)
        _check_budget(self.max_items, self.min_items)

    def __call__(self, bank: ItemBank, log_post: np.ndarray, n_items: np.ndarray) -> np.ndarray:
        if not len(bank.subjects):
            raise ValueError("a rank stopper needs a bank with fitted subjects")
        reason = _budget(self.max_items, n_items)
        tail = (1 - self.interval) / 2
        lo, hi = bank.quantiles(log_post, bank.rank_grid, [tail, 1 - tail]).T
        reason[(hi - lo <= self.width) & (np.asarray(n_items) >= self.min_items)] = "rank"
        return reason


@dataclass(frozen=True)
class ContentBalance:
    r"""Content balancing (Kingsbury & Zara 1989): each item is taken from the category whose
    count of items given is furthest below its target share of the test,

    .. math::

        k^* = \arg\max_k \; \big(\pi_k (n + 1) - n_k\big)

    over the categories with items still available (:math:`n` items given so far,
    :math:`n_k` of category :math:`k`); the selector then chooses within :math:`k^*`. After
    any number of items every category's count is within one item of its share.

    Parameters
    ----------
    categories : pandas.Series
        Category of each item of the bank (index: item labels).
    shares : mapping, optional
        Target share of each category (normalised to sum to 1; categories left out get
        none). Default: each category's share of the bank.
    """

    categories: pd.Series
    shares: Mapping | None = None

    def codes(self, bank: ItemBank) -> tuple[np.ndarray, np.ndarray]:
        """The category code of each bank item and the target share of each code;
        :class:`ValueError` naming items without a category or unknown categories."""
        categories = pd.Series(self.categories)
        categories.index = categories.index.astype(str)
        values = categories.reindex(bank.items)
        if values.isna().any():
            raise ValueError(
                f"no category for items {describe_values(bank.items[values.isna().to_numpy()])}"
            )
        codes, labels = pd.factorize(values, sort=True)
        if self.shares is None:
            return codes, np.bincount(codes, minlength=len(labels)) / len(codes)
        shares = pd.Series(self.shares, dtype=float)
        unknown = shares.index.difference(labels)
        if len(unknown):
            raise ValueError(
                f"shares name categories that no item has: {describe_values(unknown)}; "
                f"categories: {describe_values(labels)}"
            )
        if not (np.isfinite(shares).all() and (shares >= 0).all() and shares.sum() > 0):
            raise ValueError(f"shares must be non-negative with a positive sum, got {dict(shares)}")
        target = shares.reindex(labels, fill_value=0.0).to_numpy()
        return codes, target / target.sum()

    @staticmethod
    def restrict(
        codes: np.ndarray, target: np.ndarray, available: np.ndarray, asked: np.ndarray
    ) -> np.ndarray:
        """``available`` (n, n_items) narrowed to each test's most under-served category
        with items left (unchanged where no category with a positive share has any)."""
        member = codes[None, :] == np.arange(len(target))[:, None]  # (K, n_items)
        given = asked.astype(float) @ member.T
        open_ = (available.astype(float) @ member.T > 0) & (target > 0)
        deficit = np.where(open_, target * (asked.sum(axis=1, keepdims=True) + 1) - given, -np.inf)
        chosen = deficit.argmax(axis=1)
        narrowed = available & (codes[None, :] == chosen[:, None])
        return np.where(open_.any(axis=1)[:, None], narrowed, available)


#: Selectors by name, for ``simulate_adaptive_test(selector=...)``.
SELECTORS: dict[str, Callable[[], Selector]] = {
    "variance": VarianceSelector,
    "fisher": FisherSelector,
    "random": RandomSelector,
}


@dataclass(frozen=True)
class AdaptiveTestResult:
    """What adaptive tests gave and concluded.

    Attributes
    ----------
    history : pandas.DataFrame
        One row per item given: ``subject``, ``step`` (1-based), ``item``, ``response``,
        ``theta_mean`` and ``theta_sd`` after the answer.
    summary : pandas.DataFrame
        One row per subject (the index): ``n_items``, the columns of
        :func:`posterior_summary` for the final posterior, ``stopped`` (the stopper's reason,
        ``"exhausted"`` or ``"start"``) and ``true_theta`` when the subjects were simulated.
    items : pandas.Index
        The bank's items.
    """

    history: pd.DataFrame
    summary: pd.DataFrame
    items: pd.Index

    def responses(self, *, max_items: int | None = None) -> Responses:
        """The answers given, the first ``max_items`` of each test (default all)."""
        rows = (
            self.history if max_items is None else self.history[self.history["step"] <= max_items]
        )
        subjects = pd.Index(self.summary.index)
        return Responses(
            subject_index=subjects.get_indexer(rows["subject"]),
            item_index=self.items.get_indexer(rows["item"]),
            response=rows["response"].to_numpy(),
            subjects=subjects,
            items=self.items,
        )


def simulate_adaptive_test(
    idata,
    true_theta_or_response_function,
    *,
    selector: str | Selector = "variance",
    stopper: Stopper | None = None,
    initializer: Initializer | None = None,
    estimator: UpdateRule | None = None,
    items: Sequence | None = None,
    content: ContentBalance | None = None,
    beats: Sequence[str] = (),
    interval: float = 0.9,
    n_draws: int = 100,
    n_nodes: int = 81,
    bounds: tuple[float, float] = (-5.0, 5.0),
    seed: int = 0,
) -> AdaptiveTestResult:
    r"""Run adaptive tests of new subjects on the items of a fit.

    Parameters
    ----------
    idata : arviz.InferenceData or ItemBank
        The fitted model: its item-parameter draws form the bank (:meth:`ItemBank.from_idata`
        with ``n_draws``, ``n_nodes``, ``bounds``); or a bank already built.
    true_theta_or_response_function : float, array of float, callable or Responses
        Who takes the test:

        * a true ability (or one per test, labelled ``cat_0``, ``cat_1``, ...): answers are
          drawn as :math:`y \sim \text{Bernoulli}(P_i(\theta; \bar\psi_i))` at the posterior
          mean item parameters, with ``numpy.random.default_rng(seed)``;
        * a callable ``item label -> 0/1``: one test (subject ``cat_0``) answered by it, e.g.
          by running a model on the question;
        * a :class:`~bayesirt.data.Responses`: one test per subject, answered from its
          recorded responses; only the items it has a response to can be given.
    selector : {"variance", "fisher", "random"} or Selector
        Next-item rule (see :data:`SELECTORS`).
    stopper : Stopper, optional
        Default :class:`SdOrBudgetStopper` with a 0.3 sd target and no item limit.
    initializer : Initializer, optional
        Default :class:`PriorInitializer`.
    estimator : UpdateRule, optional
        Default :class:`QuadratureEstimator`.
    items : sequence of item labels, optional
        Restrict the bank to these fitted items.
    content : ContentBalance, optional
        Hold each test to category shares.
    beats : sequence of fitted subject labels
        Report :math:`P(\theta > \theta_X)` for each (summary columns ``p_beats[X]``).
    interval : float
        Mass of the final central intervals.
    seed : int
        Seed of the simulated answers and of random selectors.

    Returns
    -------
    AdaptiveTestResult
    """
    if isinstance(selector, str):
        if selector not in SELECTORS:
            raise ValueError(f"unknown selector {selector!r}; choose one of {', '.join(SELECTORS)}")
        selector = SELECTORS[selector]()
    stopper = SdOrBudgetStopper() if stopper is None else stopper
    initializer = PriorInitializer() if initializer is None else initializer
    estimator = QuadratureEstimator() if estimator is None else estimator
    if isinstance(idata, ItemBank):
        if items is not None:
            raise ValueError("items restricts a bank built from a fit; a bank is used whole")
        bank = idata
    else:
        bank = ItemBank.from_idata(
            idata, items=items, n_draws=n_draws, n_nodes=n_nodes, bounds=bounds
        )
    for subject in beats:
        bank.subject_code(subject)
    categories = None if content is None else content.codes(bank)
    rng = np.random.default_rng(seed)
    source = _AnswerSource.build(true_theta_or_response_function, bank, rng)
    n = len(source.subjects)

    log_post = initializer(bank, n)
    available = source.available.copy()
    asked = np.zeros_like(available)
    given = np.zeros(n, dtype=np.int64)
    mean, sd = bank.moments(log_post)
    stopped = np.where(stopper(bank, log_post, given) != "", "start", "").astype(object)
    records = []
    while True:
        active = np.flatnonzero(stopped == "")
        exhausted = active[~available[active].any(axis=1)]
        stopped[exhausted] = "exhausted"
        active = np.setdiff1d(active, exhausted)
        if not len(active):
            break
        eligible = available[active]
        if categories is not None:
            eligible = ContentBalance.restrict(*categories, eligible, asked[active])
        item = selector(bank, log_post[active], eligible, rng)
        response = source.answer(active, item)
        log_post[active] = estimator(bank, log_post[active], item, response)
        available[active, item] = False
        asked[active, item] = True
        given[active] += 1
        mean[active], sd[active] = bank.moments(log_post[active])
        records.append((active, given[active], item, response, mean[active], sd[active]))
        stopped[active] = stopper(bank, log_post[active], given[active])

    summary = posterior_summary(bank, log_post, interval=interval, beats=beats)
    summary.insert(0, "n_items", given)
    summary["stopped"] = stopped
    if source.true_theta is not None:
        summary["true_theta"] = source.true_theta
    return AdaptiveTestResult(
        history=_history(records, source.subjects, bank.items),
        summary=summary.set_axis(source.subjects),
        items=bank.items,
    )


def posterior_summary(
    bank: ItemBank, log_post: np.ndarray, *, interval: float = 0.9, beats: Sequence[str] = ()
) -> pd.DataFrame:
    """What the posteriors ``log_post`` (n, S, Q) say, one row per test: ``theta_mean``,
    ``theta_sd``, ``theta_lo``, ``theta_hi`` (central ``interval``), ``score_mean``,
    ``score_lo``, ``score_hi`` (expected accuracy on the bank), ``rank_lo``, ``rank_hi``
    (among the fitted subjects; absent for a bank without them) and ``p_beats[X]`` for each
    fitted subject X in ``beats``."""
    tail = (1.0 - interval) / 2
    probs = [tail, 1.0 - tail]
    mean, sd = bank.moments(log_post)
    theta = bank.quantiles(log_post, np.broadcast_to(bank.nodes, bank.expected_score.shape), probs)
    score = bank.quantiles(log_post, bank.expected_score, probs)
    out = {
        "theta_mean": mean,
        "theta_sd": sd,
        "theta_lo": theta[:, 0],
        "theta_hi": theta[:, 1],
        "score_mean": np.einsum("nsq,sq->n", _weights(log_post), bank.expected_score),
        "score_lo": score[:, 0],
        "score_hi": score[:, 1],
    }
    if len(bank.subjects):
        rank = bank.quantiles(log_post, bank.rank_grid, probs)
        out["rank_lo"], out["rank_hi"] = rank[:, 0], rank[:, 1]
    for subject in beats:
        out[f"p_beats[{subject}]"] = bank.p_beats(log_post, subject)
    return pd.DataFrame(out)


@dataclass(frozen=True)
class _AnswerSource:
    """Who answers: labels, the items each may get, and how an answer is obtained."""

    subjects: pd.Index
    available: np.ndarray
    answer: Callable[[np.ndarray, np.ndarray], np.ndarray]
    true_theta: np.ndarray | None

    @classmethod
    def build(cls, source, bank: ItemBank, rng: np.random.Generator) -> _AnswerSource:
        if isinstance(source, Responses):
            dense = source.dense()[:, source.items.astype(str).get_indexer(bank.items)]
            return cls(
                subjects=pd.Index(source.subjects.astype(str), name="subject"),
                available=~np.isnan(dense),
                answer=lambda rows, item: dense[rows, item].astype(np.int8),
                true_theta=None,
            )
        if callable(source):
            labels = bank.items
            return cls(
                subjects=pd.Index(["cat_0"], name="subject"),
                available=np.ones((1, bank.n_items), dtype=bool),
                answer=lambda rows, item: np.array([int(source(labels[item[0]]))], dtype=np.int8),
                true_theta=None,
            )
        theta = np.atleast_1d(np.asarray(source, dtype=float))
        if theta.ndim != 1 or not np.all(np.isfinite(theta)):
            raise ValueError("true abilities must be a finite number or a 1-d array of them")
        params = bank.mean_params

        def answer(rows: np.ndarray, item: np.ndarray) -> np.ndarray:
            prob = icc(theta[rows], *(p[item] for p in params))
            return (rng.random(len(rows)) < prob).astype(np.int8)

        return cls(
            subjects=pd.Index([f"cat_{k}" for k in range(len(theta))], name="subject"),
            available=np.ones((len(theta), bank.n_items), dtype=bool),
            answer=answer,
            true_theta=theta,
        )


def _history(records: list, subjects: pd.Index, items: pd.Index) -> pd.DataFrame:
    columns = ["subject", "step", "item", "response", "theta_mean", "theta_sd"]
    if not records:
        return pd.DataFrame(columns=columns)
    parts = [
        pd.DataFrame(
            {
                "subject": subjects[rows],
                "step": step,
                "item": items[item],
                "response": response,
                "theta_mean": mean,
                "theta_sd": sd,
            }
        )
        for rows, step, item, response, mean, sd in records
    ]
    return pd.concat(parts, ignore_index=True).sort_values(["subject", "step"], ignore_index=True)
