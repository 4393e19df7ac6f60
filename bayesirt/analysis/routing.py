r"""Routing: send each question to the fitted model most likely to answer it, or the cheapest
one likely enough to.

A fit gives, in every posterior draw :math:`s`, the probability
:math:`P^{(s)}_{jq}` that subject (model) :math:`j` answers question :math:`q` correctly: for
fitted items from their own draws, for new questions from the draws of their predicted item
parameters (:func:`bayesirt.analysis.predict_items`; only an explanatory fit can tell which
model a question favours from its text, since a unidimensional fit without features orders
the models the same way on every question). :func:`route` chooses, per question,

* ``policy="best"``: :math:`j^*_q = \arg\max_j \bar P_{jq}`, the posterior mean;
* ``policy="cheapest"``: the cheapest :math:`j` with :math:`\bar P_{jq} \ge p_{\min}`
  (ties to the more likely), or the most likely one where no model reaches :math:`p_{\min}`
  (marked ``fallback``);

and reports the routing's expected accuracy as a posterior: in every draw
:math:`A^{(s)} = \frac1Q\sum_q P^{(s)}_{j^*_q q}`, with its mean and central interval, and its
total and mean cost per question. The accuracy–cost curve sweeps :math:`p_{\min}` for the
cheapest policy and adds the best policy, so a user can see what each gain in expected
accuracy costs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayesirt._json import json_number, json_records
from bayesirt._validate import check_positive_int, check_probability
from bayesirt.analysis.posterior import thinned
from bayesirt.analysis.predict import item_probabilities, predict_items
from bayesirt.data.validation import describe_values

__all__ = ["POLICIES", "Routing", "route"]

POLICIES = ("best", "cheapest")
#: The :math:`p_{\min}` of the accuracy–cost curve.
CURVE_LEVELS = tuple(np.round(np.arange(0.05, 1.0, 0.05), 2))


@dataclass(frozen=True)
class Routing:
    """What :func:`route` returns.

    Attributes
    ----------
    choices : pandas.DataFrame
        Index ``question``; ``subject`` (the chosen model), ``p`` (its posterior mean
        P(correct)), ``p_lo``, ``p_hi`` (central interval), ``runner_up`` and ``p_runner_up``
        (the most likely other model), ``cost`` (with costs) and ``fallback`` (cheapest
        policy: no model reached ``min_p``).
    accuracy : dict
        ``mean``, ``sd``, ``lo``, ``hi`` of the routing's expected accuracy over the
        questions.
    cost : dict or None
        ``total`` and ``per_question`` (with costs).
    curve : pandas.DataFrame or None
        With costs: one row per policy setting (``policy``, ``min_p``), ``accuracy``,
        ``accuracy_lo``, ``accuracy_hi``, ``cost_per_question``.
    policy : str
    min_p : float or None
    interval : float
    """

    choices: pd.DataFrame
    accuracy: dict
    cost: dict | None
    curve: pd.DataFrame | None
    policy: str
    min_p: float | None
    interval: float

    def to_dict(self) -> dict:
        """``{"policy", "min_p", "interval", "accuracy", "cost", "questions": [...],
        "curve": [...] | null}``, every number JSON-safe (NaN as ``null``)."""
        return {
            "policy": self.policy,
            "min_p": json_number(self.min_p),
            "interval": self.interval,
            "accuracy": {k: json_number(v) for k, v in self.accuracy.items()},
            "cost": None
            if self.cost is None
            else {k: json_number(v) for k, v in self.cost.items()},
            "questions": json_records(self.choices.reset_index()),
            "curve": None if self.curve is None else json_records(self.curve),
        }

    def plot_curve(self, ax=None):
        """The accuracy–cost curve: expected accuracy (with its interval) against the mean
        cost per question; needs costs."""
        if self.curve is None:
            raise ValueError("the accuracy-cost curve needs costs: route(..., costs=...)")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        curve = self.curve.sort_values("cost_per_question")
        ax.fill_between(
            curve["cost_per_question"], curve["accuracy_lo"], curve["accuracy_hi"], alpha=0.25
        )
        ax.plot(curve["cost_per_question"], curve["accuracy"], marker="o", ms=3)
        ax.set_xlabel("mean cost per question")
        ax.set_ylabel(f"expected accuracy ({self.interval:.0%} interval)")
        return ax


def route(
    fit,
    questions: pd.DataFrame | Sequence,
    *,
    costs: Mapping | pd.Series | None = None,
    policy: str = "best",
    min_p: float | None = None,
    subjects: Sequence | None = None,
    benchmark=None,
    interval: float = 0.9,
    max_draws: int = 1000,
    random_seed: int = 0,
) -> Routing:
    """Route questions to fitted models (module docstring).

    Parameters
    ----------
    fit : arviz.InferenceData
        A fit, or an item bank from :func:`bayesirt.analysis.predict_items`.
    questions : pandas.DataFrame or sequence of labels
        New questions as a feature table (index: label; the fit must be explanatory, see
        :func:`~bayesirt.analysis.predict_items`), or labels of items already in the fit or
        bank.
    costs : mapping or Series, optional
        Cost of one question for each candidate model (non-negative). Needed by the
        cheapest policy and the accuracy–cost curve.
    policy : {"best", "cheapest"}
    min_p : float in (0, 1), optional
        The cheapest policy's required posterior mean P(correct) (default 0.5).
    subjects : sequence of labels, optional
        The candidate models (default: every fitted subject, or every costed one).
    benchmark : optional
        Benchmark of new questions, passed to :func:`~bayesirt.analysis.predict_items`.
    interval : float in (0, 1)
    max_draws : int
        Use at most this many posterior draws (evenly thinned).
    random_seed : int
        Seed of the predicted items' draws (and of the subjects' abilities on benchmarks that
        were not fitted).

    Raises
    ------
    ValueError
        An unknown policy, a ``min_p`` without the cheapest policy or out of (0, 1), the
        cheapest policy without costs, a missing, negative or non-finite cost or an unknown
        model (naming them), an unknown question label.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    check_probability("interval", interval)
    check_positive_int("max_draws", max_draws)
    if min_p is not None and policy != "cheapest":
        raise ValueError(f"min_p={min_p!r} applies to policy='cheapest' only")
    if policy == "cheapest":
        min_p = 0.5 if min_p is None else min_p
        check_probability("min_p", min_p)
        if costs is None:
            raise ValueError("policy='cheapest' needs the models' costs")
    fitted = fit.posterior["subject"].values.astype(str)
    cost = None if costs is None else _costs(costs, fitted)
    if subjects is None:
        subjects = fitted if cost is None else np.asarray(cost.index)
    subjects = pd.Index(np.asarray(subjects).astype(str))
    unknown = subjects.difference(fitted)
    if len(unknown):
        raise ValueError(f"unknown model(s) {describe_values(unknown)}")
    if cost is not None:
        missing = subjects.difference(cost.index)
        if len(missing):
            raise ValueError(f"no cost for model(s) {describe_values(missing)}")
        cost = cost.reindex(subjects).to_numpy(dtype=float)

    if isinstance(questions, pd.DataFrame):
        bank = predict_items(fit, questions, benchmark=benchmark, random_seed=random_seed)
        labels = pd.Index(questions.index.astype(str))
    else:
        bank, labels = fit, pd.Index(np.asarray(questions).astype(str))
        if labels.has_duplicates:
            raise ValueError(f"repeated question(s) {describe_values(labels[labels.duplicated()])}")
    post = thinned(bank.posterior, max_draws)
    prob = item_probabilities(
        post, subjects=list(subjects), items=list(labels), random_seed=random_seed + 1
    )
    prob = prob.reshape(-1, len(subjects), len(labels))  # (draw, subject, question)
    mean = prob.mean(axis=0)
    tail = (1.0 - interval) / 2

    chosen, fallback = _choose(mean, cost, policy, min_p)
    columns = np.arange(len(labels))
    picked = prob[:, chosen, columns]
    others = mean.copy()
    others[chosen, columns] = -np.inf
    runner_up = others.argmax(axis=0) if len(subjects) > 1 else chosen
    choices = pd.DataFrame(
        {
            "subject": subjects[chosen],
            "p": mean[chosen, columns],
            "p_lo": np.quantile(picked, tail, axis=0),
            "p_hi": np.quantile(picked, 1 - tail, axis=0),
            "runner_up": subjects[runner_up],
            "p_runner_up": mean[runner_up, columns],
        },
        index=pd.Index(labels, name="question"),
    )
    if cost is not None:
        choices["cost"] = cost[chosen]
    if policy == "cheapest":
        choices["fallback"] = fallback
    curve = None
    if cost is not None:
        rows = []
        for level in (*CURVE_LEVELS, None):
            pick, _ = _choose(mean, cost, "best" if level is None else "cheapest", level)
            acc = prob[:, pick, columns].mean(axis=1)
            rows.append(
                {
                    "policy": "best" if level is None else "cheapest",
                    "min_p": level,
                    "accuracy": acc.mean(),
                    "accuracy_lo": np.quantile(acc, tail),
                    "accuracy_hi": np.quantile(acc, 1 - tail),
                    "cost_per_question": cost[pick].mean(),
                }
            )
        curve = pd.DataFrame(rows)
    accuracy = picked.mean(axis=1)
    return Routing(
        choices=choices,
        accuracy={
            "mean": float(accuracy.mean()),
            "sd": float(accuracy.std()),
            "lo": float(np.quantile(accuracy, tail)),
            "hi": float(np.quantile(accuracy, 1 - tail)),
        },
        cost=None
        if cost is None
        else {"total": float(cost[chosen].sum()), "per_question": float(cost[chosen].mean())},
        curve=curve,
        policy=policy,
        min_p=min_p,
        interval=interval,
    )


