r"""Simulated benchmark results with a known truth.

:func:`simulate_responses` draws a leaderboard-like data set: evaluated models (subjects) come
in families whose abilities are correlated, questions (items) come in categories with their own
difficulty and discrimination, some cells may be missing completely at random, and clusters of
items may share a subject-specific random effect. The generating values come back as an
:class:`xarray.Dataset` so that fits can be checked against them.

The generative model, for subject :math:`j` in family :math:`f(j)` and item :math:`i` in
category :math:`k(i)` and (optionally) cluster :math:`g(i)`:

.. math::

    u_f &\sim N(0, 1), \qquad
    \theta_j = \sqrt{\rho}\, u_{f(j)} + \sqrt{1 - \rho}\, \varepsilon_j,
    \quad \varepsilon_j \sim N(0, 1)
    \quad\Rightarrow\quad \theta_j \sim N(0, 1),\ \operatorname{corr}(\theta_j, \theta_{j'})
    = \rho \text{ within a family},\\
    b_i &= \delta_{k(i)} + N(0, 1), \qquad
    \log a_i = \eta_{k(i)} + N(0, \sigma_a^2),\\
    \gamma_{jg} &\sim N(0, \sigma_\gamma^2), \qquad
    P(y_{ij} = 1) = c_i + (d_i - c_i)\,\sigma\big(a_i(\theta_j + \gamma_{j g(i)} - b_i)\big),

with category effects :math:`\delta_k = \tilde\delta_k - \bar{\tilde\delta}`,
:math:`\tilde\delta_k \sim N(0, \sigma_\delta^2)` (and :math:`\eta_k` likewise), centred so
that a single category has no effect; :math:`\gamma = 0` for items outside a cluster (the
testlet structure). The 1PL fixes :math:`a_i = 1`; the 2PL has :math:`c = 0, d = 1`; the 3PL
draws :math:`c_i \sim U(\text{guessing})`; the 4PL also :math:`1 - d_i \sim U(\text{slipping})`.
The testlet model is the 2PL with ``clusters``.

Two models with more than one ability per subject replace the last line:

* ``"bifactor"``: one specific trait per category, :math:`\eta_{jk} \sim N(0, 1)`, and
  :math:`\operatorname{logit} P = a_i(\theta_j - b_i) + s_i\,\eta_{j k(i)}` with specific
  loadings :math:`s_i = s \exp(N(0, \sigma_a^2))` (:math:`s` = ``specific_loading``);
* ``"mirt"``: :math:`K` abilities :math:`\boldsymbol\theta_j = C\boldsymbol\varepsilon_j`, each
  :math:`\varepsilon_{jt}` drawn like the unidimensional ability (families included) and
  :math:`CC^\top` the equicorrelation matrix of ``trait_correlation``; item :math:`i` has a
  primary trait :math:`t(i)` (spread like the categories), loadings :math:`a_{i t(i)} = a_i`
  and :math:`a_{ik} = \kappa\, a_i u_{ik}`, :math:`u_{ik} \sim U(0, 1)` on the others
  (:math:`\kappa` = ``cross_loading``; 0 gives simple structure), and
  :math:`\operatorname{logit} P = \mathbf a_i^\top \boldsymbol\theta_j - \lVert \mathbf a_i
  \rVert\, b_i` (:math:`b_i` is the multidimensional difficulty).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit

from bayesirt._validate import check_positive_int
from bayesirt.data.responses import Responses
from bayesirt.data.validation import ResponsesError
from bayesirt.irt import icc

__all__ = [
    "SIMULATION_MODELS",
    "simulate_graded",
    "simulate_responses",
    "simulate_routing",
    "simulate_scores",
]


@dataclass(frozen=True)
class _ItemSettings:
    """What the item-parameter draws of every model may use."""

    n_items: int
    category: np.ndarray
    n_categories: int
    category_difficulty_sd: float
    category_discrimination_sd: float
    discrimination_sd: float
    guessing: tuple[float, float]
    slipping: tuple[float, float]
    n_traits: int = 1
    cross_loading: float = 0.0
    specific_loading: float = 1.0


def _draw_logistic_items(
    rng: np.random.Generator,
    settings: _ItemSettings,
    *,
    free_discrimination: bool,
    guessing: bool,
    slipping: bool,
) -> dict[str, np.ndarray]:
    """Item parameters of the 1PL-4PL and the category effects behind them."""
    k = settings.category
    difficulty = _centred(rng.normal(0.0, settings.category_difficulty_sd, settings.n_categories))
    params = {"category_difficulty": difficulty, "b": difficulty[k] + rng.normal(size=k.size)}
    if free_discrimination:
        log_a = _centred(
            rng.normal(0.0, settings.category_discrimination_sd, settings.n_categories)
        )
        params["category_log_discrimination"] = log_a
        params["a"] = np.exp(log_a[k] + rng.normal(0.0, settings.discrimination_sd, k.size))
    else:
        params["a"] = np.ones(k.size)
    if guessing:
        params["c"] = rng.uniform(*settings.guessing, size=k.size)
    if slipping:
        params["d"] = 1.0 - rng.uniform(*settings.slipping, size=k.size)
    return params


_draw_2pl_items = partial(
    _draw_logistic_items, free_discrimination=True, guessing=False, slipping=False
)


def _draw_bifactor_items(rng: np.random.Generator, settings: _ItemSettings) -> dict:
    """The 2PL's item parameters and a specific loading per item."""
    params = _draw_2pl_items(rng, settings)
    spread = rng.normal(0.0, settings.discrimination_sd, settings.n_items)
    params["a_specific"] = settings.specific_loading * np.exp(spread)
    return params


