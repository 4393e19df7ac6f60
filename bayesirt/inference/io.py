r"""Saving and loading fits: one netCDF file plus a human-readable card beside it.

The netCDF file is the InferenceData of the fit. Its ``constant_data`` group holds the
responses and its attributes hold the model configuration (priors included), the inference
settings, the diagnostics, the data fingerprint and the package versions: everything needed
to rebuild the model (:func:`model_from_fit`). The card (``NAME.card.md``) repeats the
essentials for a human reader.

This module owns the attributes: their names (:data:`CONFIG_ATTR`, :data:`INFERENCE_ATTR`,
:data:`DIAGNOSTICS_ATTR`, :data:`FINGERPRINT_ATTR`, :data:`VERSIONS_ATTR`), the one writer
(:func:`stamp_fit`, called by :func:`bayesirt.fit`) and the readers (:func:`fit_config`,
:func:`fit_settings`, :func:`fit_diagnostics`, :func:`data_fingerprint`,
:func:`fit_versions`, :func:`fitted_model_class`, :func:`fit_info`); no other module reads
them by name.

What is stored is what cannot be derived, at the precision the draws carry:

* derived variables (the difficulty ``b``; :func:`~bayesirt.models.derived.derived_variables`)
  are left out and computed again by :func:`load_fit`;
* draws (``posterior``, ``log_likelihood``) are stored as float32. The item parameters and
  the pointwise log-likelihood, nearly all of a fit's numbers, have their significand rounded
  to :data:`STORED_BITS` bits (round to nearest, ties to even; "bit rounding", Klöwer et al.
  2021, *Nature Computational Science* 1, 713–724), a relative error of at most
  :math:`2^{-17} + 2^{-24} \approx 8 \times 10^{-6}` per draw, three orders of magnitude
  below the Monte Carlo error of any posterior summary (:math:`\mathrm{sd}/\sqrt{\mathrm{ESS}}`,
  with ESS ≥ 400: 5% of the sd). The dropped bits are zeros, which the shuffle filter and zlib
  then store in almost no space. The abilities (every variable on the ``subject`` dimension)
  and the scalar hyperparameters keep all of float32's 23 bits: the ranking compares the
  abilities of two subjects draw by draw, and rounding them to 16 bits moved one ranking
  probability of ChemBench in its 4th digit (two near-equal abilities swapped order in one
  draw); they are a small share of the file. The loaded draws are float64 again. Measured on
  ChemBench (``benchmarks/fit_size.py``): every posterior summary and every number of the
  ranking table read back to 4 significant digits, at 0.24 of the former size (438 → 103 MB).
  R-hat and ESS recomputed from stored draws can differ in a few of thousands of item
  parameters (tail ESS counts draws beyond a quantile, and rounding moves a draw lying within
  1e-5 of it: 64 of 25,770 on ChemBench, by at most 1.3%), so the R-hat, bulk and tail ESS of
  every parameter element as the fit's convergence check computed them are stored exactly in
  the group ``convergence``
  (:func:`~bayesirt.inference.diagnostics.fit_statistics` reads them), beside the summary
  diagnostics in the attributes;
* sampler statistics, responses and attributes are stored exactly.

Measured in ``benchmarks/fit_size.py``.
"""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import arviz as az
import numpy as np
import xarray as xr

from bayesirt.data import Responses
from bayesirt.inference.diagnostics import Diagnostics
from bayesirt.models.derived import DERIVED_VARIABLES, derived_variables
from bayesirt.models.registry import get_model, model_from_config

if TYPE_CHECKING:
    from bayesirt.models.base import IRTModel

__all__ = [
    "CONFIG_ATTR",
    "DIAGNOSTICS_ATTR",
    "FINGERPRINT_ATTR",
    "INFERENCE_ATTR",
    "VERSIONS_ATTR",
    "FitFileError",
    "card_path",
    "check_fit_path",
    "data_fingerprint",
    "fit_config",
    "fit_diagnostics",
    "fit_info",
    "fit_settings",
    "fit_versions",
    "fitted_model_class",
    "load_fit",
    "model_from_fit",
    "package_versions",
    "responses_from_fit",
    "save_fit",
    "stamp_fit",
]

DEFAULT_FIT_DIR = Path("models")
#: Significand bits kept of the stored draws of item parameters and log-likelihoods (float32
#: has 23, all of which the abilities and scalar hyperparameters keep).
STORED_BITS = 16
#: Dimensions whose variables are stored with every float32 bit (see the module docstring).
_EXACT_DIMS = ("subject",)
#: Groups whose draws are stored rounded (see the module docstring).
_ROUNDED_GROUPS = ("posterior", "log_likelihood", "posterior_predictive", "prior")

