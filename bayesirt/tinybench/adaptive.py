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
  items).

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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
import pandas as pd
from scipy.special import log_softmax, softmax

from bayesirt.analysis.posterior import CHUNK_ELEMENTS, posterior_draws
from bayesirt.data import Responses
from bayesirt.data.validation import describe_values
from bayesirt.irt import finite_item_information, icc, log_likelihood, quadrature

__all__ = [
    "SELECTORS",
    "AdaptiveTestResult",
    "FisherSelector",
    "FixedSelector",
    "Initializer",
    "ItemBank",
    "PriorInitializer",
    "QuadratureEstimator",
    "RandomSelector",
    "SdOrBudgetStopper",
    "Selector",
    "Stopper",
    "UpdateRule",
    "VarianceSelector",
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
    """

    items: pd.Index
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray
    nodes: np.ndarray
    log_prior: np.ndarray

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
        return cls(items=draws.items[cols], nodes=nodes, log_prior=log_prior, **params)

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


def mixture(log_post: np.ndarray) -> np.ndarray:
    """Mixture over draws of the per-draw normalised posteriors, (n, S, Q) → (n, Q)."""
    return softmax(log_post, axis=-1).mean(axis=1)


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
    """Why each test ends now (a short reason) or ``""`` to go on, from the posterior sd and
    the number of items given so far."""

    def __call__(self, sd: np.ndarray, n_items: np.ndarray) -> np.ndarray: ...


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

    Two economies keep the cost per step independent of the bank's size: the criterion is
    evaluated on a shortlist, the ``n_candidates`` available items with the largest plug-in
    Fisher information at the current posterior mean, and averaged over at most
    ``max_draws`` evenly spaced draws of the bank.
    """

    n_candidates: int = 30
    max_draws: int = 32

    def __call__(
        self,
        bank: ItemBank,
        log_post: np.ndarray,
        available: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        n_short = min(self.n_candidates, bank.n_items)
        info = _plugin_information(bank, log_post, available)
        shortlist = np.argpartition(-info, n_short - 1, axis=1)[:, :n_short]
        open_ = np.take_along_axis(info, shortlist, axis=1) > -np.inf
        n_all = len(bank.a)
        draws = np.unique(np.linspace(0, n_all - 1, min(self.max_draws, n_all)).round().astype(int))
        log_curves = bank.log_curves[:, draws]  # (2, S', Q, N)
        current = log_softmax(log_post[:, draws], axis=-1)[..., None]  # (n, S', Q, 1)
        powers = np.stack([bank.nodes, bank.nodes**2], axis=1)  # (Q, 2)
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
                moments = np.einsum("nsqk,qm->nskm", weight, powers) / norm[..., None]
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

    def __call__(self, sd: np.ndarray, n_items: np.ndarray) -> np.ndarray:
        reason = np.full(len(sd), "", dtype=object)
        if self.max_items is not None:
            reason[n_items >= self.max_items] = "budget"
        if self.target_sd is not None:
            reason[sd <= self.target_sd] = "sd"
        return reason


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
        One row per subject (the index): ``n_items``, ``theta_mean``, ``theta_sd``,
        ``theta_lo``, ``theta_hi`` (central interval of the final posterior), ``stopped``
        (``"sd"``, ``"budget"``, ``"exhausted"`` or ``"start"``) and ``true_theta`` when
        the subjects were simulated.
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
    interval: float = 0.9,
    n_draws: int = 100,
    n_nodes: int = 81,
    bounds: tuple[float, float] = (-5.0, 5.0),
    seed: int = 0,
) -> AdaptiveTestResult:
    r"""Run adaptive tests of new subjects on the items of a fit.

    Parameters
    ----------
    idata : arviz.InferenceData
        The fitted model: its item-parameter draws form the bank (:meth:`ItemBank.from_idata`
        with ``n_draws``, ``n_nodes``, ``bounds``).
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
    bank = ItemBank.from_idata(idata, items=items, n_draws=n_draws, n_nodes=n_nodes, bounds=bounds)
    rng = np.random.default_rng(seed)
    source = _AnswerSource.build(true_theta_or_response_function, bank, rng)
    n = len(source.subjects)

    log_post = initializer(bank, n)
    available = source.available.copy()
    given = np.zeros(n, dtype=np.int64)
    mean, sd = bank.moments(log_post)
    stopped = np.where(stopper(sd, given) != "", "start", "").astype(object)
    records = []
    while True:
        active = np.flatnonzero(stopped == "")
        exhausted = active[~available[active].any(axis=1)]
        stopped[exhausted] = "exhausted"
        active = np.setdiff1d(active, exhausted)
        if not len(active):
            break
        item = selector(bank, log_post[active], available[active], rng)
        response = source.answer(active, item)
        log_post[active] = estimator(bank, log_post[active], item, response)
        available[active, item] = False
        given[active] += 1
        mean[active], sd[active] = bank.moments(log_post[active])
        records.append((active, given[active], item, response, mean[active], sd[active]))
        stopped[active] = stopper(sd[active], given[active])

    return AdaptiveTestResult(
        history=_history(records, source.subjects, bank.items),
        summary=_summary(bank, log_post, given, stopped, source, interval),
        items=bank.items,
    )


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


def _summary(
    bank: ItemBank,
    log_post: np.ndarray,
    given: np.ndarray,
    stopped: np.ndarray,
    source: _AnswerSource,
    interval: float,
) -> pd.DataFrame:
    mix = mixture(log_post)
    mean, sd = bank.moments(log_post)
    cdf = np.cumsum(mix, axis=1)
    tail = (1.0 - interval) / 2
    lo = bank.nodes[np.minimum((cdf < tail).sum(axis=1), len(bank.nodes) - 1)]
    hi = bank.nodes[np.minimum((cdf < 1.0 - tail).sum(axis=1), len(bank.nodes) - 1)]
    summary = pd.DataFrame(
        {
            "n_items": given,
            "theta_mean": mean,
            "theta_sd": sd,
            "theta_lo": lo,
            "theta_hi": hi,
            "stopped": stopped,
        },
        index=source.subjects,
    )
    if source.true_theta is not None:
        summary["true_theta"] = source.true_theta
    return summary
