"""Every analysis the diagnostics report shows, computed apart from its rendering.

:func:`report_inputs` runs on the fits of :func:`bayesirt.reports.build_report` what its
sections present: the posterior predictive checks of the first fit, its ranking and benchmark
quality (item fit, information, separability), the person fit of its subjects, and the PSIS-LOO
comparison of the fits by response and by item when there are several. :class:`ReportInputs`
holds the results; the report only draws them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import arviz as az
import pandas as pd
import xarray as xr

from bayesirt.analysis.audit import audit
from bayesirt.analysis.compare import LOO_UNITS, ParetoKWarning, compare
from bayesirt.analysis.posterior import fitted_responses
from bayesirt.analysis.ppc import STATISTICS, ppc
from bayesirt.analysis.quality import BenchmarkQuality, assess_quality
from bayesirt.analysis.ranking import rank
from bayesirt.inference.io import data_fingerprint

__all__ = ["STAGES", "ReportInputs", "report_inputs"]

#: What :func:`report_inputs` announces to its ``progress`` callback, in order: the ids of the
#: report's sections whose analyses it runs.
STAGES = ("ppc", "item-fit", "quality", "ranking", "person-fit", "comparison")


@dataclass(frozen=True)
class ReportInputs:
    """The analyses of the report's sections (from :func:`report_inputs`).

    Attributes
    ----------
    checks : xarray.Dataset or None
        The posterior predictive checks of the first fit (:func:`bayesirt.analysis.ppc.ppc`
        with every statistic of :data:`~bayesirt.analysis.ppc.STATISTICS`); None when
        ``unavailable`` (the checks are of right/wrong answers).
    ranking : xarray.Dataset or None
        :func:`bayesirt.analysis.rank` of the first fit; None when ``unavailable``.
    person_fit : dict of str to pandas.DataFrame, or None
        :func:`bayesirt.analysis.audit.audit` of the first fit: the person fit of its
        subjects, with ``item_groups`` the screen per group of items and, for a fit of the
        DIF model, its DIF; None when ``unavailable``.
    quality : BenchmarkQuality or None
        :func:`bayesirt.analysis.assess_quality` of the first fit, with ``ranking`` and the
        item fit of ``checks``; None when ``unavailable``.
    unavailable : str or None
        Why there is no ranking and no quality (and no checks): the error of a model without a
        unidimensional ability and binary item curves (``theta``, ``a``, ``b``); None when
        there are all.
    same_data : bool
        Whether all the fits were made on the same data (their fingerprints agree).
    comparison : dict of str to pandas.DataFrame, or None
        :func:`bayesirt.analysis.compare` of all the fits by left-out unit (``"response"``,
        ``"item"``); None with one fit or when the fits were made on different data.
    """

    checks: xr.Dataset | None
    ranking: xr.Dataset | None
    person_fit: dict[str, pd.DataFrame] | None
    quality: BenchmarkQuality | None
    unavailable: str | None
    same_data: bool
    comparison: dict[str, pd.DataFrame] | None


def report_inputs(
    fits: Mapping[str, az.InferenceData],
    *,
    se_max: float = 0.3,
    alpha: float = 0.05,
    a_min: float = 0.25,
    top: int = 10,
    level: float = 0.95,
    n_draws: int | None = 400,
    random_seed: int = 0,
    item_groups: str | None = None,
    progress: Callable[[str], object] | None = None,
) -> ReportInputs:
    """Run the analyses of the diagnostics report.

    Parameters
    ----------
    fits : mapping of name to InferenceData
        Fits made by :func:`bayesirt.fit`, in order. The first is analysed in detail; with
        two or more made on the same data, all are compared by PSIS-LOO.
    se_max, alpha, a_min, top, level
        As in :func:`bayesirt.analysis.quality.assess_quality`.
    n_draws : int or None
        Posterior draws of the posterior predictive checks (one replication each).
    random_seed : int
        Seed of the checks.
    item_groups : str, optional
        Item metadata column of the first fit's responses: the person fit also screens each
        subject's answers per group of items (:func:`~bayesirt.analysis.audit.audit`).
    progress : callable, optional
        Called with each stage of :data:`STAGES` as it starts: ``"ppc"`` before the checks,
        ``"item-fit"`` before the ranking and the quality (they are computed together, so
        ``"quality"`` and ``"ranking"`` follow at once, and only when there are both),
        ``"person-fit"`` before the person fit (with the checks), and ``"comparison"`` before
        the LOO comparison of two or more fits.

    Returns
    -------
    ReportInputs
    """
    if not fits:
        raise ValueError("report_inputs needs at least one fit")
    announce = progress if progress is not None else _silent
    primary = next(iter(fits.values()))
    if item_groups is not None:  # a missing column is named before any analysis runs
        fitted_responses(primary).item_groups(item_groups)
    announce("ppc")
    checks = ranking = quality = unavailable = person_fit = None
    try:
        checks = ppc(
            primary, statistics=tuple(STATISTICS), n_draws=n_draws, random_seed=random_seed
        )
    except ValueError as err:  # responses that are not right/wrong (graded models)
        unavailable = str(err)
    announce("item-fit")
    if checks is not None:  # the item fit and quality stand on the checks
        try:
            ranking = rank(primary, level=level)
            quality = assess_quality(
                primary,
                se_max=se_max,
                alpha=alpha,
                a_min=a_min,
                top=top,
                level=level,
                ranking=ranking,
                item_fit=checks,
            )
        except ValueError as err:  # models without a unidimensional theta / a / b
            ranking, unavailable = None, str(err)
        else:
            announce("quality")
            announce("ranking")
        announce("person-fit")
        person_fit = audit(
            primary,
            item_groups=item_groups,
            alpha=alpha,
            n_draws=n_draws,
            random_seed=random_seed,
        )
    same_data = len({data_fingerprint(idata) for idata in fits.values()}) == 1
    comparison = None
    if len(fits) > 1:
        announce("comparison")
        if same_data:
            comparison = {}
            for unit in LOO_UNITS:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ParetoKWarning)  # shown in the table instead
                    comparison[unit] = compare(dict(fits), unit=unit)
    return ReportInputs(
        checks=checks,
        ranking=ranking,
        person_fit=person_fit,
        quality=quality,
        unavailable=unavailable,
        same_data=same_data,
        comparison=comparison,
    )


def _silent(stage: str) -> None:
    """The ``progress`` callback that says nothing."""