def _draw_multidimensional_items(rng: np.random.Generator, settings: _ItemSettings) -> dict:
    """The 2PL's item parameters with ``a`` spread over the traits (item, trait)."""
    params = _draw_2pl_items(rng, settings)
    k, n = settings.n_traits, settings.n_items
    trait = rng.permutation(np.arange(n) % k)
    cross = settings.cross_loading * rng.uniform(size=(n, k))
    params["a"] = params["a"][:, None] * np.where(np.arange(k) == trait[:, None], 1.0, cross)
    params["item_trait"] = trait
    return params


#: Response models :func:`simulate_responses` draws from: name → item-parameter draw.
SIMULATION_MODELS: dict[str, Callable[[np.random.Generator, _ItemSettings], dict]] = {
    "1pl": partial(_draw_logistic_items, free_discrimination=False, guessing=False, slipping=False),
    "2pl": _draw_2pl_items,
    "3pl": partial(_draw_logistic_items, free_discrimination=True, guessing=True, slipping=False),
    "4pl": partial(_draw_logistic_items, free_discrimination=True, guessing=True, slipping=True),
    "bifactor": _draw_bifactor_items,
    "mirt": _draw_multidimensional_items,
}


def simulate_responses(
    n_subjects: int,
    n_items: int,
    *,
    model: str = "2pl",
    seed: int | np.random.Generator,
    n_families: int = 1,
    family_correlation: float = 0.0,
    n_categories: int = 1,
    category_difficulty_sd: float = 0.5,
    category_discrimination_sd: float = 0.2,
    discrimination_sd: float = 0.3,
    guessing: tuple[float, float] = (0.0, 0.25),
    slipping: tuple[float, float] = (0.0, 0.1),
    missing_fraction: float = 0.0,
    clusters: int | None = None,
    cluster_size: int = 10,
    cluster_sd: float | Sequence[float] = 1.0,
    n_traits: int | None = None,
    trait_correlation: float = 0.0,
    cross_loading: float = 0.0,
    specific_loading: float = 1.0,
    trials: int | None = None,
) -> tuple[Responses, xr.Dataset]:
    r"""Draw binary responses with a known truth (see the module docstring for the model).

    Parameters
    ----------
    n_subjects, n_items : int
        Table size (at least 2 each).
    model : {"1pl", "2pl", "3pl", "4pl", "bifactor", "mirt"}
        The response model (:data:`SIMULATION_MODELS`).
    seed : int or numpy.random.Generator
        Everything is drawn from ``numpy.random.default_rng(seed)``: equal seeds, equal data.
    n_families : int
        Subjects are spread over this many families, as evenly as possible, at random.
    family_correlation : float in [0, 1)
        :math:`\rho`, the correlation of two abilities in the same family. The marginal
        ability stays :math:`N(0, 1)`.
    n_categories : int
        Items are spread over this many categories, as evenly as possible, at random.
    category_difficulty_sd, category_discrimination_sd : float
        :math:`\sigma_\delta`, :math:`\sigma_\eta`: spread of the category effects on the
        difficulty and on the log discrimination (the latter unused by the 1PL, whose
        discrimination is 1).
    discrimination_sd : float
        :math:`\sigma_a`, spread of the log discrimination within a category.
    guessing, slipping : (float, float)
        Ranges of the lower asymptote :math:`c` (3PL, 4PL) and of :math:`1 - d` (4PL).
    missing_fraction : float in [0, 1)
        Share of cells removed completely at random (exactly ``round(fraction * cells)``).
    clusters : int, optional
        Plant this many clusters of ``cluster_size`` items each (chosen at random), with a
        subject × cluster effect :math:`\gamma_{jg} \sim N(0, \text{cluster\_sd}^2)` added to
        the ability on the cluster's items: responses within a cluster correlate beyond what
        the ability explains. Not with ``"bifactor"`` or ``"mirt"``.
    cluster_sd : float or sequence of float
        The cluster effects' sd, one for all clusters or one per cluster.
    n_traits : int, optional
        ``"mirt"`` only: the number of abilities :math:`K` (default 2).
    trait_correlation : float in [0, 1)
        ``"mirt"`` only: the correlation between two abilities of a subject.
    cross_loading : float >= 0
        ``"mirt"`` only: :math:`\kappa`, the scale of the loadings off an item's own trait.
    specific_loading : float > 0
        ``"bifactor"`` only: :math:`s`, the typical loading on the specific traits (one per
        category; needs ``n_categories >= 2``).
    trials : int >= 1, optional
        Draw binomial responses instead (``response_type="binomial"``): each observed cell
        gets ``trials`` independent Bernoulli draws at the model's probability
        :math:`P(y_{ij} = 1)`, and its response is the number of successes k of ``trials``.
        The truth, the missing cells and every other draw are those of the same seed
        without ``trials`` (the successes are drawn last, from the same generator); only the
        responses differ. Without it the responses are binary, as before.

    Returns
    -------
    responses : Responses
        Item metadata ``category`` (and ``cluster``, NaN outside clusters); subject metadata
        ``family``. Binary, or binomial with ``trials``.
    truth : xarray.Dataset
        ``theta(subject)``, ``a(item)``, ``b(item)``, ``c(item)`` / ``d(item)`` where the
        model has them, ``subject_family(subject)``, ``item_category(item)``,
        ``family_ability(family)`` (:math:`\sqrt\rho\,u_f`), ``category_difficulty(category)``,
        ``category_log_discrimination(category)`` (not for the 1PL), and with clusters
        ``item_cluster(item)``, ``cluster_effect(subject, cluster)`` and
        ``cluster_sd(cluster)``. ``"bifactor"`` adds ``a_specific(item)`` and
        ``theta_specific(subject, category)``; ``"mirt"`` has ``theta(subject, trait)``,
        ``a(item, trait)`` and ``item_trait(item)``, also in the item metadata as ``trait``.
        Coordinates are the labels of ``responses``; the settings are in ``attrs``.
    """
    if model not in SIMULATION_MODELS:
        raise ResponsesError(
            f"unknown model {model!r}; known models: {', '.join(SIMULATION_MODELS)}"
        )
    _check_settings(
        n_subjects=n_subjects,
        n_items=n_items,
        n_families=n_families,
        family_correlation=family_correlation,
        n_categories=n_categories,
        guessing=guessing,
        slipping=slipping,
        missing_fraction=missing_fraction,
        clusters=clusters,
        cluster_size=cluster_size,
        cluster_sd=cluster_sd,
        model=model,
        n_traits=n_traits,
        trait_correlation=trait_correlation,
        cross_loading=cross_loading,
        specific_loading=specific_loading,
    )
    if trials is not None and (
        isinstance(trials, bool | np.bool_)
        or not isinstance(trials, int | np.integer)
        or trials < 1
    ):
        raise ResponsesError(f"trials must be a whole number >= 1, got {trials!r}")
    rng = np.random.default_rng(seed)
    subjects = _labels("model", n_subjects)
    items = _labels("item", n_items)
    families = _labels("family", n_families)
    categories = _labels("category", n_categories)

    family = rng.permutation(np.arange(n_subjects) % n_families)
    family_ability = np.sqrt(family_correlation) * rng.normal(size=n_families)
    theta = family_ability[family] + np.sqrt(1.0 - family_correlation) * rng.normal(size=n_subjects)

    category = rng.permutation(np.arange(n_items) % n_categories)
    settings = _ItemSettings(
        n_items=n_items,
        category=category,
        n_categories=n_categories,
        category_difficulty_sd=category_difficulty_sd,
        category_discrimination_sd=category_discrimination_sd,
        discrimination_sd=discrimination_sd,
        guessing=tuple(guessing),
        slipping=tuple(slipping),
        n_traits=2 if n_traits is None else int(n_traits),
        cross_loading=cross_loading,
        specific_loading=specific_loading,
    )
    params = SIMULATION_MODELS[model](rng, settings)
    item_params = {k: params[k] for k in ("a", "b", "c", "d") if k in params}
    traits = {}
    if model == "mirt":
        columns = [theta]
        for _ in range(settings.n_traits - 1):
            shared = np.sqrt(family_correlation) * rng.normal(size=n_families)
            own = np.sqrt(1.0 - family_correlation) * rng.normal(size=n_subjects)
            columns.append(shared[family] + own)
        k = settings.n_traits
        corr = np.full((k, k), trait_correlation) + (1.0 - trait_correlation) * np.eye(k)
        traits["theta"] = np.column_stack(columns) @ np.linalg.cholesky(corr).T
    elif model == "bifactor":
        traits["theta_specific"] = rng.normal(size=(n_subjects, n_categories))

    ability = np.repeat(theta[:, None], n_items, axis=1)
    cluster = np.full(n_items, -1)
    if clusters:
        chosen = rng.choice(n_items, size=clusters * cluster_size, replace=False)
        cluster[chosen] = np.repeat(np.arange(clusters), cluster_size)
        cluster_effect = rng.normal(0.0, cluster_sd, size=(n_subjects, clusters))
        in_cluster = cluster >= 0
        ability[:, in_cluster] += cluster_effect[:, cluster[in_cluster]]

    if model == "mirt":
        a = item_params["a"]
        norm = np.sqrt(np.sum(a**2, axis=1))
        prob = expit(traits["theta"] @ a.T - norm * item_params["b"])
    elif model == "bifactor":
        specific = params["a_specific"] * traits["theta_specific"][:, category]
        prob = expit(item_params["a"] * (theta[:, None] - item_params["b"]) + specific)
    else:
        prob = icc(ability, **{k: v[None, :] for k, v in item_params.items()})
    y = (rng.uniform(size=prob.shape) < prob).astype(float)
    n_missing = round(missing_fraction * y.size)
    y.flat[rng.choice(y.size, size=n_missing, replace=False)] = np.nan

    item_meta = pd.DataFrame({"category": categories[category]}, index=items)
    if model == "mirt":
        trait_labels = _labels("trait", settings.n_traits)
        item_meta["trait"] = trait_labels[params["item_trait"]]
    if clusters:
        cluster_labels = _labels("cluster", clusters)
        item_meta["cluster"] = pd.Series(cluster_labels[cluster], index=items).where(cluster >= 0)
    subject_meta = pd.DataFrame({"family": families[family]}, index=subjects)
    if trials is None:
        responses = Responses.from_wide(
            pd.DataFrame(y, index=subjects, columns=items),
            item_meta=item_meta,
            subject_meta=subject_meta,
        )
    else:
        # drawn after everything else, so that the rest is that of the seed without trials
        successes = rng.binomial(int(trials), prob).astype(float)
        successes[np.isnan(y)] = np.nan
        long = (
            pd.DataFrame(successes, index=subjects, columns=items)
            .rename_axis(index="subject", columns="item")
            .stack(future_stack=True)
            .rename("response")
            .reset_index()
        )
        long["trials"] = int(trials)
        responses = Responses.from_long(
            long,
            item_meta=item_meta,
            subject_meta=subject_meta,
            response_type="binomial",
            trials="trials",
        )

    truth = xr.Dataset(
        {
            "theta": ("subject", theta),
            **{k: ("item", v) for k, v in item_params.items() if v.ndim == 1},
            "subject_family": ("subject", families[family].to_numpy(dtype=object)),
            "item_category": ("item", categories[category].to_numpy(dtype=object)),
            "family_ability": ("family", family_ability),
            **{
                k: ("category", params[k])
                for k in ("category_difficulty", "category_log_discrimination")
                if k in params
            },
        },
        coords={
            "subject": subjects.to_numpy(dtype=object),
            "item": items.to_numpy(dtype=object),
            "family": families.to_numpy(dtype=object),
            "category": categories.to_numpy(dtype=object),
        },
        attrs={
            "model": model,
            "family_correlation": family_correlation,
            "category_difficulty_sd": category_difficulty_sd,
            "category_discrimination_sd": category_discrimination_sd,
            "discrimination_sd": discrimination_sd,
            "missing_fraction": missing_fraction,
            **({"seed": seed} if isinstance(seed, int) else {}),
            **({"guessing": list(guessing)} if "c" in params else {}),
            **({"slipping": list(slipping)} if "d" in params else {}),
            **({"trials": int(trials)} if trials is not None else {}),
        },
    )
    if clusters:
        truth["item_cluster"] = ("item", item_meta["cluster"].to_numpy(dtype=object))
        truth["cluster_effect"] = (("subject", "cluster"), cluster_effect)
        truth["cluster_sd"] = ("cluster", np.broadcast_to(cluster_sd, (clusters,)).astype(float))
        truth = truth.assign_coords(cluster=cluster_labels.to_numpy(dtype=object))
        truth.attrs["cluster_sd"] = np.asarray(cluster_sd, dtype=float).tolist()
    if model == "mirt":
        truth = truth.drop_vars("theta").assign_coords(trait=trait_labels.to_numpy(dtype=object))
        truth["theta"] = (("subject", "trait"), traits["theta"])
        truth["a"] = (("item", "trait"), item_params["a"])
        truth["item_trait"] = ("item", item_meta["trait"].to_numpy(dtype=object))
        truth.attrs.update(
            n_traits=settings.n_traits,
            trait_correlation=trait_correlation,
            cross_loading=cross_loading,
        )
    if model == "bifactor":
        truth["a_specific"] = ("item", params["a_specific"])
        truth["theta_specific"] = (("subject", "category"), traits["theta_specific"])
        truth.attrs["specific_loading"] = specific_loading
    return responses, truth


