r"""A live adaptive test: the caller asks the questions, the test says which and when to stop.

:class:`AdaptiveTest` holds one new subject's test against a fitted item bank. The caller
asks for the next items (:meth:`AdaptiveTest.next_items`), puts them to the model however it
runs it (an API, lm-evaluation-harness with a list of document ids per task, a person),
records the scores (:meth:`AdaptiveTest.record`) and reads the posterior
(:meth:`AdaptiveTest.estimate`) until :attr:`AdaptiveTest.done`. It is built from the pieces
of :mod:`bayesirt.tinybench.adaptive` (item bank, selector, update, stopper, content
balancing), so a live test and a simulated one (:func:`simulate_adaptive_test`) choose,
update and stop alike.

**Exposure control.** Items that every test asks leak first. :class:`ExposureControl`, shared
by the tests of a leaderboard, counts how many of the :math:`T` tests started so far gave each
item and lets an item be chosen only while its count :math:`e_i < r_{max} T` (the restricted
method of Revuelta & Ponsoda 1998). An item given in test :math:`T` had :math:`e_i < r_{max} T`
before it, so after any number of tests :math:`e_i \le \lceil r_{max} T \rceil`: its exposure
rate :math:`e_i / T` exceeds :math:`r_{max}` by less than :math:`1 / T`. With ``randomesque =
k`` (Kingsbury & Zara 1989) the item is drawn at random among the selector's ``k`` best, which
spreads exposure further at some cost in information. Where no item is eligible (a test longer
than :math:`r_{max}` times the bank), the least exposed available items are given and the cap
is exceeded; :meth:`ExposureControl.rates` shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayesirt._validate import check_probability, check_whole
from bayesirt.data.validation import describe_values
from bayesirt.tinybench.adaptive import (
    SELECTORS,
    ContentBalance,
    ItemBank,
    PriorInitializer,
    QuadratureEstimator,
    SdOrBudgetStopper,
    Selector,
    Stopper,
    posterior_summary,
)

__all__ = ["AdaptiveTest", "ExposureControl"]


@dataclass
class ExposureControl:
    """Exposure of the items over a sequence of tests (see the module docstring).

    Parameters
    ----------
    max_rate : float, optional
        Largest share of tests that may give an item, in (0, 1]; ``None``: no cap.
    randomesque : int
        Choose at random among this many best items (1: always the best).
    """

    max_rate: float | None = None
    randomesque: int = 1
    counts: dict[str, int] = field(default_factory=dict)
    n_tests: int = 0

    def __post_init__(self) -> None:
        if self.max_rate is not None and not 0 < self.max_rate <= 1:
            raise ValueError(f"max_rate must be in (0, 1], got {self.max_rate!r}")
        check_whole("randomesque", self.randomesque, minimum=1)

    def start(self) -> None:
        """Count one more test."""
        self.n_tests += 1

    def given(self, item: str) -> None:
        """Count one more exposure of ``item``."""
        self.counts[item] = self.counts.get(item, 0) + 1

    def eligible(self, items: pd.Index, available: np.ndarray) -> np.ndarray:
        """``available`` (n_items,) narrowed to the items under the cap, or to the least
        exposed available items where none is under it."""
        if self.max_rate is None:
            return available
        count = np.array([self.counts.get(item, 0) for item in items], dtype=float)
        under = available & (count < self.max_rate * self.n_tests)
        if under.any() or not available.any():
            return under
        return available & (count == count[available].min())

    def rates(self) -> pd.Series:
        """Share of the tests so far that gave each item given at least once, largest
        first."""
        counts = pd.Series(self.counts, dtype=float, name="exposure")
        return (counts / max(self.n_tests, 1)).sort_values(ascending=False)


class AdaptiveTest:
    r"""One new subject's adaptive test, driven by the caller.

    >>> test = AdaptiveTest(fit, stop=DecisionStopper("gpt-4o"))  # doctest: +SKIP
    >>> while not test.done:                                          # doctest: +SKIP
    ...     for item in test.next_items(5):
    ...         test.record(item, run_model_on(item))
    >>> test.estimate()                                               # doctest: +SKIP

    Parameters
    ----------
    fit : arviz.InferenceData or ItemBank
        The fitted model (its item-parameter and ability draws form the bank; see
        :meth:`ItemBank.from_idata` with ``n_draws``, ``n_nodes``, ``bounds``), or a bank
        already built, to share one between many tests.
    stop : Stopper, optional
        When to stop: :class:`SdOrBudgetStopper` (default: sd 0.3), :class:`DecisionStopper`
        or :class:`RankWidthStopper`.
    select : {"variance", "fisher", "random"} or Selector
        Next-item rule.
    content : ContentBalance, optional
        Category shares to hold.
    exposure : ExposureControl, optional
        Shared by the tests whose exposure it controls; this test counts as started.
    items : sequence of item labels, optional
        The items this test may ask (default: all of the bank), e.g. those a recorded run
        has answers for.
    interval : float
        Mass of the central intervals reported.
    seed : int
        Seed of random selection (random selector, randomesque choice).
    subject : str
        Label of the tested subject in :attr:`history` and :meth:`estimate`.
    """

    def __init__(
        self,
        fit,
        *,
        stop: Stopper | None = None,
        select: str | Selector = "variance",
        content: ContentBalance | None = None,
        exposure: ExposureControl | None = None,
        items: Sequence | None = None,
        interval: float = 0.9,
        n_draws: int = 100,
        n_nodes: int = 81,
        bounds: tuple[float, float] = (-5.0, 5.0),
        seed: int = 0,
        subject: str = "new",
    ) -> None:
        check_probability("interval", interval)
        if isinstance(select, str):
            if select not in SELECTORS:
                raise ValueError(
                    f"unknown selector {select!r}; choose one of {', '.join(SELECTORS)}"
                )
            select = SELECTORS[select]()
        self.bank = (
            fit
            if isinstance(fit, ItemBank)
            else ItemBank.from_idata(fit, n_draws=n_draws, n_nodes=n_nodes, bounds=bounds)
        )
        self.selector = select
        self.stopper = SdOrBudgetStopper() if stop is None else stop
        self.interval = interval
        self.subject = str(subject)
        self._categories = None if content is None else content.codes(self.bank)
        self._available = np.ones(self.bank.n_items, dtype=bool)
        if items is not None:
            codes = self._codes(items)
            self._available[:] = False
            self._available[codes] = True
        self._asked = np.zeros(self.bank.n_items, dtype=bool)
        self._log_post = PriorInitializer()(self.bank, 1)
        self._records: list[tuple[str, float, float, float]] = []
        self._rng = np.random.default_rng(seed)
        self.reason = str(self.stopper(self.bank, self._log_post, np.array([0]))[0])
        self.exposure = exposure
        if exposure is not None:
            exposure.start()

    # ------------------------------------------------------------------ state
    @property
    def done(self) -> bool:
        """Whether the stopper has ended the test or no item is left to ask."""
        return bool(self.reason) or not (self._available & ~self._asked).any()

    @property
    def n_items(self) -> int:
        """Number of answers recorded."""
        return len(self._records)

    @property
    def history(self) -> pd.DataFrame:
        """One row per answer: ``step``, ``item``, ``response``, ``theta_mean``,
        ``theta_sd`` after it."""
        return pd.DataFrame(
            [(k + 1, *record) for k, record in enumerate(self._records)],
            columns=["step", "item", "response", "theta_mean", "theta_sd"],
        )

    # -------------------------------------------------------------- the loop
    def next_items(self, k: int = 1) -> list[str]:
        """The next ``k`` items to ask (fewer when fewer are left; none once :attr:`done`).

        They are chosen one after another at the current posterior, each as if the ones
        before it were already asked, so a batch is the ``k`` best single choices; asking one
        at a time and recording each answer before the next choice is more efficient.
        """
        check_whole("k", k, minimum=1)
        if self.done:
            return []
        asked = self._asked.copy()
        chosen = []
        for _ in range(k):
            item = self._choose(asked)
            if item is None:
                break
            asked[item] = True
            chosen.append(str(self.bank.items[item]))
        return chosen

    def record(self, item: str, response: float) -> None:
        """Update the posterior with the score (0 or 1) of ``item`` and check the stopper."""
        code = self._codes([item])[0]
        if self._asked[code]:
            raise ValueError(f"item {item!r} was already recorded in this test")
        if not self._available[code]:
            raise ValueError(f"item {item!r} is not among the items this test may ask")
        if response not in (0, 1):
            raise ValueError(f"the response to {item!r} must be 0 or 1, got {response!r}")
        self._log_post = QuadratureEstimator()(
            self.bank, self._log_post, np.array([code]), np.array([int(response)])
        )
        self._asked[code] = True
        if self.exposure is not None:
            self.exposure.given(str(self.bank.items[code]))
        mean, sd = self.bank.moments(self._log_post)
        self._records.append((str(self.bank.items[code]), int(response), mean[0], sd[0]))
        self.reason = str(self.stopper(self.bank, self._log_post, np.array([self.n_items]))[0])

    def run(self, answer: Callable[[str], float], *, batch: int = 1) -> pd.Series:
        """Ask ``answer(item) -> 0/1`` ``batch`` items at a time until :attr:`done`; return
        :meth:`estimate`."""
        while not self.done:
            for item in self.next_items(batch):
                self.record(item, answer(item))
        return self.estimate()

    def estimate(self, beats: Sequence[str] = ()) -> pd.Series:
        """The posterior now: ``n_items``, θ (``theta_mean``, ``theta_sd``, ``theta_lo``,
        ``theta_hi``), the expected accuracy on the bank (``score_mean``, ``score_lo``,
        ``score_hi``), the rank among the fitted subjects (``rank_lo``, ``rank_hi``),
        ``p_beats[X]`` for each fitted subject in ``beats`` and ``stopped`` (the stopper's
        reason, ``"exhausted"`` or ``""``)."""
        row = posterior_summary(self.bank, self._log_post, interval=self.interval, beats=beats)
        stopped = self.reason or ("exhausted" if self.done else "")
        values = {"n_items": self.n_items, **row.iloc[0].to_dict(), "stopped": stopped}
        return pd.Series(values, name=self.subject, dtype=object)

    # -------------------------------------------------------------- internals
    def _codes(self, items: Sequence) -> np.ndarray:
        labels = pd.Index([str(i) for i in items])
        codes = self.bank.items.get_indexer(labels)
        if np.any(codes < 0):
            raise ValueError(f"item(s) not in the fit: {describe_values(labels[codes < 0])}")
        return codes

    def _choose(self, asked: np.ndarray) -> int | None:
        eligible = self._available & ~asked
        if self.exposure is not None:
            eligible = self.exposure.eligible(self.bank.items, eligible)
        if self._categories is not None:
            eligible = ContentBalance.restrict(*self._categories, eligible[None], asked[None])[0]
        if not eligible.any():
            return None
        tries = 1 if self.exposure is None else self.exposure.randomesque
        candidates = []
        for _ in range(tries):
            if not eligible.any():
                break
            item = int(self.selector(self.bank, self._log_post, eligible[None], self._rng)[0])
            candidates.append(item)
            eligible = eligible.copy()
            eligible[item] = False
        return int(self._rng.choice(candidates))
