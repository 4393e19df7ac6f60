"""Helpers for testing code built on bayesirt.

Fake fits, for tests that need a fit but not its sampling:

* :func:`fake_fit` builds an InferenceData that follows the fit contract of
  :func:`bayesirt.fit`: a ``posterior`` with ``theta`` (chain, draw, subject), ``a``,
  ``intercept`` and the derived ``b`` (and ``c``, ``d`` where given) on string labels,
  ``constant_data`` equal to ``Responses.to_xarray()`` of the fitted data, and every attribute
  a real fit carries (model configuration, inference settings, diagnostics, data fingerprint,
  package versions), written by :func:`bayesirt.inference.io.stamp_fit`. It goes through
  :func:`~bayesirt.inference.save_fit`, :func:`~bayesirt.inference.load_fit` and every
  analysis of the package; the draws are whatever the test gives (or random).
* :func:`fake_fit_model` stands in for :func:`bayesirt.inference.fit_model`: same arguments,
  same checks, the settings recorded as a real run records them, a :func:`fake_fit` returned;
  tests of code that fits (the command line) replace the sampler with it.
* :func:`simulated_fit` is a fake 2PL fit of simulated data whose draws scatter around the
  true parameters, with the true abilities.
* :func:`complete_responses` builds :class:`~bayesirt.data.Responses` from a dense 0/1 matrix.

The rendered HTML report:

* :func:`check_rendering` opens an HTML report of :func:`bayesirt.reports.build_report` in
  headless Chromium and says what the browser rendered: the sections, the images that
  decoded, the convergence banner and any JavaScript error.
* :func:`find_chromium` finds the Chromium (or Chrome) binary it runs, so that a test can be
  skipped where there is none.

The module is a harness, not part of the analysis: it sits above every other module of the
package, may import any of them, and none of them (nor ``import bayesirt``) imports it.
"""

from __future__ import annotations

import html
import inspect
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, logit

from bayesirt.data import Responses
from bayesirt.inference.diagnostics import Diagnostics
from bayesirt.inference.fit import (
    DEFAULT_CHAINS,
    DEFAULT_MAX_DRAWS,
    DEFAULT_SAMPLER,
    DEFAULT_TUNE,
    _require_backend,
    fit_model,
    pointwise_log_likelihood,
)
from bayesirt.inference.io import stamp_fit
from bayesirt.inference.settings import check_fit_settings
from bayesirt.models import get_model
from bayesirt.models.base import IRTModel
from bayesirt.models.derived import derived_variables
from bayesirt.reports.report import BANNER_ID

__all__ = [
    "CHROMIUM_NAMES",
    "FAKE_DRAWS",
    "check_rendering",
    "complete_responses",
    "fake_fit",
    "fake_fit_model",
    "find_chromium",
    "simulated_fit",
]

#: Defaults of :func:`~bayesirt.inference.fit_model`, which a fake fit's settings repeat.
_FIT_DEFAULTS = {
    name: param.default for name, param in inspect.signature(fit_model).parameters.items()
}
#: ADVI steps a fake ADVI fit records (at most its ``advi_iterations``).
_FAKE_ADVI_STEPS = 1000
#: Draws per chain of :func:`fake_fit_model` where :func:`~bayesirt.inference.fit_model` would
#: choose the number itself (``draws=None``).
FAKE_DRAWS = 100


# ------------------------------------------------------------------------------ fake fits
def complete_responses(
    y, *, subjects: Sequence | None = None, items: Sequence | None = None
) -> Responses:
    """Responses from a dense subjects × items matrix of 0/1, NaN where a cell is missing.

    Parameters
    ----------
    y : array_like
        Shape (subjects, items): 0, 1 or NaN.
    subjects, items : sequence, optional
        The labels; ``s0, s1, ...`` and ``i0, i1, ...`` by default.

    Returns
    -------
    Responses
        The observed cells, subject by subject (responses as ``int8``).
    """
    y = np.asarray(y, dtype=float)
    if y.ndim != 2:
        raise ValueError(f"y must be a subjects × items matrix, got shape {y.shape}")
    n_subjects, n_items = y.shape
    subjects = [f"s{j}" for j in range(n_subjects)] if subjects is None else subjects
    items = [f"i{i}" for i in range(n_items)] if items is None else items
    observed = ~np.isnan(y)
    subject_index, item_index = np.nonzero(observed)
    return Responses(
        subject_index=subject_index,
        item_index=item_index,
        response=y[observed].astype(np.int8),
        subjects=pd.Index(subjects),
        items=pd.Index(items),
    )


