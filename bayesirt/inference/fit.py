"""Fitting: one entry point dispatching to NUTS (PyMC, nutpie, numpyro) or ADVI.

Every method returns an :class:`arviz.InferenceData` in the same layout:

* ``posterior``: ``theta`` (chain, draw, subject), ``a``, ``b`` (chain, draw, item), ``c`` and
  ``d`` where the model has them, and the hyperparameters, with the data's own labels as
  coordinates;
* ``constant_data``: the responses (:meth:`bayesirt.data.Responses.to_xarray`), so the fit
  carries its data; ``observed_data``: ``y`` over ``obs``;
* ``log_likelihood`` (``y`` over ``obs``) when ``log_likelihood=True``, for LOO;
* ``attrs``: the model configuration, the inference settings, the diagnostics and the
  package versions (see :mod:`bayesirt.inference.io`).
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from typing import TYPE_CHECKING, Any

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr

from bayesirt.inference.diagnostics import ConvergenceWarning, Diagnostics, check_convergence
from bayesirt.models.likelihood import enable_jax

if TYPE_CHECKING:
    from bayesirt.data import Responses
    from bayesirt.models.base import IRTModel

__all__ = ["METHODS", "SAMPLERS", "fit", "fit_model", "pointwise_log_likelihood"]

METHODS = ("nuts", "advi")
SAMPLERS = ("nutpie", "pymc", "numpyro")
DEFAULT_SAMPLER = "nutpie"


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
    from bayesirt.models import get_model

    model_cls = get_model(model)
    options = {name: kwargs.pop(name) for name in model_cls.model_options if name in kwargs}
    irt_model = model_cls(responses, priors=priors, pool_by=pool_by, **options)
    return fit_model(irt_model, method=method, **kwargs)


def fit_model(
    irt_model: IRTModel,
    *,
    method: str = "nuts",
    sampler: str = DEFAULT_SAMPLER,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    random_seed: int = 0,
    target_accept: float = 0.8,
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
    draws, tune, chains : int
        Posterior draws and tuning steps per chain, number of chains.
    random_seed : int
        Seed of everything random in the fit.
    target_accept : float
        NUTS target acceptance rate (raise towards 0.95 if divergences are reported).
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
        Show progress bars.
    sampler_kwargs : dict, optional
        Extra options for the NUTS implementation (e.g. nutpie's
        ``low_rank_modified_mass_matrix=True``).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "nuts" and sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    for name, value in (("draws", draws), ("chains", chains)):
        if int(value) < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if int(tune) < 0:
        raise ValueError(f"tune must be non-negative, got {tune}")
    if method == "nuts" and sampler != "pymc":
        _require_backend(sampler)
    on_jax = method == "nuts" and sampler == "numpyro"
    if on_jax:
        enable_jax()

    if batch_size is not None and method != "advi":
        raise ValueError(f"batch_size={batch_size} needs method='advi' (NUTS uses every response)")
    started = time.perf_counter()
    model = irt_model.build_model(batch_size=batch_size)
    settings: dict[str, Any] = {
        "method": method,
        "draws": int(draws),
        "chains": int(chains),
        "random_seed": int(random_seed),
    }
    with model, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*idata_kwargs.*ignored.*")
        if method == "nuts":
            settings.update(sampler=sampler, tune=int(tune), target_accept=target_accept)
            if on_jax:
                settings["device"] = _jax_device()
            idata = pm.sample(
                draws=draws,
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
            idata, advi_info = _fit_advi(draws * chains, advi_iterations, random_seed, progressbar)
            settings.update(advi_info)
    settings["seconds"] = round(time.perf_counter() - started, 2)

    dropped = [
        name
        for name in idata.posterior.data_vars
        if name.endswith("__") or name in irt_model.internal_variables  # "__": nutpie's copies
    ]
    idata.posterior = idata.posterior.drop_vars(dropped)
    idata.constant_data = irt_model.responses.to_xarray()  # type: ignore[attr-defined]
    diagnostics = check_convergence(idata) if method == "nuts" else _advi_diagnostics(settings)
    _stamp(idata, irt_model, settings, diagnostics)
    if log_likelihood:
        idata.add_groups(log_likelihood=pointwise_log_likelihood(idata))
    return idata


def pointwise_log_likelihood(idata: az.InferenceData) -> xr.Dataset:
    """Log-likelihood of every observed pair in every draw: ``y`` (chain, draw, obs).

    Computed from the posterior and the stored responses by the fitted model's
    :meth:`~bayesirt.models.base.IRTModel.pointwise_log_likelihood`, one chain at a time.
    """
    from bayesirt.models import get_model

    model_cls = get_model(json.loads(idata.attrs["bayesirt_config"])["model"])
    data = idata.constant_data
    s, i, y = (data[k].values for k in ("subject_index", "item_index", "response"))
    post = idata.posterior
    chains = [
        model_cls.pointwise_log_likelihood(post.isel(chain=[c]), s, i, y)[0]
        for c in range(post.sizes["chain"])
    ]
    return xr.Dataset(
        {"y": (("chain", "draw", "obs"), np.stack(chains))},
        coords={"chain": post["chain"].values, "draw": post["draw"].values},
    )


#: Steps per window of the ADVI stopping rule.
ADVI_WINDOW = 500


class _LossPlateau:
    r"""Stop ADVI when the loss has stopped falling.

    After every :data:`ADVI_WINDOW` Adam steps the mean loss (negative ELBO, one Monte Carlo
    draw per step) of the last window is compared with the window before; the fit stops once
    the decrease is smaller than twice its standard error
    :math:`\sqrt{s_1^2 / W + s_2^2 / W}`, i.e. once the remaining improvement cannot be told
    from the noise of the ELBO estimate. The rule has no scale to tune: it behaves the same
    for a 30 × 200 table and for millions of responses.
    """

    def __init__(self, window: int = ADVI_WINDOW) -> None:
        self.window = window
        self.converged = False

    def __call__(self, approx, losses, i) -> None:
        w = self.window
        if i % w or len(losses) < 2 * w:
            return
        before, last = np.asarray(losses[-2 * w : -w]), np.asarray(losses[-w:])
        decrease = before.mean() - last.mean()
        stderr = np.sqrt(before.var() / w + last.var() / w)
        if decrease < 2.0 * stderr:
            self.converged = True
            raise StopIteration


class _SkippedFusionFilter(logging.Filter):
    """Drops PyTensor's log of one failed, harmless graph rewrite.

    On the gradient graph of ADVI for models whose item deviations are centred around their
    sample mean (:meth:`bayesirt.models.base.IRTModel._item_parameter`), PyTensor 2.x's
    ``FusionOptimizer`` raises ``'DimShuffle' object has no attribute 'scalar_op'`` and skips
    that one fusion; the compiled function is correct (the loss and the fit are unchanged),
    only less fused. PyTensor logs the failure as three ERROR records: the rewriter's name,
    ``"Traceback:"`` and the traceback. The filter removes the first two when the rewriter is
    the fusion, and the third when it is that error; every other message passes.
    """

    def __init__(self):
        super().__init__()
        self._expect = None  # the record that the last dropped one announced

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
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
    try:
        approx = _run_advi(iterations, seed, progressbar, plateau)
    finally:
        rewrite_log.removeFilter(skipped_fusion)
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


def _advi_diagnostics(settings: dict) -> Diagnostics:
    diag = Diagnostics(method="advi")
    if not settings.get("advi_converged", False):
        diag.problems.append(
            f"the ADVI loss was still falling after {settings['advi_iterations']} steps"
        )
        warnings.warn(
            "ADVI did not converge: " + diag.problems[-1] + "; raise advi_iterations.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return diag


def _stamp(idata, irt_model, settings: dict, diagnostics: Diagnostics) -> None:
    from bayesirt.inference.io import package_versions

    idata.attrs.update(
        {
            "bayesirt_config": json.dumps(irt_model.config()),
            "bayesirt_inference": json.dumps(settings),
            "bayesirt_diagnostics": json.dumps(diagnostics.to_dict()),
            "bayesirt_data_fingerprint": irt_model.responses.fingerprint(),
            "bayesirt_versions": json.dumps(package_versions()),
        }
    )


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
