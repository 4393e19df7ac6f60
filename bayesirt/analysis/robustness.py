r"""How robust is a ranking: the whole analysis of a fit in one call, and its JSON report.

A leaderboard averages over one particular set of questions, and an IRT fit assumes that,
given a subject's ability, its answers to different questions are independent.
:func:`assess_robustness` checks both, in this order:

1. clusters of questions (:mod:`bayesirt.analysis.dependence.clusters`): from the residuals,
   from item metadata (``groups``), from item text and from embeddings;
2. local dependence (:mod:`bayesirt.analysis.dependence.local`): the posterior of Yen's Q3
   (:mod:`bayesirt.analysis.dependence.q3`) overall, by cluster and for the most dependent
   pairs; the posterior predictive check of the mean :math:`|Q3|` and the permutation test
   of the metadata groups; how much of the dependence each partition explains;
3. rankings under other distributions of interest (:mod:`bayesirt.analysis.scenarios`) over
   the main partition, and how much they move.

:func:`robustness_to_json` reports the result in plain JSON types.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from bayesirt._json import json_number
from bayesirt.analysis.dependence.clusters import (
    Clusters,
    embedding_clusters,
    item_partition,
    residual_clusters,
    text_clusters,
)
from bayesirt.analysis.dependence.local import (
    cluster_table,
    dependence_test,
    dependent_pairs,
    explain_dependence,
    interval_summary,
    local_dependence,
)
from bayesirt.analysis.posterior import fitted_responses, posterior_draws
from bayesirt.analysis.scenarios import RANK_BASES, order_flips, rank_stability, scenario_rankings
from bayesirt.data.groups import default_group_column

__all__ = [
    "AUTO_TEXT_COLUMNS",
    "JSON_FLIPS",
    "Robustness",
    "assess_robustness",
    "robustness_to_json",
]

#: Item metadata columns tried, in order, by ``text="auto"`` of :func:`assess_robustness`.
AUTO_TEXT_COLUMNS = ("text", "instruction", "question", "prompt")
#: Most order flips :func:`robustness_to_json` lists.
JSON_FLIPS = 100


@dataclass(frozen=True)
class Robustness:
    """Everything :func:`assess_robustness` computes.

    Attributes
    ----------
    dependence : xarray.Dataset
        :func:`local_dependence` with the main partition (the metadata groups, else the
        residual clusters).
    test : xarray.Dataset
        :func:`dependence_test` (permutation test only with metadata groups).
    partitions : pandas.DataFrame
        One column of cluster labels per partition (``residual``, the metadata column,
        ``text``, ``embedding``), indexed by item.
    explained : pandas.DataFrame
        :func:`explain_dependence` of the partitions, ARI against the metadata groups.
    scenarios : xarray.Dataset
        :func:`scenario_rankings` over the main partition.
    stability : dict of str to xarray.Dataset
        :func:`rank_stability` for each basis (``"posterior"``, ``"accuracy"``).
    flips : dict of str to pandas.DataFrame
        :func:`order_flips` for each basis.
    timings : dict of str to float
        Seconds spent in each step.
    """

    dependence: xr.Dataset
    test: xr.Dataset
    partitions: pd.DataFrame
    explained: pd.DataFrame
    scenarios: xr.Dataset
    stability: dict[str, xr.Dataset]
    flips: dict[str, pd.DataFrame]
    timings: dict[str, float]


def assess_robustness(
    idata,
    *,
    groups: Clusters = "auto",
    text: str | None = "auto",
    embeddings: np.ndarray | pd.DataFrame | None = None,
    k: int | None = None,
    n_text_clusters: int | None = None,
    group_weights: Mapping[str, Mapping[str, float]] | None = None,
    other_fits: Mapping[str, object] | None = None,
    n_draws: int | None = 100,
    n_ppc_draws: int | None = 200,
    n_permutations: int = 1000,
    n_use_cases: int = 200,
    dense_max: int = 2000,
    n_pairs: int = 100_000,
    top: int = 20,
    interval: float = 0.9,
    alpha: float = 0.05,
    random_seed: int = 0,
) -> Robustness:
    """The whole robustness analysis of a fit: dependence, its tests, clusters and scenarios.

    Steps: residual clusters (:func:`residual_clusters`, ``k``); metadata groups; text and
    embedding clusters; Q3 summaries (:func:`local_dependence`) by the main partition;
    the tests (:func:`dependence_test`, mean |Q3|, permutation over the metadata groups);
    :func:`explain_dependence` of every partition; :func:`scenario_rankings` over the main
    partition; :func:`rank_stability` and :func:`order_flips` on both bases.

    Parameters
    ----------
    idata : arviz.InferenceData
    groups : str, Series, sequence, "auto" or None
        Item groups from metadata. ``"auto"`` takes the first column of
        :data:`~bayesirt.data.groups.ITEM_GROUP_COLUMNS` with at least two labels. Without
        groups the residual
        clusters take their place (and there is no permutation test).
    text : str, "auto" or None
        Item metadata column with the item text, clustered by :func:`text_clusters`.
        ``"auto"`` takes the first column of :data:`AUTO_TEXT_COLUMNS`, if scikit-learn is
        installed.
    embeddings : array or DataFrame, optional
        One row per item (fit's order, or indexed by item) for :func:`embedding_clusters`.
    k : int, optional
        Number of residual clusters (``None``: chosen).
    n_text_clusters : int, optional
        Clusters of text and embeddings (default: as many as the metadata groups, else as
        the residual clusters, at least 2).
    group_weights, other_fits
        Extra scenarios, see :func:`scenario_rankings`.
    n_draws : int or None
        Posterior draws behind the Q3 summaries and the clusters.
    n_ppc_draws : int or None
        Draws (replications) of the posterior predictive check.
    n_permutations, n_use_cases, dense_max, n_pairs, top, interval, alpha, random_seed
        See the functions above.

    Returns
    -------
    Robustness
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = now - clock
        clock = now

    meta = fitted_responses(idata).item_meta
    meta.index = meta.index.astype(str)
    items = posterior_draws(idata).items
    if isinstance(groups, str) and groups == "auto":
        groups = default_group_column(meta)
    residual = residual_clusters(idata, k=k, n_draws=n_draws, random_seed=random_seed)
    partitions = {"residual": residual["cluster"].reindex(items)}
    lap("residual_clusters")
    group_name = None
    if groups is not None:
        group_name = (
            groups if isinstance(groups, str) else str(getattr(groups, "name", None) or "groups")
        )
        labels = item_partition(groups, idata, items)
        partitions[group_name] = pd.Series(
            np.where(labels.codes >= 0, labels.item_labels(), None), index=items
        )
    n_other = n_text_clusters or max(
        len(pd.unique(partitions[group_name].dropna())) if group_name else residual.attrs["k"], 2
    )
    if text == "auto":
        text = next((c for c in AUTO_TEXT_COLUMNS if c in meta), None)
        if text is not None and not _has_sklearn():
            text = None
    if text is not None:
        if text not in meta:
            raise ValueError(f"no item metadata column {text!r} with the item text")
        partitions["text"] = text_clusters(
            meta[text].reindex(items), k=n_other, random_seed=random_seed
        )
    if embeddings is not None:
        partitions["embedding"] = embedding_clusters(
            embeddings, k=n_other, items=items, random_seed=random_seed
        ).reindex(items)
    lap("other_clusters")
    partitions = {name: labels.rename(name) for name, labels in partitions.items()}
    main = partitions[group_name] if group_name else partitions["residual"]

    dependence = local_dependence(
        idata,
        clusters=main,
        n_draws=n_draws,
        dense_max=dense_max,
        n_pairs=n_pairs,
        top=top,
        interval=interval,
        random_seed=random_seed,
    )
    lap("local_dependence")
    test = dependence_test(
        idata,
        clusters=partitions[group_name] if group_name else None,
        n_draws=n_ppc_draws,
        n_permutations=n_permutations,
        dense_max=dense_max,
        n_pairs=n_pairs,
        alpha=alpha,
        random_seed=random_seed,
    )
    lap("dependence_test")
    explained = explain_dependence(
        idata,
        partitions,
        reference=group_name,
        n_draws=n_draws,
        interval=interval,
        random_seed=random_seed,
    )
    lap("explain_dependence")
    scenarios = scenario_rankings(
        idata,
        groups=main,
        group_weights=group_weights,
        n_use_cases=n_use_cases,
        other_fits=other_fits,
        interval=interval,
        random_seed=random_seed,
    )
    lap("scenario_rankings")
    stability = {basis: rank_stability(scenarios, basis=basis) for basis in RANK_BASES}
    flips = {basis: order_flips(scenarios, basis=basis) for basis in RANK_BASES}
    lap("stability")
    return Robustness(
        dependence=dependence,
        test=test,
        partitions=pd.DataFrame(partitions, index=pd.Index(np.asarray(items), name="item")),
        explained=explained,
        scenarios=scenarios,
        stability=stability,
        flips=flips,
        timings=timings,
    )


def _has_sklearn() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the installation
        return False
    return True


def robustness_to_json(result: Robustness) -> dict:
    """A JSON-safe summary of :func:`assess_robustness` (plain Python types, ``None`` for NaN).

    Returns
    -------
    dict
        ::

            {
              "dependence": {
                "method": "dense" | "sampled", "n_items", "n_subjects", "n_draws",
                "n_pairs", "partition",
                "mean_q3": {"mean", "lo", "hi"}, "mean_abs_q3": {...},
                "between_q3": {...} | None,
                "clusters": [{"cluster", "n_items", "within_q3", "within_q3_lo",
                              "within_q3_hi", "excess", "p_excess"}, ...],
                "top_pairs": [{"item", "item2", "q3", "q3_lo", "q3_hi", "p_positive",
                               "cluster", "cluster2"}, ...]
              },
              "test": {"statistic", "method", "ppc_p", "permutation_p", "partition",
                       "n_draws", "n_permutations", "alpha", "verdict"},
              "partitions": [{"partition", "n_clusters", "within_q3", "between_q3",
                              "excess", "excess_lo", "excess_hi", "p_excess", "ari"}, ...],
              "scenarios": {
                "names": [...], "kinds": [...], "reference", "groups",
                "subjects": [{"subject", "mean_rank": {scenario: r}, "rank_lo": {...},
                              "rank_hi": {...}, "accuracy": {...},
                              "accuracy_rank": {...}}, ...],
                "posterior" | "accuracy": {
                  "kendall_tau": {scenario: {scenario2: tau}},
                  "n_flips": {scenario: n},
                  "max_shift": {subject: shift}, "max_shift_scenario": {subject: name},
                  "p_rank_change": {subject: p},
                  "flips": [{"scenario", "higher", "lower", "ref_rank_higher",
                             "ref_rank_lower", "rank_higher", "rank_lower",
                             "p_reversed"}, ...]
                }
              },
              "timings": {step: seconds}
            }

        Subjects in the reference scenario's order; ``clusters`` and ``between_q3`` are empty
        / ``None`` without a partition; each ``flips`` keeps the :data:`JSON_FLIPS` most
        certain reversals.
    """
    dep, test, scen = result.dependence, result.test, result.scenarios
    interval = dep.attrs["interval"]

    def summary(values: np.ndarray) -> dict:
        mean, lo, hi = interval_summary(values, interval)
        return {"mean": mean, "lo": lo, "hi": hi}

    dependence = {
        key: dep.attrs[key]
        for key in ("method", "n_items", "n_subjects", "n_draws", "n_pairs", "partition")
    }
    dependence["mean_q3"] = summary(dep["mean_q3"].values)
    dependence["mean_abs_q3"] = summary(dep["mean_abs_q3"].values)
    dependence["between_q3"] = summary(dep["between_q3"].values) if "between_q3" in dep else None
    dependence["clusters"] = (
        cluster_table(dep).reset_index().to_dict("records") if "within_q3" in dep else []
    )
    dependence["top_pairs"] = dependent_pairs(dep).to_dict("records")

    names = [str(s) for s in scen["scenario"].values]
    labels = [str(s) for s in scen["subject"].values]
    per_subject = ("mean_rank", "rank_lo", "rank_hi", "accuracy", "accuracy_rank")
    scenarios = {
        "names": names,
        "kinds": [str(k) for k in scen["scenario_kind"].values],
        "reference": scen.attrs["reference"],
        "groups": scen.attrs["groups"],
        "subjects": [
            {
                "subject": subject,
                **{
                    var: dict(zip(names, scen[var].values[:, j], strict=True))
                    for var in per_subject
                },
            }
            for j, subject in enumerate(labels)
        ],
    }
    for basis, stab in result.stability.items():
        tau = stab["kendall_tau"].values
        scenarios[basis] = {
            "kendall_tau": {
                a: {b: tau[i, j] for j, b in enumerate(names)} for i, a in enumerate(names)
            },
            "n_flips": dict(zip(names, stab["n_flips"].values, strict=True)),
            **{
                var: dict(zip(labels, stab[var].values, strict=True))
                for var in ("max_shift", "max_shift_scenario", "p_rank_change")
            },
            "flips": result.flips[basis].head(JSON_FLIPS).to_dict("records"),
        }
    out = {
        "dependence": dependence,
        "test": {
            key: test.attrs[key]
            for key in (
                "statistic",
                "method",
                "ppc_p",
                "permutation_p",
                "partition",
                "n_draws",
                "n_permutations",
                "alpha",
                "verdict",
            )
        },
        "partitions": result.explained.reset_index().to_dict("records"),
        "scenarios": scenarios,
        "timings": result.timings,
    }
    return _json_safe(out)


def _json_safe(value):
    """Plain Python types throughout, ``None`` for NaN and infinities."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer | int):
        return int(value)
    if isinstance(value, np.floating | float):
        return json_number(value)
    if value is None or isinstance(value, str):
        return value
    return str(value)