def fake_fit(
    responses: Responses,
    *,
    theta=None,
    a=None,
    b=None,
    intercept=None,
    c=None,
    d=None,
    model: str | IRTModel | None = None,
    method: str = "nuts",
    settings: Mapping[str, Any] | None = None,
    diagnostics: Diagnostics | Mapping[str, Any] | None = None,
    log_likelihood: bool | np.ndarray = False,
    extra: Mapping[str, Any] | None = None,
    coords: Mapping[str, Sequence] | None = None,
    n_chains: int = 2,
    n_draws: int = 50,
    seed: int = 0,
) -> az.InferenceData:
    """A fit of ``responses`` with the given draws, made without sampling.

    The InferenceData has what :func:`bayesirt.fit` gives (its fit contract): a ``posterior``
    with ``theta`` (chain, draw, subject), ``a``, ``intercept``, optionally ``c`` and ``d``
    (chain, draw, item), and the derived difficulty ``b`` (:math:`b = -\\alpha / a`), labelled by
    the subjects and items as strings; ``constant_data`` holding the responses; and every
    attribute of a real fit, written by :func:`bayesirt.inference.io.stamp_fit`: the model
    configuration, the inference settings, the diagnostics, the data fingerprint and the
    package versions. So it can be saved and loaded (:func:`~bayesirt.inference.save_fit`,
    :func:`~bayesirt.inference.load_fit`: ``b`` is derived again from the stored intercept),
    rebuilt into its model (:func:`~bayesirt.inference.model_from_fit`) and passed to every
    analysis and report. What a sampler adds besides the draws (``sample_stats``, the
    ``convergence`` group of per-parameter R-hat and ESS, the hyperparameters) is not made;
    analyses that need R-hat or ESS compute them from the draws.

    Parameters
    ----------
    responses : Responses
        The fitted data.
    theta : array_like, optional
        Abilities, shape (chain, draw, subject) or any shape that broadcasts to it.
    a, b, intercept, c, d : array_like, optional
        Item parameters, shape (chain, draw, item) or any shape that broadcasts to it. Give
        the difficulty ``b`` or the intercept (:math:`\\alpha = -a b`), not both. ``c`` and
        ``d`` are left out unless given.
    model : str or IRTModel, optional
        The fitted model: a registered name (built on ``responses`` with its defaults) or a
        model built on ``responses`` (needed for models with required options, e.g. the
        testlet model's ``cluster_by``). By default the 2PL, or the 3PL / 4PL when ``c`` /
        ``d`` is given. Its configuration is stored as a real fit's; the draws are not checked
        against it.
    method : {"nuts", "advi"}
        The inference method the settings and diagnostics name.
    settings : mapping, optional
        Inference settings over the defaults, which are those :func:`~bayesirt.inference.fit_model`
        records for a fixed-length run of ``method`` with its default options (``draws`` and
        ``chains`` from the shape of the draws, ``random_seed=seed``, ``seconds=0.0``; for
        ADVI a loss that settled after 1,000 steps).
    diagnostics : Diagnostics or mapping, optional
        The stored diagnostics; by default ``Diagnostics(method=method)``, a fit that passed
        its checks with no statistic computed. Pass
        ``bayesirt.inference.check_convergence(fit, warn=False)`` of a fake for those of its
        draws.
    log_likelihood : bool or array_like
        Whether the fit has a ``log_likelihood`` group (``fit(..., log_likelihood=True)``):
        ``True`` computes it from the draws with the model's pointwise function; an array of
        shape (chain, draw, observed response) is stored as it is.
    extra : mapping, optional
        Further posterior variables (e.g. hyperparameters): name to a
        :class:`~xarray.DataArray` or a ``(dims, values)`` pair, dims starting with
        ``("chain", "draw")``.
    coords : mapping, optional
        Coordinates of the further dimensions of ``extra``.
    n_chains, n_draws : int
        Shape of the draws when none of the given arrays has three dimensions.
    seed : int
        Seed of the random draws of the parameters not given, and the recorded
        ``random_seed``. Those draws scatter around rough estimates from the data, so that
        the fake ranks and scores the subjects as a fit of them would: abilities around the
        standardised logits of the subjects' accuracies (sd 0.3), difficulties around the
        negative logits of the items' accuracies (sd 0.1), discriminations around 1
        (log-normal, sd 0.1).

    Returns
    -------
    arviz.InferenceData

    Raises
    ------
    ValueError
        A draw array that does not fit (chain, draw, subject / item), ``b`` and
        ``intercept`` both given, a model built on other responses, or an unknown method.

    Examples
    --------
    >>> from bayesirt.testing import complete_responses, fake_fit
    >>> responses = complete_responses([[1, 0, 1], [0, 0, 1]])
    >>> idata = fake_fit(responses, theta=[0.5, -0.5], a=1.0, b=[0.0, 1.0, -1.0])
    >>> sorted(idata.posterior.data_vars)
    ['a', 'b', 'intercept', 'theta']
    >>> dict(idata.posterior.sizes)
    {'chain': 2, 'draw': 50, 'subject': 2, 'item': 3}
    """
    if method not in ("nuts", "advi"):
        raise ValueError(f"method must be 'nuts' or 'advi', got {method!r}")
    if b is not None and intercept is not None:
        raise ValueError("give b or intercept, not both (the intercept is -a·b)")
    irt_model = _fake_model(responses, model, three_pl=c is not None, four_pl=d is not None)
    responses = irt_model.responses
    given = [theta, a, b, intercept, c, d]
    if not isinstance(log_likelihood, bool):
        given.append(log_likelihood)
    shape = next(
        (np.shape(x)[:2] for x in given if x is not None and np.ndim(x) == 3),
        (int(n_chains), int(n_draws)),
    )
    rng = np.random.default_rng(seed)
    n_subjects, n_items = responses.n_subjects, responses.n_items
    if theta is None:
        theta = _rough_abilities(responses) + 0.3 * rng.normal(size=(*shape, n_subjects))
    if a is None:
        a = np.exp(0.1 * rng.normal(size=(*shape, n_items)))
    if b is None and intercept is None:
        b = _rough_difficulties(responses) + 0.1 * rng.normal(size=(*shape, n_items))
    theta = _draws("theta", theta, (*shape, n_subjects), "subject")
    a = _draws("a", a, (*shape, n_items), "item")
    item_dims = ("chain", "draw", "item")
    data = {"theta": (("chain", "draw", "subject"), theta), "a": (item_dims, a)}
    if b is not None:
        b = _draws("b", b, (*shape, n_items), "item")
        intercept = -a * b
    data["intercept"] = (item_dims, _draws("intercept", intercept, (*shape, n_items), "item"))
    for name, value in (("c", c), ("d", d)):
        if value is not None:
            data[name] = (item_dims, _draws(name, value, (*shape, n_items), "item"))
    posterior = xr.Dataset(
        data,
        coords={
            "chain": np.arange(shape[0]),
            "draw": np.arange(shape[1]),
            "subject": np.asarray(responses.subjects.astype(str)),
            "item": np.asarray(responses.items.astype(str)),
            **(coords or {}),
        },
    )
    if extra:
        posterior = posterior.assign(dict(extra))
    derived = {"b": (item_dims, b)} if b is not None else derived_variables(posterior)
    idata = az.InferenceData(posterior=posterior.assign(derived))
    idata.add_groups(constant_data=responses.to_xarray())
    if diagnostics is None:
        diagnostics = Diagnostics(method=method)
    elif not isinstance(diagnostics, Diagnostics):
        diagnostics = Diagnostics.from_dict(dict(diagnostics))
    recorded = _fake_settings(irt_model, method, shape, seed, settings or {})
    stamp_fit(idata, irt_model, recorded, diagnostics)
    if log_likelihood is True:
        idata.add_groups(log_likelihood=pointwise_log_likelihood(idata))
    elif log_likelihood is not False:
        values = np.asarray(log_likelihood, dtype=float)
        if values.shape != (*shape, responses.n_observed):
            raise ValueError(
                f"log_likelihood has shape {values.shape}; a fake fit needs (chain, draw, "
                f"observed response) = {(*shape, responses.n_observed)}"
            )
        loglik = xr.Dataset(
            {"y": (("chain", "draw", "obs"), values)},
            coords={"chain": posterior["chain"].values, "draw": posterior["draw"].values},
        )
        idata.add_groups(log_likelihood=loglik)
    return idata