#: The fit's attributes: the model configuration (:meth:`~bayesirt.models.base.IRTModel.config`,
#: JSON), the inference settings (JSON), the diagnostics
#: (:meth:`~bayesirt.inference.diagnostics.Diagnostics.to_dict`, JSON), the sha256 fingerprint
#: of the responses (:meth:`~bayesirt.data.Responses.fingerprint`, text) and the package
#: versions (JSON).
CONFIG_ATTR = "bayesirt_config"
INFERENCE_ATTR = "bayesirt_inference"
DIAGNOSTICS_ATTR = "bayesirt_diagnostics"
FINGERPRINT_ATTR = "bayesirt_data_fingerprint"
VERSIONS_ATTR = "bayesirt_versions"
_REQUIRED_ATTRS = (CONFIG_ATTR, INFERENCE_ATTR, FINGERPRINT_ATTR)


class FitFileError(ValueError):
    """A file that is not a bayesirt fit, or whose contents do not match its records."""


def package_versions() -> dict[str, str]:
    """Versions of the packages a fit depends on."""
    out = {}
    for name in ("bayesirt", "pymc", "pytensor", "arviz", "numpy", "nutpie", "numpyro"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def stamp_fit(
    idata: az.InferenceData, irt_model: IRTModel, settings: dict, diagnostics: Diagnostics
) -> None:
    """Write the fit's attributes: the configuration of ``irt_model``, the inference
    ``settings``, the ``diagnostics``, the fingerprint of the fitted responses and the
    package versions."""
    idata.attrs.update(
        {
            CONFIG_ATTR: json.dumps(irt_model.config()),
            INFERENCE_ATTR: json.dumps(settings),
            DIAGNOSTICS_ATTR: json.dumps(diagnostics.to_dict()),
            FINGERPRINT_ATTR: irt_model.responses.fingerprint(),
            VERSIONS_ATTR: json.dumps(package_versions()),
        }
    )


def _attr(idata, name: str) -> Any:
    """The attribute ``name`` of ``idata`` (None when absent or ``idata`` has no attrs)."""
    return (getattr(idata, "attrs", None) or {}).get(name)


def _json_attr(idata, name: str) -> Any:
    """The JSON attribute ``name`` of ``idata``, decoded; None when absent."""
    text = _attr(idata, name)
    return None if text is None else json.loads(text)


def fit_config(idata) -> dict | None:
    """The fitted model's configuration (:meth:`~bayesirt.models.base.IRTModel.config`), or
    None for an InferenceData not made by :func:`bayesirt.fit`."""
    return _json_attr(idata, CONFIG_ATTR)


def fit_settings(idata) -> dict | None:
    """The inference settings of the fit (method, sampler, draws, ...), or None."""
    return _json_attr(idata, INFERENCE_ATTR)


def fit_diagnostics(idata) -> dict | None:
    """The fit's convergence diagnostics as stored
    (:meth:`~bayesirt.inference.diagnostics.Diagnostics.to_dict`), or None."""
    return _json_attr(idata, DIAGNOSTICS_ATTR)


def data_fingerprint(idata) -> str | None:
    """The fingerprint of the responses the fit was made on, as recorded at fit time, or
    None."""
    return _attr(idata, FINGERPRINT_ATTR)


def fit_versions(idata) -> dict | None:
    """The versions of the packages the fit was made with, or None."""
    return _json_attr(idata, VERSIONS_ATTR)


def fitted_model_class(idata, *, missing: str | None = None) -> type[IRTModel]:
    """The model class named in the fit's configuration.

    Raises
    ------
    FitFileError
        A :class:`ValueError` with the message ``missing`` (or a general one) if the fit has
        no configuration (it was not made by :func:`bayesirt.fit`).
    """
    config = fit_config(idata)
    if config is None:
        raise FitFileError(
            missing
            or f"the InferenceData has no {CONFIG_ATTR!r} attribute naming its model; it was "
            "not made by bayesirt.fit"
        )
    return get_model(config["model"])


def card_path(path: str | Path) -> Path:
    """The card written beside the fit ``path``: ``NAME.card.md``."""
    path = Path(path)
    return path.with_name(path.stem + ".card.md")


def save_fit(idata: az.InferenceData, path: str | Path, *, overwrite: bool = True) -> Path:
    """Write the fit to ``path`` (netCDF) and its card beside it; returns the path.

    Both files are written beside their destination under a temporary name and then renamed
    over it, so an interrupted or failed save leaves any earlier fit at ``path`` whole and no
    truncated file behind. With ``overwrite=False`` an existing fit at ``path`` is an error.
    """
    _check_attrs(idata, "the fit to save")
    path = Path(path)
    check_fit_path(path, overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    card = card_path(path)
    partial = [_partial_name(path), _partial_name(card)]
    try:
        _write_netcdf(idata, partial[0])
        partial[1].write_text(_card(idata, path))
        os.replace(partial[0], path)
        os.replace(partial[1], card)
    finally:
        for leftover in partial:
            leftover.unlink(missing_ok=True)
    return path


def check_fit_path(path: str | Path, *, overwrite: bool) -> Path:
    """Refuse a fit path that cannot be written, before any work: not ending in ``.nc``, an
    existing fit when ``overwrite`` is false, or a folder that cannot be created or written."""
    path = Path(path)
    if path.suffix != ".nc":
        raise FitFileError(f"fit files end in .nc, got {str(path)!r}")
    if path.is_dir():
        raise FitFileError(f"{str(path)!r} is a folder, not a fit file")
    if path.exists() and not overwrite:
        raise FitFileError(f"{str(path)!r} exists; choose another path or allow overwriting")
    folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), Path("."))
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise FitFileError(f"cannot write {str(path)!r}: {str(folder)!r} is not writable")
    return path