def _centred(effects: np.ndarray) -> np.ndarray:
    """Effects minus their mean: with a single category there is no effect."""
    return effects - effects.mean()


def _labels(prefix: str, n: int) -> pd.Index:
    """``prefix_00`` ... zero-padded so that labels sort in order."""
    width = len(str(n - 1))
    return pd.Index([f"{prefix}_{i:0{width}d}" for i in range(n)])


def _check_settings(
    *,
    n_subjects: int,
    n_items: int,
    n_families: int,
    family_correlation: float,
    n_categories: int,
    guessing: tuple[float, float],
    slipping: tuple[float, float],
    missing_fraction: float,
    clusters: int | None,
    cluster_size: int,
    cluster_sd: float | Sequence[float],
    model: str,
    n_traits: int | None,
    trait_correlation: float,
    cross_loading: float,
    specific_loading: float,
) -> None:
    problems = []
    if n_subjects < 2 or n_items < 2:
        problems.append(f"need n_subjects >= 2 and n_items >= 2, got {n_subjects}, {n_items}")
    if not 1 <= n_families <= n_subjects:
        problems.append(f"n_families={n_families} must be between 1 and n_subjects")
    if not 1 <= n_categories <= n_items:
        problems.append(f"n_categories={n_categories} must be between 1 and n_items")
    if not 0.0 <= family_correlation < 1.0:
        problems.append(f"family_correlation={family_correlation} must be in [0, 1)")
    if not 0.0 <= missing_fraction < 1.0:
        problems.append(f"missing_fraction={missing_fraction} must be in [0, 1)")
    for name, (low, high) in (("guessing", guessing), ("slipping", slipping)):
        if not 0.0 <= low <= high < 1.0:
            problems.append(f"{name}={(low, high)} must satisfy 0 <= low <= high < 1")
    if guessing[1] >= 1.0 - slipping[1]:
        problems.append(
            f"guessing up to {guessing[1]} and slipping up to {slipping[1]} allow c >= d"
        )
    if clusters is not None and (clusters < 0 or clusters * cluster_size > n_items):
        problems.append(
            f"clusters={clusters} of cluster_size={cluster_size} items do not fit in "
            f"{n_items} items"
        )
    sd = np.asarray(cluster_sd, dtype=float)
    if sd.ndim > 1 or (sd.ndim == 1 and sd.size != (clusters or 0)) or np.any(~(sd >= 0)):
        problems.append(
            f"cluster_sd={cluster_sd!r} must be one non-negative number or one per cluster "
            f"({clusters or 0})"
        )
    if clusters and model in ("bifactor", "mirt"):
        problems.append(f"clusters (testlet effects) are not drawn for model={model!r}")
    if n_traits is not None and (model != "mirt" or n_traits < 1):
        problems.append(f"n_traits={n_traits} needs model='mirt' and a positive integer")
    if not 0.0 <= trait_correlation < 1.0:
        problems.append(f"trait_correlation={trait_correlation} must be in [0, 1)")
    if cross_loading < 0:
        problems.append(f"cross_loading={cross_loading} must be non-negative")
    if specific_loading <= 0:
        problems.append(f"specific_loading={specific_loading} must be positive")
    if model == "bifactor" and n_categories < 2:
        problems.append("model='bifactor' needs n_categories >= 2 (one specific trait each)")
    if problems:
        raise ResponsesError("; ".join(problems))


