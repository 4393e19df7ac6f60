"""Fitting: one entry point dispatching to NUTS (PyMC, nutpie, numpyro) or ADVI.

Every method returns an :class:`arviz.InferenceData` in the same layout:

* ``posterior``: ``theta`` (chain, draw, subject), ``a``, ``intercept`` (chain, draw, item),
  ``c`` and ``d`` where the model has them, and the hyperparameters, with the data's own
  labels as coordinates; the difficulty ``b`` is computed from ``intercept`` and ``a`` after
  sampling (:func:`~bayesirt.models.derived.derived_variables`);
* ``constant_data``: the responses (:meth:`bayesirt.data.Responses.to_xarray`), so the fit
  carries its data;
* ``sample_stats`` (NUTS): the sampler's statistics per draw;
* ``log_likelihood`` (``y`` over ``obs``) when ``log_likelihood=True``, for LOO;
* ``attrs``: the model configuration, the inference settings, the diagnostics and the
  package versions (see :mod:`bayesirt.inference.io`).
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr
from scipy.special import gammaln

from bayesirt.inference.diagnostics import (
    STATISTICS_GROUP,
    ConvergenceWarning,
    Diagnostics,
    parameter_statistics,
    statistics_dataset,
    summarise_statistics,
    warn_if_not_converged,
)
from bayesirt.inference.io import fitted_model_class, stamp_fit
from bayesirt.inference.nuts import sample_until_converged
from bayesirt.inference.settings import METHODS, SAMPLERS, check_fit_settings
from bayesirt.models.derived import derived_variables
from bayesirt.models.likelihood import enable_jax
from bayesirt.models.registry import get_model

if TYPE_CHECKING:
    from bayesirt.data import Responses
    from bayesirt.models.base import IRTModel

__all__ = ["METHODS", "SAMPLERS", "fit", "fit_model", "pointwise_log_likelihood"]

DEFAULT_SAMPLER = "nutpie"
#: Tuning steps per chain, chains, and the most draws per chain of an adaptive run.
DEFAULT_TUNE = 500
DEFAULT_CHAINS = 4
DEFAULT_MAX_DRAWS = 5000
#: Draws per chain where a run cannot adapt its length (PyMC, numpyro; ADVI draws).
FIXED_DRAWS = 1000
#: PyTensor's warning about a missing BLAS library (irrelevant to these models' speed).
BLAS_WARNING = "PyTensor could not link to a BLAS installation"


def fit(
    responses: Responses,
    *,
    model: str = "2pl",
    priors: dict | None = None,
    pool_by: str | None = None,
    method: str = "nuts",
    **kwargs: Any,
) -> az.InferenceData:
    """Build the model named ``model`` on ``responses`` and fit it.

    Parameters
    ----------
    responses : Responses
        The data.
    model : str
        A registered model name (``"1pl"``, ``"2pl"``, ``"3pl"``, ``"4pl"``, ...).
    priors, pool_by
        Passed to the model class.
    method : {"nuts", "advi"}
        Inference method; further keyword arguments are the model class's own options (its
        ``model_options``, e.g. ``cluster_by`` of the testlet model) and otherwise as in
        :func:`fit_model`.
    """
    model_cls = get_model(model)
    options = {name: kwargs.pop(name) for name in model_cls.model_options if name in kwargs}
    irt_model = model_cls(responses, priors=priors, pool_by=pool_by, **options)
    return fit_model(irt_model, method=method, **kwargs)


def fit_model(
    irt_model: IRTModel,
    *,
    method: str = "nuts",
    sampler: str = DEFAULT_SAMPLER,
    draws: int | None = None,
    tune: int = DEFAULT_TUNE,
    chains: int = DEFAULT_CHAINS,
    random_seed: int = 0,
    target_accept: float = 0.8,
    max_draws: int = DEFAULT_MAX_DRAWS,
    max_seconds: float | None = None,
    log_likelihood: bool = False,
    advi_iterations: int = 20_000,
    batch_size: int | None = None,
    progressbar: bool = True,
    sampler_kwargs: dict | None = None,
) -> az.InferenceData:
    """Fit a built model by NUTS or ADVI.

    Parameters
    ----------
    irt_model : IRTModel
        The model (holds its data and priors).
    method : {"nuts", "advi"}
        ``"nuts"`` samples with the No-U-Turn sampler and checks convergence;
        ``"advi"`` fits a mean-field Gaussian approximation (fast, but its intervals are too
        narrow: see the README for measured coverage) and draws ``draws × chains`` samples.
    sampler : {"nutpie", "pymc", "numpyro"}
        NUTS implementation. nutpie compiles the model with numba and is the default
        (fastest measured in ``benchmarks/``); numpyro needs the ``numpyro`` extra and is the
        JAX path: it runs on a GPU when JAX's CUDA build is installed and one is visible
        (the device is recorded in the fit's settings as ``device``). nutpie's own JAX
        backend cannot take the models' starting values.
    draws : int, optional
        Posterior draws per chain. By default (``None``) nutpie samples until the draws pass
        the convergence criterion (:func:`~bayesirt.inference.nuts.sample_until_converged`),
        within ``max_draws`` per chain and ``max_seconds``; the other samplers, and ADVI,
        then take :data:`FIXED_DRAWS`. A number gives exactly that many draws.
    tune : int
        NUTS tuning steps per chain.
    chains : int
        Number of chains. Four by default: R-hat compares chains, and two chains (four
        half-chains) leave it noisy; on two cores the four chains share the cores, so a
        draw costs the same and only the tuning is paid twice as often as with two chains.
    random_seed : int
        Seed of everything random in the fit (non-negative).
    target_accept : float
        NUTS target acceptance rate, strictly between 0 and 1 (raise towards 0.95 if
        divergences are reported).
    max_draws, max_seconds
        Budget of an adaptive run (``draws=None`` with nutpie): draws per chain, and
        seconds of sampling including tuning (no limit by default). When it runs out, the
        fit keeps its draws, records ``budget_exhausted`` and is reported as not converged.
    log_likelihood : bool
        Store the pointwise log-likelihood (needed for LOO).
    advi_iterations : int
        Most ADVI optimisation steps (Adam, learning rate 0.02); ADVI stops earlier once its
        loss stops falling (see :class:`_LossPlateau`).
    batch_size : int, optional
        ADVI only: evaluate the likelihood on random minibatches of this many observed
        responses per step (stochastic-gradient ADVI), for data too large for full-batch
        steps; see :meth:`bayesirt.models.base.IRTModel.build_model`.
    progressbar : bool
        Show progress (nutpie's adaptive runs: one line per convergence check on stderr).
    sampler_kwargs : dict, optional
        Extra options for the NUTS implementation (e.g. nutpie's
        ``low_rank_modified_mass_matrix=True``), over the model's own
        :attr:`~bayesirt.models.base.IRTModel.nutpie_options` for nutpie; recorded in the
        fit's settings as ``sampler_options``.

    Raises
    ------
    SettingError
        A setting out of range (checked before any work).
    KeyboardInterrupt
        The fit was interrupted; nothing is returned, whatever the sampler had done (nutpie
        and PyMC's ADVI would otherwise return their partial results as if complete).
    """
    check_fit_settings(
        method=method,
        sampler=sampler,
        draws=draws,
        tune=tune,
        chains=chains,
        random_seed=random_seed,
        target_accept=target_accept,
        advi_iterations=advi_iterations,
        max_draws=max_draws,
        max_seconds=max_seconds,
        batch_size=batch_size,
    )
    if method == "nuts" and sampler != "pymc":
        _require_backend(sampler)
    adaptive = method == "nuts" and sampler == "nutpie" and draws is None
    run = None
    n_draws = FIXED_DRAWS if draws is None else int(draws)
    on_jax = method == "nuts" and sampler == "numpyro"
    if on_jax:
        enable_jax()

    with _interrupts_raised() as interrupted:
        started = time.perf_counter()
        model = irt_model.build_model(batch_size=batch_size)
        settings: dict[str, Any] = {
            "method": method,
            "draws": n_draws,
            "chains": int(chains),
            "random_seed": int(random_seed),
        }
        with model, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*idata_kwargs.*ignored.*")
            # The models' likelihood is one numba kernel and none of their operations is a
            # matrix product, so the missing BLAS that PyTensor warns about costs nothing.
            warnings.filterwarnings("ignore", message=BLAS_WARNING, category=UserWarning)
            if method == "nuts":
                settings.update(sampler=sampler, tune=int(tune), target_accept=target_accept)
                if sampler == "nutpie":
                    sampler_kwargs = {**irt_model.nutpie_options, **(sampler_kwargs or {})}
                if sampler_kwargs:
                    settings["sampler_options"] = dict(sampler_kwargs)
                if on_jax:
                    settings["device"] = _jax_device()
                if adaptive:
                    idata, run = sample_until_converged(
                        model,
                        tune=int(tune),
                        max_draws=int(max_draws),
                        max_seconds=max_seconds,
                        chains=int(chains),
                        random_seed=int(random_seed),
                        target_accept=float(target_accept),
                        progressbar=progressbar,
                        var_names=_stored_variables(model, irt_model),
                        sampler_kwargs=sampler_kwargs,
                    )
                    settings.update(
                        draws=run.draws,
                        adaptive=True,
                        max_draws=int(max_draws),
                        max_seconds=max_seconds,
                        checks=run.checks,
                        check_seconds=run.check_seconds,
                        budget_exhausted=run.budget_exhausted,
                    )
                else:
                    idata = pm.sample(
                        draws=n_draws,
                        tune=tune,
                        chains=chains,
                        cores=min(chains, 2),
                        random_seed=random_seed,
                        target_accept=target_accept,
                        nuts_sampler=sampler,
                        progressbar=progressbar,
                        compute_convergence_checks=False,
                        nuts_sampler_kwargs=sampler_kwargs or {},
                    )
            else:
                settings.update(advi_iterations=int(advi_iterations), batch_size=batch_size)
                idata, advi_info = _fit_advi(
                    n_draws * chains, advi_iterations, random_seed, progressbar
                )
                settings.update(advi_info)
        if interrupted.is_set():  # the sampler swallowed Ctrl-C: judge nothing, keep nothing
            raise KeyboardInterrupt
        settings["seconds"] = round(time.perf_counter() - started, 2)

        dropped = [
            name
            for name in idata.posterior.data_vars
            if name.endswith("__") or name in irt_model.internal_variables  # "__": nutpie's
        ]
        posterior = idata.posterior.drop_vars(dropped)
        stats = {"sample_stats": idata.sample_stats} if "sample_stats" in idata else {}
        if method == "nuts":
            # An adaptive run that passed has just checked exactly these draws in full.
            if run is not None and run.diagnostics is not None:
                diagnostics, statistics = run.diagnostics, run.statistics
            else:
                statistics = parameter_statistics(posterior)
                diagnostics = summarise_statistics(
                    az.InferenceData(posterior=posterior, **stats), statistics, warn=False
                )
            if settings.get("budget_exhausted"):
                diagnostics.problems.append(
                    f"the sampling budget ran out after {settings['draws']} draws per chain"
                )
            warn_if_not_converged(diagnostics)
        else:
            diagnostics = _advi_diagnostics(settings, posterior)
        idata = az.InferenceData(posterior=posterior.assign(derived_variables(posterior)), **stats)
        idata.add_groups(constant_data=irt_model.responses.to_xarray())
        if method == "nuts":
            idata.add_groups({STATISTICS_GROUP: statistics_dataset(posterior, statistics)})
        stamp_fit(idata, irt_model, settings, diagnostics)
        if log_likelihood:
            idata.add_groups(log_likelihood=pointwise_log_likelihood(idata))
    return idata


def _stored_variables(model: pm.Model, irt_model: IRTModel) -> list[str]:
    """The model's variables that the fit keeps (its internal coordinates are dropped)."""
    names = [v.name for v in (*model.free_RVs, *model.deterministics)]
    return [name for name in names if name not in irt_model.internal_variables]


@contextlib.contextmanager
def _interrupts_raised() -> Iterator[threading.Event]:
    """Make Ctrl-C end the fit with ``KeyboardInterrupt``, whatever the sampler does with it.

    nutpie's blocking sampler and PyMC's ADVI catch ``KeyboardInterrupt`` and return what
    they have as if it were complete; other libraries turn it into unrelated errors
    (``ZeroDivisionError``, ``SystemError``) when it lands in their code. While the block
    runs, SIGINT is recorded before it is delivered; after the block, or on any exception
    inside it, a recorded interrupt is raised as ``KeyboardInterrupt``. Yields the event that
    records it, for the block to stop early.
    """
    hit = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield hit
        return
    previous = signal.getsignal(signal.SIGINT)
    # An interrupt that lands in PyTensor's graph rewriting makes a rewrite fail, which
    # PyTensor logs with a traceback; the fit is being abandoned, so that log is noise.
    rewrite_log = logging.getLogger("pytensor")
    rewrite_level = rewrite_log.level

    def record(signum, frame):
        hit.set()
        rewrite_log.setLevel(logging.CRITICAL + 1)
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, record)
    try:
        yield hit
    except BaseException:
        if hit.is_set():
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
        rewrite_log.setLevel(rewrite_level)
    if hit.is_set():
        raise KeyboardInterrupt


def pointwise_log_likelihood(idata: az.InferenceData) -> xr.Dataset:
    """Log-likelihood of every observed pair in every draw: ``y`` (chain, draw, obs); for
    binomial responses the binomial log-probability of the pair's :math:`k` of :math:`n`.

    Computed from the posterior and the stored responses by the fitted model's
    :meth:`~bayesirt.models.base.IRTModel.pointwise_log_likelihood`, one chain at a time.
    """
    model_cls = fitted_model_class(idata)
    data = idata.constant_data
    s, i, y = (data[k].values for k in ("subject_index", "item_index", "response"))
    post = idata.posterior
    if "trials" in data:  # binomial: k of n per pair, from P(correct) of one trial
        n = data["trials"].values
        constant = gammaln(n + 1) - gammaln(y + 1) - gammaln(n - y + 1)

        def pointwise(chain):
            right = model_cls.pointwise_log_likelihood(chain, s, i, np.ones_like(y))[0]
            wrong = model_cls.pointwise_log_likelihood(chain, s, i, np.zeros_like(y))[0]
            return y * right + (n - y) * wrong + constant
    else:

        def pointwise(chain):
            return model_cls.pointwise_log_likelihood(chain, s, i, y)[0]

    chains = [pointwise(post.isel(chain=[c])) for c in range(post.sizes["chain"])]
    return xr.Dataset(
        {"y": (("chain", "draw", "obs"), np.stack(chains))},
        coords={"chain": post["chain"].values, "draw": post["draw"].values},
    )


#: Steps per window of the ADVI stopping rule.
ADVI_WINDOW = 500


class _LossPlateau:
    r"""Stop ADVI when the loss has stopped falling.

    After every :data:`ADVI_WINDOW` Adam steps the median loss (negative ELBO, one Monte Carlo
    draw per step) of the last window is compared with the median of the window that ends
    halfway through the run so far; the fit stops once the decrease is smaller than twice its
    standard error :math:`\sqrt{\pi/2}\,\sqrt{s_1^2 / W + s_2^2 / W}` (the large-sample
    standard error of a median), with :math:`s` the robust standard deviation
    :math:`1.4826\,\mathrm{MAD}` of the loss in each window, i.e. once the improvement over the
    second half of the run cannot be told from the noise of the ELBO estimate. The rule has
    no scale to tune: it behaves the same for a 30 × 200 table and for millions of responses.

    Halfway, not the window before: a loss that falls slowly and steadily falls by less
    than the noise from one window to the next, but by more and more over a longer run.
    Comparing adjacent windows stopped the explanatory MIRT on metabench early: the fitted
    per-benchmark accuracies of 300 LLMs correlated with the observed ones at only
    0.69–0.90. With this rule (250 LLMs, 20,000 steps) they correlate at 0.97–0.999, and the
    error of the predicted accuracy on a benchmark known by 10 answered questions fell from
    0.18 to 0.10.
    Medians, not means: early in a fit a single Monte Carlo draw can give a loss many times
    the typical one, and such spikes made a loss still falling steeply pass for settled.
    """

    def __init__(self, window: int = ADVI_WINDOW) -> None:
        self.window = window
        self.converged = False

    def __call__(self, approx, losses, i) -> None:
        w = self.window
        if i % w or len(losses) < 2 * w:
            return
        half = len(losses) // 2
        before, last = np.asarray(losses[half - w : half]), np.asarray(losses[-w:])
        decrease = np.median(before) - np.median(last)
        spread = [1.4826 * np.median(np.abs(x - np.median(x))) for x in (before, last)]
        stderr = np.sqrt(np.pi / 2) * np.sqrt((spread[0] ** 2 + spread[1] ** 2) / w)
        if decrease < 2.0 * stderr:
            self.converged = True
            raise StopIteration


#: The one-record form of the fusion's harmless failure: a traceback through the fusion's
#: ``elemwise_to_scalar`` that ends in a ``KeyError``.
_FUSION_SCALAR_FAILURE = re.compile(r"in elemwise_to_scalar\b.*\nKeyError: [^\n]*\s*$", re.S)


class _SkippedFusionFilter(logging.Filter):
    """Drops PyTensor's log of one failed, harmless graph rewrite.

    On the gradient graph of ADVI for models whose item deviations are centred around their
    sample mean (:meth:`bayesirt.models.base.IRTModel._item_parameter`), PyTensor 2.x's
    ``FusionOptimizer`` raises ``'DimShuffle' object has no attribute 'scalar_op'`` and skips
    that one fusion; the compiled function is correct (the loss and the fit are unchanged),
    only less fused. PyTensor logs the failure as three ERROR records: the rewriter's name,
    ``"Traceback:"`` and the traceback. The filter removes the first two when the rewriter is
    the fusion, and the third when it is that error; every other message passes.

    With the partially centred items (:func:`bayesirt.models._hierarchy.partially_centred_normal`)
    and PyTensor 2.38, the same fusion fails on the scalar conversion of one composite
    (``KeyError`` raised in ``elemwise_to_scalar``), logged as one ERROR record holding the
    whole traceback; that record is removed too (PyTensor skips the fusion it could not build
    and compiles the function without it).
    """

    def __init__(self):
        super().__init__()
        self._expect = None  # the record that the last dropped one announced

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if _FUSION_SCALAR_FAILURE.search(text):
            return False
        expected, self._expect = self._expect, None
        if "FusionOptimizer" in text:
            self._expect = "header"
            return False
        if expected == "header" and text == "Traceback:":
            self._expect = "traceback"
            return False
        return not (expected == "traceback" and "'DimShuffle' object has no attribute" in text)


def _fit_advi(n_draws: int, iterations: int, seed: int, progressbar: bool):
    """Mean-field ADVI: Adam steps until :class:`_LossPlateau` stops it (at most
    ``iterations``), then ``n_draws`` draws from the approximation."""
    plateau = _LossPlateau()
    rewrite_log = logging.getLogger("pytensor.graph.rewriting.basic")
    skipped_fusion = _SkippedFusionFilter()
    rewrite_log.addFilter(skipped_fusion)
    # PyMC logs the plateau's stop as "Interrupted at 2,499 [12%]", which reads like a
    # failure; the fit records its own steps and verdict instead.
    advi_log = logging.getLogger("pymc.variational.inference")
    level = advi_log.level
    advi_log.setLevel(logging.WARNING)
    try:
        approx = _run_advi(iterations, seed, progressbar, plateau)
    finally:
        rewrite_log.removeFilter(skipped_fusion)
        advi_log.setLevel(level)
    idata = approx.sample(n_draws, random_seed=seed)  # one chain of n_draws
    window = min(ADVI_WINDOW, len(approx.hist))
    info = {
        "advi_steps": len(approx.hist),
        "advi_final_loss": round(float(np.mean(approx.hist[-window:])), 3),
        "advi_converged": plateau.converged,
    }
    return idata, info


def _run_advi(iterations: int, seed: int, progressbar: bool, plateau: _LossPlateau):
    return pm.fit(
        n=iterations,
        method="advi",
        random_seed=seed,
        progressbar=progressbar,
        obj_optimizer=pm.adam(learning_rate=0.02),
        callbacks=[plateau],
    )


def _advi_diagnostics(settings: dict, posterior) -> Diagnostics:
    """ADVI has no R-hat or ESS; it fails when its loss is not a finite number, when it was
    still falling at the last step, or when a draw is not finite."""
    diag = Diagnostics(method="advi")
    loss = settings.get("advi_final_loss", float("nan"))
    if not np.isfinite(loss):
        diag.problems.append(f"the ADVI loss is {loss} (the optimisation diverged)")
    elif not settings.get("advi_converged", False):
        diag.problems.append(
            f"the ADVI loss was still falling after {settings['advi_iterations']} steps"
        )
    not_finite = [
        name for name, var in posterior.data_vars.items() if not np.isfinite(var.values).all()
    ]
    if not_finite:
        diag.problems.append(f"non-finite draws in {', '.join(not_finite[:3])}")
    if diag.problems:
        warnings.warn(
            "ADVI did not converge: " + "; ".join(diag.problems) + "; raise advi_iterations.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return diag


def _jax_device() -> str:
    """The device JAX computes on ("cpu", "gpu", "tpu"): JAX takes a GPU when its CUDA build
    is installed and one is visible, unless ``JAX_PLATFORMS=cpu`` is set."""
    import jax

    return str(jax.default_backend())


def _require_backend(sampler: str) -> None:
    module = {"nutpie": "nutpie", "numpyro": "numpyro"}[sampler]
    try:
        __import__(module)
    except ImportError as err:
        extra = "numpyro" if sampler == "numpyro" else "nutpie"
        raise ImportError(
            f"sampler={sampler!r} needs the {module} package: pip install 'bayesirt[{extra}]'"
        ) from err