def _write_netcdf(idata: az.InferenceData, path: Path) -> None:
    """The attributes, then every group in its own netCDF group, in the stored form."""
    xr.Dataset(attrs=dict(idata.attrs)).to_netcdf(path, mode="w", engine="h5netcdf")
    for group in idata.groups():
        data = idata[group]
        if group in _ROUNDED_GROUPS:
            data = data.drop_vars([name for name in DERIVED_VARIABLES if name in data])
            data = data.map(_rounded_float32, keep_attrs=True)
        encoding = {
            name: {"zlib": True, "complevel": 4, "shuffle": True}
            for name, var in data.variables.items()
            if var.dtype.kind in "biuf" and var.ndim
        }
        data.to_netcdf(path, mode="a", group=group, engine="h5netcdf", encoding=encoding)


def _rounded_float32(var: xr.DataArray) -> xr.DataArray:
    """``var`` as float32, rounded to :data:`STORED_BITS` significand bits unless it is an
    ability or a scalar (floats only; NaN and infinities unchanged)."""
    if var.dtype.kind != "f":
        return var
    single = np.asarray(var.values, dtype=np.float32)
    exact = set(var.dims) <= {"chain", "draw"} or any(dim in var.dims for dim in _EXACT_DIMS)
    dropped = 0 if exact else 23 - STORED_BITS
    if dropped <= 0:
        return var.copy(data=single)
    bits = single.view(np.uint32)
    kept_lsb = (bits >> np.uint32(dropped)) & np.uint32(1)
    rounded = (bits + np.uint32((1 << (dropped - 1)) - 1) + kept_lsb) & np.uint32(
        0xFFFFFFFF ^ ((1 << dropped) - 1)
    )
    values = np.where(np.isfinite(single), rounded.view(np.float32), single)
    return var.copy(data=values)


def _restored(idata: az.InferenceData) -> az.InferenceData:
    """A fit as read from its file, as it was in memory: float64 draws and the derived
    variables."""
    groups = {}
    for group in idata.groups():
        data = idata[group]
        if group in _ROUNDED_GROUPS:
            data = data.map(
                lambda var: var.astype(np.float64) if var.dtype.kind == "f" else var,
                keep_attrs=True,
            )
            if group == "posterior":
                data = data.assign(derived_variables(data))
        groups[group] = data
    return az.InferenceData(attrs=dict(idata.attrs), **groups)