def simulate_graded(
    n_subjects: int,
    n_items: int,
    *,
    n_levels: int | Sequence[int] = 4,
    model: str = "grm",
    seed: int | np.random.Generator,
    discrimination_sd: float = 0.3,
    missing_fraction: float = 0.0,
) -> tuple[Responses, xr.Dataset]:
    r"""Draw ordinal scores from the graded response or partial credit model with a known truth.

    Item :math:`i` is scored :math:`1, \dots, L_i`, :math:`\theta_j \sim N(0, 1)`,
    :math:`\log a_i \sim N(0, \sigma_a^2)`, and thresholds :math:`b_{ik}`: the item's location
    :math:`N(0, 1)` plus evenly spaced offsets :math:`-1.5 \dots 1.5`, each moved by
    :math:`N(0, 0.2^2)`, sorted. ``"grm"``: :math:`P(y_{ij} \ge k + 1) = \sigma(a_i\theta_j +
    d_{ik})` with :math:`d_{ik} = -a_i b_{ik}`; ``"gpcm"``: :math:`P(y_{ij} = k + 1) \propto
    \exp(k a_i\theta_j + d_{ik})` with :math:`d_{ik} = -a_i \sum_{v \le k} b_{iv}`
    (:class:`bayesirt.models.PartialCredit`).

    Parameters
    ----------
    n_subjects, n_items : int
        Table size (at least 2 each).
    n_levels : int or sequence of int
        Score levels of every item, or one per item (at least 2).
    model : {"grm", "gpcm"}
        The response model.
    seed : int or numpy.random.Generator
        Everything is drawn from ``numpy.random.default_rng(seed)``.
    discrimination_sd : float
        :math:`\sigma_a`.
    missing_fraction : float in [0, 1)
        Share of cells removed completely at random.

    Returns
    -------
    (Responses, xarray.Dataset)
        Ordinal responses (``response_type="ordinal"``; an item keeps only the levels it
        was given) and the truth: ``theta``, ``a`` and ``intercepts`` (item × threshold, NaN
        beyond an item's own levels).
    """
    if n_subjects < 2 or n_items < 2:
        raise ResponsesError(f"need n_subjects >= 2 and n_items >= 2, got {n_subjects}, {n_items}")
    if not 0.0 <= missing_fraction < 1.0:
        raise ResponsesError(f"missing_fraction={missing_fraction} must be in [0, 1)")
    if model not in ("grm", "gpcm"):
        raise ResponsesError(f"model={model!r} must be 'grm' or 'gpcm'")
    levels = np.broadcast_to(np.asarray(n_levels, dtype=int), (n_items,))
    if levels.min() < 2:
        raise ResponsesError(f"n_levels must be at least 2, got {int(levels.min())}")
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n_subjects)
    a = np.exp(rng.normal(0.0, discrimination_sd, size=n_items))
    intercepts = np.full((n_items, int(levels.max()) - 1), np.nan)
    for i, n in enumerate(levels):
        offsets = np.linspace(-1.5, 1.5, n - 1) + rng.normal(0.0, 0.2, size=n - 1)
        thresholds = np.sort(rng.normal() + offsets)
        intercepts[i, : n - 1] = -a[i] * (thresholds if model == "grm" else np.cumsum(thresholds))
    uniform = rng.uniform(size=(n_subjects, n_items, 1))
    if model == "grm":
        at_least = expit(a[None, :, None] * theta[:, None, None] + intercepts)
    else:
        codes = np.arange(1, intercepts.shape[1] + 1)
        eta = a[None, :, None] * theta[:, None, None] * codes + intercepts
        eta = np.concatenate([np.zeros((n_subjects, n_items, 1)), eta], axis=-1)
        weight = np.exp(np.where(np.isnan(eta), -np.inf, eta - np.nanmax(eta, -1, keepdims=True)))
        at_least = 1.0 - np.cumsum(weight / weight.sum(-1, keepdims=True), axis=-1)[..., :-1]
        at_least = np.where(np.isnan(intercepts)[None], np.nan, at_least)
    scores = 1.0 + np.nansum(np.where(np.isnan(at_least), 0.0, uniform < at_least), axis=-1)
    responses, subjects, items = _score_table(scores, missing_fraction, rng, "ordinal")
    truth = xr.Dataset(
        {
            "theta": ("subject", theta),
            "a": ("item", a),
            "intercepts": (("item", "threshold"), intercepts),
        },
        coords={"subject": subjects, "item": items, "threshold": np.arange(1, levels.max())},
        attrs={"model": model, "seed": seed if isinstance(seed, int) else "generator"},
    )
    return responses, truth