def _choose(mean: np.ndarray, cost, policy: str, min_p) -> tuple[np.ndarray, np.ndarray]:
    """Chosen subject per question (column of ``mean``) and whether the cheapest policy fell
    back to the most likely model."""
    best = mean.argmax(axis=0)
    if policy == "best":
        return best, np.zeros(mean.shape[1], dtype=bool)
    eligible = mean >= min_p
    # cheapest eligible; among equal costs the more likely
    key = np.where(eligible, cost[:, None] - 1e-9 * mean, np.inf)
    pick = key.argmin(axis=0)
    fallback = ~eligible.any(axis=0)
    return np.where(fallback, best, pick), fallback


def _costs(costs, fitted: np.ndarray) -> pd.Series:
    """Costs as a float Series indexed by model label, checked."""
    series = pd.Series(costs) if isinstance(costs, Mapping) else costs
    if not isinstance(series, pd.Series):
        raise TypeError(f"costs must be a mapping or a Series (model -> cost), got {type(costs)}")
    series = pd.to_numeric(series, errors="coerce").astype(float)
    series.index = series.index.astype(str)
    bad = series.index[~np.isfinite(series.to_numpy()) | (series.to_numpy() < 0)]
    if len(bad):
        raise ValueError(
            f"costs must be non-negative numbers; not so for model(s) {describe_values(bad)}"
        )
    unknown = series.index.difference(pd.Index(fitted))
    if len(unknown):
        raise ValueError(f"costs name model(s) not in the fit: {describe_values(unknown)}")
    return series