def fake_fit_model(
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
    """A stand-in for :func:`bayesirt.inference.fit_model` that samples nothing.

    It takes the same arguments, refuses the same settings before any work (through
    :func:`~bayesirt.inference.check_fit_settings`, and a missing sampler package or a
    ``batch_size`` the model cannot take as :func:`~bayesirt.inference.fit_model` does), records
    them as a fixed-length run of that function records them, and returns a :func:`fake_fit`
    of ``irt_model`` with random draws (seed ``random_seed``): ``chains`` chains of ``draws``
    draws for NUTS, one chain of ``draws × chains`` draws for ADVI (as ADVI's fits have), and
    :data:`FAKE_DRAWS` draws where ``draws`` is None. The draws scatter around rough
    estimates from the data (see ``seed`` of :func:`fake_fit`), so the subjects rank as a fit
    would rank them. Tests of code that fits (the command line,
    sweeps in process) replace the function with it, e.g.
    ``monkeypatch.setattr(sys.modules["bayesirt.inference.fit"], "fit_model",
    fake_fit_model)``, which :func:`bayesirt.fit` then calls with the model it built.

    Parameters
    ----------
    irt_model : IRTModel
        The model (its responses are the fitted data, its configuration is stored).
    method, sampler, draws, tune, chains, random_seed, target_accept, max_draws, max_seconds, \
log_likelihood, advi_iterations, batch_size, sampler_kwargs
        As in :func:`~bayesirt.inference.fit_model`.
    progressbar : bool
        Ignored.

    Returns
    -------
    arviz.InferenceData
        A fit with the attributes of a real one: configuration, settings, diagnostics of a
        fit that passed its checks (``Diagnostics(method=method)``), fingerprint, versions.

    Raises
    ------
    SettingError
        A setting out of range.
    ImportError
        ``sampler`` is a NUTS backend that is not installed.
    ValueError
        ``batch_size`` for a model that cannot be fitted in minibatches.
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
    if batch_size is not None and not irt_model.supports_minibatch:
        raise ValueError(f"the {irt_model.name} model cannot be fitted in minibatches")
    n_draws = FAKE_DRAWS if draws is None else int(draws)
    settings: dict[str, Any] = {
        "method": method,
        "draws": n_draws,
        "chains": int(chains),
        "random_seed": int(random_seed),
    }
    if method == "nuts":
        settings.update(sampler=sampler, tune=int(tune), target_accept=target_accept)
        if sampler == "nutpie":
            sampler_kwargs = {**irt_model.nutpie_options, **(sampler_kwargs or {})}
        if sampler_kwargs:
            settings["sampler_options"] = dict(sampler_kwargs)
        shape = (int(chains), n_draws)
    else:
        settings.update(advi_iterations=int(advi_iterations), batch_size=batch_size)
        shape = (1, n_draws * int(chains))
    return fake_fit(
        irt_model.responses,
        model=irt_model,
        method=method,
        settings=settings,
        log_likelihood=log_likelihood,
        n_chains=shape[0],
        n_draws=shape[1],
        seed=random_seed,
    )


def simulated_fit(
    n_subjects: int = 8,
    n_items: int = 30,
    *,
    n_chains: int = 2,
    n_draws: int = 50,
    noise: float = 0.3,
    seed: int = 0,
    **options: Any,
) -> tuple[az.InferenceData, np.ndarray]:
    """A fake 2PL fit of simulated data: draws scattered around the true parameters.

    Abilities are drawn standard normal and sorted best first, discriminations log-normal
    (sd 0.3) and difficulties standard normal; the responses (complete, labelled ``s0, ...``
    and ``i0, ...``) are simulated from them. The draws of ``theta`` are the truth plus normal
    noise of sd ``noise``; those of ``a`` and ``b`` scatter by 5%.

    Parameters
    ----------
    n_subjects, n_items : int
        Size of the data.
    n_chains, n_draws : int
        Shape of the draws.
    noise : float
        Posterior sd of the abilities.
    seed : int
        Seed of the simulation and of the draws.
    **options
        Passed to :func:`fake_fit` (``model``, ``method``, ``settings``, ``diagnostics``,
        ``log_likelihood``).

    Returns
    -------
    idata : arviz.InferenceData
        The fit (:func:`fake_fit`).
    true_theta : numpy.ndarray
        The true ability of each subject, in the order of the fit's subjects.
    """
    rng = np.random.default_rng(seed)
    true_theta = np.sort(rng.normal(size=n_subjects))[::-1]
    a = np.exp(rng.normal(0.0, 0.3, n_items))
    b = rng.normal(size=n_items)
    y = (rng.random((n_subjects, n_items)) < expit(a * (true_theta[:, None] - b))).astype(float)
    shape = (n_chains, n_draws)
    theta_draws = true_theta + noise * rng.normal(size=(*shape, n_subjects))
    a_draws = a * np.exp(0.05 * rng.normal(size=(*shape, n_items)))
    b_draws = b + 0.05 * rng.normal(size=(*shape, n_items))
    idata = fake_fit(
        complete_responses(y), theta=theta_draws, a=a_draws, b=b_draws, seed=seed, **options
    )
    return idata, true_theta


def _fake_model(
    responses: Responses, model: str | IRTModel | None, *, three_pl: bool, four_pl: bool
) -> IRTModel:
    if isinstance(model, IRTModel):
        if not model.responses.equals(responses):
            raise ValueError("the model is built on other responses than those given")
        return model
    if model is None:
        model = "4pl" if four_pl else "3pl" if three_pl else "2pl"
    return get_model(model)(responses)


def _smoothed_logits(accuracy: pd.Series, counts: pd.Series) -> np.ndarray:
    """Logits of accuracies shrunk by half an answer each way (finite at 0 and 1)."""
    n = counts.to_numpy(dtype=float)
    p = (accuracy.fillna(0.5).to_numpy(dtype=float) * n + 0.5) / (n + 1.0)
    return logit(p)


def _rough_abilities(responses: Responses) -> np.ndarray:
    """Standardised logits of the subjects' accuracies (the scale of the models' abilities)."""
    z = _smoothed_logits(responses.subject_accuracy(), responses.subject_counts())
    sd = z.std()
    return (z - z.mean()) / sd if sd > 0 else z - z.mean()


def _rough_difficulties(responses: Responses) -> np.ndarray:
    """Negative logits of the items' accuracies."""
    return -_smoothed_logits(responses.item_accuracy(), responses.item_counts())