def simulate_scores(
    n_subjects: int,
    n_items: int,
    *,
    seed: int | np.random.Generator,
    discrimination_sd: float = 0.3,
    cutpoints: tuple[float, float] = (-3.0, 3.0),
    precision: float = 8.0,
    missing_fraction: float = 0.0,
) -> tuple[Responses, xr.Dataset]:
    r"""Draw continuous scores in [0, 1] from the ordered beta model with a known truth
    (:class:`bayesirt.models.OrderedBeta`).

    :math:`\theta_j \sim N(0, 1)`, :math:`\log a_i \sim N(0, \sigma_a^2)`, intercepts
    :math:`\alpha_i \sim N(0, 1)`, precisions :math:`\log\phi_i \sim N(\log\phi_0, 0.3^2)`;
    with :math:`\eta = a_i\theta_j + \alpha_i` a score is 0 with probability
    :math:`1 - \sigma(\eta - \kappa_1)`, 1 with probability :math:`\sigma(\eta - \kappa_2)`,
    and otherwise drawn from :math:`\operatorname{Beta}(\sigma(\eta)\phi_i,
    \sigma(-\eta)\phi_i)`.

    Parameters
    ----------
    n_subjects, n_items : int
        Table size (at least 2 each).
    seed : int or numpy.random.Generator
        Everything is drawn from ``numpy.random.default_rng(seed)``.
    discrimination_sd : float
        :math:`\sigma_a`.
    cutpoints : (float, float)
        :math:`\kappa_1 < \kappa_2`.
    precision : float
        :math:`\phi_0`, the typical precision of the interior scores.
    missing_fraction : float in [0, 1)
        Share of cells removed completely at random.

    Returns
    -------
    (Responses, xarray.Dataset)
        Continuous responses and the truth: ``theta``, ``a``, ``intercept``, ``phi`` and
        ``cutpoints``.
    """
    if n_subjects < 2 or n_items < 2:
        raise ResponsesError(f"need n_subjects >= 2 and n_items >= 2, got {n_subjects}, {n_items}")
    if not 0.0 <= missing_fraction < 1.0:
        raise ResponsesError(f"missing_fraction={missing_fraction} must be in [0, 1)")
    low, high = cutpoints
    if not low < high:
        raise ResponsesError(f"cutpoints={cutpoints} must be increasing")
    if not precision > 0:
        raise ResponsesError(f"precision={precision} must be positive")
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n_subjects)
    a = np.exp(rng.normal(0.0, discrimination_sd, size=n_items))
    intercept = rng.normal(size=n_items)
    phi = np.exp(rng.normal(np.log(precision), 0.3, size=n_items))
    eta = a[None, :] * theta[:, None] + intercept[None, :]
    interior = rng.beta(expit(eta) * phi, expit(-eta) * phi)
    uniform = rng.uniform(size=eta.shape)
    scores = np.where(
        uniform < 1.0 - expit(eta - low),
        0.0,
        np.where(uniform > 1.0 - expit(eta - high), 1.0, interior),
    )
    responses, subjects, items = _score_table(scores, missing_fraction, rng, "continuous")
    truth = xr.Dataset(
        {
            "theta": ("subject", theta),
            "a": ("item", a),
            "intercept": ("item", intercept),
            "phi": ("item", phi),
            "cutpoints": ("cutpoint", np.array([low, high], dtype=float)),
        },
        coords={"subject": subjects, "item": items, "cutpoint": ["low", "high"]},
        attrs={"model": "beta", "seed": seed if isinstance(seed, int) else "generator"},
    )
    return responses, truth