def _partial_name(path: Path) -> Path:
    """A hidden name beside ``path`` for the file being written."""
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def load_fit(path: str | Path, *, responses: Responses | None = None) -> az.InferenceData:
    """Read a fit written by :func:`save_fit`, checking that it is whole and consistent.

    Parameters
    ----------
    path : path-like
        The ``.nc`` file.
    responses : Responses, optional
        If given, the fit must have been made on exactly these data (same fingerprint).

    Raises
    ------
    FitFileError
        The file is missing, is not a bayesirt fit, or its stored data do not match its
        recorded fingerprint or the given ``responses``.
    """
    path = Path(path)
    if not path.is_file():
        raise FitFileError(f"no fit file at {str(path)!r}")
    try:
        idata = az.from_netcdf(str(path), engine="h5netcdf")
    except Exception as err:  # any reader failure means "not a fit file"
        raise FitFileError(f"{str(path)!r} is not a readable netCDF fit: {err}") from err
    _check_attrs(idata, repr(str(path)))
    idata = _restored(idata)
    stored = responses_from_fit(idata).fingerprint()
    recorded = data_fingerprint(idata)
    if stored != recorded:
        raise FitFileError(
            f"{str(path)!r}: the responses stored in the file (fingerprint {stored[:12]}) do not "
            f"match the fingerprint recorded at fit time ({recorded[:12]}); the file was altered"
        )
    if responses is not None and responses.fingerprint() != recorded:
        raise FitFileError(
            f"{str(path)!r} was fitted on other data (fingerprint {recorded[:12]}) than the "
            f"responses given ({responses.fingerprint()[:12]})"
        )
    return idata


def responses_from_fit(idata: az.InferenceData, *, missing: str | None = None) -> Responses:
    """The responses a fit was made on, rebuilt from its ``constant_data``.

    Raises
    ------
    FitFileError
        With the message ``missing`` (or a general one) if ``idata`` holds no responses.
    """
    data = getattr(idata, "constant_data", None)
    if data is None or "response" not in data:
        raise FitFileError(
            missing or "the InferenceData holds no bayesirt responses (constant_data)"
        )
    return Responses.from_xarray(data)


def model_from_fit(idata: az.InferenceData):
    """Rebuild the :class:`~bayesirt.models.IRTModel` (data and priors) behind a fit."""
    _check_attrs(idata, "the fit")
    return model_from_config(fit_config(idata), responses_from_fit(idata))


def fit_info(idata: az.InferenceData) -> dict:
    """Model configuration, inference settings, diagnostics and versions of a fit."""
    _check_attrs(idata, "the fit")
    return {
        "config": fit_config(idata),
        "inference": fit_settings(idata),
        "diagnostics": fit_diagnostics(idata) or {},
        "data_fingerprint": data_fingerprint(idata),
        "versions": fit_versions(idata) or {},
    }


def _check_attrs(idata, where: str) -> None:
    missing = [k for k in _REQUIRED_ATTRS if k not in idata.attrs]
    if missing:
        raise FitFileError(
            f"{where} is not a bayesirt fit: attributes {', '.join(missing)} are missing"
        )


def _card(idata: az.InferenceData, path: Path) -> str:
    info = fit_info(idata)
    diag = Diagnostics.from_dict(info["diagnostics"]) if info["diagnostics"] else None
    responses = responses_from_fit(idata)
    source = responses.source
    pool_by = info["config"]["pool_by"]
    pooled = f" (items pooled by `{pool_by}`)" if pool_by else ""
    priors = ", ".join(
        f"{key}={spec['distribution']}("
        + ", ".join(f"{p}={x}" for p, x in spec.items() if p != "distribution")
        + ")"
        for key, spec in info["config"]["priors"].items()
    )
    lines = [
        f"# Fit card: {path.name}",
        "",
        f"- model: `{info['config']['model']}`" + pooled,
        f"- data: {responses.n_subjects} subjects × {responses.n_items} items, "
        f"{responses.n_observed} observed responses ({responses.fraction_missing:.1%} missing)",
        f"- data fingerprint (sha256): `{info['data_fingerprint']}`",
        *(["- source: " + ", ".join(f"{k}={v!r}" for k, v in source.items())] if source else []),
        "- inference: " + ", ".join(f"{k}={v}" for k, v in info["inference"].items()),
    ]
    if diag is not None:
        verdict = "converged" if diag.converged else "NOT CONVERGED: " + "; ".join(diag.problems)
        lines += [
            f"- diagnostics: {verdict}",
            f"  - max R-hat {diag.max_rhat:.4f} ({diag.worst_rhat or 'n/a'})",
            f"  - min bulk ESS {diag.min_ess_bulk:.0f} ({diag.worst_ess_bulk or 'n/a'}), "
            f"min tail ESS {diag.min_ess_tail:.0f}",
            f"  - divergences {diag.divergences}, min E-BFMI {diag.min_bfmi:.2f}",
        ]
    lines += [
        f"- priors: {priors}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()),
        "",
    ]
    return "\n".join(lines)