def _draws(name: str, value, shape: tuple[int, ...], dim: str) -> np.ndarray:
    values = np.asarray(value, dtype=float)
    try:
        return np.broadcast_to(values, shape).copy()
    except ValueError:
        raise ValueError(
            f"{name} has shape {values.shape}; a fake fit needs (chain, draw, {dim}) = "
            f"{shape} or a shape that broadcasts to it"
        ) from None


def _fake_settings(
    irt_model: IRTModel,
    method: str,
    shape: tuple[int, int],
    seed: int,
    given: Mapping[str, Any],
) -> dict[str, Any]:
    """The settings :func:`~bayesirt.inference.fit_model` records for a fixed-length run
    with its defaults, then ``given`` over them."""
    settings: dict[str, Any] = {
        "method": method,
        "draws": int(shape[1]),
        "chains": int(shape[0]),
        "random_seed": int(seed),
    }
    if method == "nuts":
        settings.update(
            sampler=DEFAULT_SAMPLER,
            tune=_FIT_DEFAULTS["tune"],
            target_accept=_FIT_DEFAULTS["target_accept"],
        )
        if irt_model.nutpie_options:
            settings["sampler_options"] = dict(irt_model.nutpie_options)
    else:
        iterations = int(given.get("advi_iterations", _FIT_DEFAULTS["advi_iterations"]))
        settings.update(
            advi_iterations=iterations,
            batch_size=None,
            advi_steps=min(_FAKE_ADVI_STEPS, iterations),
            advi_final_loss=0.0,
            advi_converged=True,
        )
    settings["seconds"] = 0.0
    return {**settings, **given}