def _score_table(
    scores: np.ndarray, missing_fraction: float, rng: np.random.Generator, response_type: str
) -> tuple[Responses, pd.Index, pd.Index]:
    """Simulated subjects × items ``scores`` with a share of cells removed completely at
    random, as Responses of ``response_type``, and the subject and item labels."""
    cells = scores.size
    missing = rng.choice(cells, size=round(missing_fraction * cells), replace=False)
    scores.reshape(-1)[missing] = np.nan
    subjects, items = _labels("model", scores.shape[0]), _labels("item", scores.shape[1])
    wide = pd.DataFrame(scores, index=subjects, columns=items)
    long = wide.rename_axis(index="subject", columns="item").stack(future_stack=True)
    frame = long.rename("response").reset_index()
    return Responses.from_long(frame, response_type=response_type), subjects, items


def simulate_routing(
    n_subjects: int = 60,
    n_items: int = 240,
    *,
    n_features: int = 4,
    n_traits: int = 2,
    n_benchmarks: int = 3,
    benchmark_sd: float = 0.5,
    residual_sd: float = 0.3,
    benchmark_ability_sd: float = 0.0,
    seed: int = 0,
) -> tuple[Responses, pd.DataFrame, xr.Dataset]:
    r"""Several benchmarks whose items' parameters follow their features: the generative model
    of :class:`bayesirt.models.ExplanatoryMIRT`, with the truth in that model's frame.

    Items are split evenly into benchmarks ``bench_1`` ... (item metadata column
    ``benchmark``); features :math:`x_i = m_{g(i)} + N(0, I)` with benchmark centres
    :math:`m_g \sim N(0, 0.5^2 I)`, standardised over the items into :math:`z_i`, which
    enter as deviations :math:`w_i = z_i - \bar z_{g(i)}` from their benchmark's mean (the
    centres tell the benchmarks apart, as prompt formats do, and carry no signal). Then

    .. math::

        d_i &= 0.3 + w_i^\top\beta_d + \tau u^d_{g(i)} + s\,\varepsilon^d_i, &
        \beta_d &\sim N(0, 0.6^2),\\
        \log a_{i1} &= w_i^\top\beta_\ell + 0.2\,\tau u^\ell_{g(i)} + 0.5\,s\,\varepsilon^\ell_i,
        & \beta_\ell &\sim N(0, 0.15^2),\\
        c_{ik} &= w_i^\top B_{\cdot k} + \tau u^c_{g(i)k} + s\,\varepsilon^c_{ik}
        - \text{(item mean)}, & B &\sim N(0, 0.5^2),

    :math:`\tau` = ``benchmark_sd``, :math:`s` = ``residual_sd``, all :math:`u, \varepsilon
    \sim N(0, 1)`; abilities are standard normal draws made exactly orthonormal over the
    subjects (mean 0, sd 1, no sample correlation), as the model identifies them. Each subject
    has an ability of its own on each benchmark, :math:`\gamma_{jg} = \sigma_\gamma z_{jg}`
    (:math:`\sigma_\gamma` = ``benchmark_ability_sd``, :math:`z` standard normal centred over
    the subjects), and :math:`\operatorname{logit} P = \mathbf a_i^\top\boldsymbol\theta_j +
    a_{i1}\gamma_{j g(i)} + d_i`.

    Returns
    -------
    responses : Responses
        Complete binary table, item metadata ``benchmark``.
    features : pandas.DataFrame
        :math:`x`, one row per item, columns ``x_1`` ...
    truth : xarray.Dataset
        ``theta`` (subject, trait), ``a`` (item, trait), ``intercept``, ``p`` (subject, item),
        ``beta_intercept``, ``beta_log_a`` (feature), ``beta_a_contrast`` (feature,
        contrast), ``benchmark`` (item), ``benchmark_ability`` (subject, benchmark).
    """
    for name, value in (("n_features", n_features), ("n_traits", n_traits)):
        check_positive_int(name, value)
    check_positive_int("n_benchmarks", n_benchmarks)
    rng = np.random.default_rng(seed)
    k, p = int(n_traits), int(n_features)
    codes = np.arange(n_items) * n_benchmarks // n_items
    x = rng.normal(0.0, 0.5, (n_benchmarks, p))[codes] + rng.standard_normal((n_items, p))
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    within = z - np.stack([z[codes == g].mean(axis=0) for g in range(n_benchmarks)])[codes]
    beta_d = rng.normal(0.0, 0.6, p)
    beta_l = rng.normal(0.0, 0.15, p)
    beta_c = rng.normal(0.0, 0.5, (p, k - 1))
    tau, s = float(benchmark_sd), float(residual_sd)
    intercept = (
        0.3
        + within @ beta_d
        + tau * rng.standard_normal(n_benchmarks)[codes]
        + s * rng.standard_normal(n_items)
    )
    general = np.exp(
        within @ beta_l
        + 0.2 * tau * rng.standard_normal(n_benchmarks)[codes]
        + 0.5 * s * rng.standard_normal(n_items)
    )
    contrast = (
        within @ beta_c
        + tau * rng.standard_normal((n_benchmarks, k - 1))[codes]
        + s * rng.standard_normal((n_items, k - 1))
    )
    a = np.column_stack([general, contrast - contrast.mean(axis=0)])
    raw = rng.standard_normal((n_subjects, k))
    q, _ = np.linalg.qr(raw - raw.mean(axis=0))
    theta = q * np.sqrt(n_subjects) * np.sign(np.sum(q * raw, axis=0))
    gamma = np.zeros((n_subjects, n_benchmarks))
    if benchmark_ability_sd > 0:  # drawn only when asked for: other settings keep their data
        gamma = benchmark_ability_sd * rng.standard_normal((n_subjects, n_benchmarks))
        gamma -= gamma.mean(axis=0)
    prob = expit(theta @ a.T + gamma[:, codes] * a[:, 0] + intercept)
    y = (rng.random(prob.shape) < prob).astype(float)

    subjects, items = _labels("subject", n_subjects), _labels("item", n_items)
    benchmarks = pd.Index([f"bench_{g + 1}" for g in range(n_benchmarks)])[codes]
    features = pd.DataFrame(
        x, index=pd.Index(items, name="item"), columns=[f"x_{f + 1}" for f in range(p)]
    )
    responses = Responses.from_wide(
        pd.DataFrame(y, index=subjects, columns=items),
        item_meta=pd.DataFrame({"benchmark": benchmarks}, index=items),
    )
    traits = [f"trait_{t + 1}" for t in range(k)]
    truth = xr.Dataset(
        {
            "theta": (("subject", "trait"), theta),
            "a": (("item", "trait"), a),
            "intercept": ("item", intercept),
            "p": (("subject", "item"), prob),
            "beta_intercept": ("feature", beta_d),
            "beta_log_a": ("feature", beta_l),
            "beta_a_contrast": (("feature", "contrast"), beta_c),
            "benchmark": ("item", np.asarray(benchmarks)),
            "benchmark_ability": (("subject", "benchmark_label"), gamma),
        },
        coords={
            "subject": subjects,
            "item": items,
            "trait": traits,
            "contrast": traits[1:],
            "feature": features.columns,
            "benchmark_label": [f"bench_{g + 1}" for g in range(n_benchmarks)],
        },
    )
    return responses, features, truth
