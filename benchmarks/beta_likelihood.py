"""The ordered beta model's likelihood: what continuous scores cost against binarised ones.

:class:`bayesirt.models.OrderedBeta` evaluates its three outcomes (0, interior, 1) on the fused
binary kernel (two pseudo-items per item) and the beta density of the interior scores as
vectorised PyTensor (see :mod:`bayesirt.models.beta`). On AlpacaEval 2's preference (58 × 805,
read as continuous on the scale 1..2) this script times, as a sampler asks for them (value and
gradient together, compiled by numba as nutpie does):

* the whole ordered beta log-likelihood,
* its beta-density part alone, with the fused kernel
  (:func:`bayesirt.models.likelihood.beta_density_loglik`) and written out in PyTensor (the
  two are checked to agree),
* the 2PL's log-likelihood of the same cells binarised (win = preference >= 1.5),

and prints the median of each and their ratios. Run it with nothing else on the machine.

    python benchmarks/beta_likelihood.py [--repeats R]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt

from bayesirt import Responses
from bayesirt.models import OrderedBeta, TwoPL
from bayesirt.models.likelihood import beta_density_loglik

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpacaeval2"


def _compiled(model, loglik):
    values = model.value_vars
    outputs = [loglik, *pytensor.grad(loglik, values, disconnected_inputs="ignore")]
    function = pytensor.function(values, outputs, mode="NUMBA", on_unused_input="ignore")
    rng = np.random.default_rng(0)
    point = {k: v + 0.1 * rng.normal(size=np.shape(v)) for k, v in model.initial_point().items()}
    return lambda: function(*(point[v.name] for v in values))


def _median_seconds(function, repeats: int) -> float:
    function()  # compile and warm up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def _beta_density(model, responses, *, fused: bool) -> pt.TensorVariable:
    """The beta log-density of the interior scores, from the model's own variables."""
    theta, a, intercept, phi = model.replace_rvs_by_values(
        [model[name] for name in ("theta", "a", "intercept", "phi")]
    )
    inside = (responses.response > 0) & (responses.response < 1)
    s, i, y = (
        responses.subject_index[inside],
        responses.item_index[inside],
        responses.response[inside],
    )
    if fused:
        return beta_density_loglik(theta, a, intercept, phi, s, i, y)
    eta = a[i] * theta[s] + intercept[i]
    shape_1, shape_2 = pt.sigmoid(eta) * phi[i], pt.sigmoid(-eta) * phi[i]
    return pt.sum(
        pt.gammaln(phi[i])
        - pt.gammaln(shape_1)
        - pt.gammaln(shape_2)
        + (shape_1 - 1.0) * np.log(y)
        + (shape_2 - 1.0) * np.log1p(-y)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    table = pd.read_csv(DATA / "responses_tidy.csv")
    continuous = Responses.from_long(
        table, response="preference", response_type="continuous", scale=(1, 2)
    )
    binary = Responses.from_long(table, response="preference", threshold=1.5)
    beta = OrderedBeta(continuous).build_model()
    two_pl = TwoPL(binary).build_model()
    functions = {
        "ordered beta, whole": _compiled(beta, beta.replace_rvs_by_values([beta["loglik"]])[0]),
        "density, fused kernel": _compiled(beta, _beta_density(beta, continuous, fused=True)),
        "density, plain PyTensor": _compiled(beta, _beta_density(beta, continuous, fused=False)),
        "2PL, binarised": _compiled(two_pl, two_pl.replace_rvs_by_values([two_pl["loglik"]])[0]),
    }
    interior = int(np.sum((continuous.response > 0) & (continuous.response < 1)))
    print(f"{continuous!r}: {interior:,} interior scores")
    (fused, *fused_grad), (plain, *plain_grad) = (
        functions[name]() for name in ("density, fused kernel", "density, plain PyTensor")
    )
    assert np.isclose(fused, plain, rtol=1e-10), (fused, plain)
    for g_fused, g_plain in zip(fused_grad, plain_grad, strict=True):
        np.testing.assert_allclose(g_fused, g_plain, rtol=1e-7, atol=1e-7)
    times = {name: _median_seconds(f, args.repeats) for name, f in functions.items()}
    for name, seconds in times.items():
        print(f"  {name:28s} {seconds * 1e3:8.3f} ms per log-likelihood + gradient")
    whole, two = times["ordered beta, whole"], times["2PL, binarised"]
    print(f"  ratio ordered beta / 2PL: {whole / two:.2f}")
    density = times["density, fused kernel"]
    print(f"  share of the density (fused) in the whole: {density / whole:.2f}")
    print(f"  ratio plain / fused density: {times['density, plain PyTensor'] / density:.2f}")


if __name__ == "__main__":
    main()