# -------------------------------------------------------------------------- rendering
#: Names under which a Chromium binary is looked for on the PATH.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const decoded = (img) => img.complete && img.naturalWidth > 0;
  const out = document.createElement("pre");
  out.id = "bayesirt-probe";
  out.textContent = JSON.stringify({
    sections: Array.from(document.querySelectorAll("section[id]")).map((s) => s.id),
    images: images.length,
    images_ok: images.filter(decoded).length,
    broken: images.filter((img) => !decoded(img)).map((img) => img.alt),
    banner: document.getElementById("%s") !== null,
    errors: window.__bayesirtErrors,
  });
  document.body.appendChild(out);
});
</script>"""
_ERRORS = (
    '<script>window.__bayesirtErrors = []; window.addEventListener("error", '
    "(e) => window.__bayesirtErrors.push(String(e.message)));</script>"
)


def find_chromium() -> str | None:
    """Path of a Chromium (or Chrome) binary on the PATH, ``None`` if there is none."""
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def check_rendering(path: str | Path, *, chromium: str | None = None, timeout: float = 180) -> dict:
    """Open a report in headless Chromium and say what the browser rendered.

    A copy of the file gets two small scripts (the report itself has none): one records
    JavaScript errors from the start, one runs after the page has loaded and writes what the
    page holds into the DOM, which ``chromium --headless --dump-dom`` prints. An image counts
    as decoded when the browser finished it with a positive natural width (a broken ``data:``
    URI has width 0).

    Returns
    -------
    dict
        ``sections`` (ids of the ``<section>`` elements, in order), ``images``, ``images_ok``,
        ``broken`` (alt texts of the images that did not decode), ``banner`` (whether the
        convergence-failure banner is there) and ``errors`` (JavaScript error messages).

    Raises
    ------
    FileNotFoundError
        If no Chromium binary is found.
    RuntimeError
        If Chromium fails or its output holds no probe result.
    """
    binary = chromium or find_chromium()
    if binary is None:
        raise FileNotFoundError(
            f"no Chromium binary on the PATH (looked for {', '.join(CHROMIUM_NAMES)}); on "
            "Debian: apt-get install chromium"
        )
    document = Path(path).read_text(encoding="utf-8")
    probed = document.replace("<head>", "<head>" + _ERRORS, 1).replace(
        "</body>", _PROBE % BANNER_ID + "</body>", 1
    )
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(probed, encoding="utf-8")
        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            page.as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    found = re.search(r'<pre id="bayesirt-probe">(.*?)</pre>', done.stdout, re.DOTALL)
    if done.returncode != 0 or found is None:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise RuntimeError(
            f"Chromium exited with status {done.returncode} without a probe result: "
            + " | ".join(tail)
        )
    return json.loads(html.unescape(found.group(1)))
