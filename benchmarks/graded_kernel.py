"""The ordinal models' likelihoods: their fused kernels against plain PyTensor.

:class:`bayesirt.models.GradedResponse` evaluates its log-likelihood as binary pseudo-answers
on the fused 2PL kernel plus one term per gap, :class:`bayesirt.models.PartialCredit` on a
fused kernel of its own (see :mod:`bayesirt.models.graded`). This script builds the model on a
simulated table, then times the log density and its gradient, evaluated together as a
sampler asks for them, with the package's likelihood and with the direct PyTensor expression
a user would write (graded: :math:`\\sum \\log(\\sigma(a\\theta + d_{y}) - \\sigma(a\\theta +
d_{y+1}))`; partial credit: :math:`\\sum \\eta_y - \\log\\sum_k e^{\\eta_k}`), swapped in for
the ``loglik`` potential. Both are compiled by numba, the backend nutpie samples with. It
checks that the two give the same value and gradient and prints the median time of each.

    python benchmarks/graded_kernel.py [--model grm|gpcm] [--shape N I] [--levels K]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt

from bayesirt.data.simulate import simulate_graded
from bayesirt.models import GradedResponse, PartialCredit


def _direct_loglik(model: pm.Model, responses) -> pt.TensorVariable:
    """The log-likelihood written out in PyTensor from the model's own theta, a and
    intercepts (value variables substituted)."""
    theta, a, d = model.replace_rvs_by_values([model["theta"], model["a"], model["intercepts"]])
    s, i, y = responses.subject_index, responses.item_index, responses.response.astype(int)
    top = responses.n_categories[i] - 1
    eta = a[i] * theta[s]
    upper = pt.where(y > 0, pm.math.sigmoid(eta + d[i, np.maximum(y - 1, 0)]), 1.0)
    lower = pt.where(y < top, pm.math.sigmoid(eta + d[i, np.minimum(y, top - 1)]), 0.0)
    return pt.sum(pt.log(upper - lower))


def _direct_gpcm(model: pm.Model, responses) -> pt.TensorVariable:
    """The partial credit log-likelihood written out in PyTensor: a log-sum-exp over each
    answer's categories, -inf beyond its item's own."""
    theta, a, d = model.replace_rvs_by_values([model["theta"], model["a"], model["intercepts"]])
    s, i, y = responses.subject_index, responses.item_index, responses.response.astype(int)
    padded = pt.concatenate([pt.zeros((d.shape[0], 1)), pt.where(pt.isnan(d), -np.inf, d)], axis=1)
    eta = (a[i] * theta[s])[:, None] * np.arange(responses.n_categories.max())[None, :]
    eta = eta + padded[i]
    chosen = eta[np.arange(len(y)), y]
    return pt.sum(chosen - pt.logsumexp(eta, axis=1))


def _timed(function, point, repeats: int) -> float:
    function(point)  # compile and warm up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(point)
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["grm", "gpcm"], default="grm")
    parser.add_argument("--shape", nargs=2, type=int, default=(400, 200), metavar=("N", "I"))
    parser.add_argument("--levels", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()

    responses, _ = simulate_graded(*args.shape, n_levels=args.levels, model=args.model, seed=1)
    model_class, direct_loglik = {
        "grm": (GradedResponse, _direct_loglik),
        "gpcm": (PartialCredit, _direct_gpcm),
    }[args.model]
    model = model_class(responses).build_model()
    values = model.value_vars
    fused = model.replace_rvs_by_values([model["loglik"]])[0]
    direct = direct_loglik(model, responses)
    point = model.initial_point()
    rng = np.random.default_rng(0)
    point = {k: v + 0.1 * rng.normal(size=np.shape(v)) for k, v in point.items()}

    functions = {}
    for name, loglik in (("fused kernel", fused), ("direct PyTensor", direct)):
        outputs = [loglik, *pytensor.grad(loglik, values, disconnected_inputs="ignore")]
        compiled = pytensor.function(values, outputs, mode="NUMBA", on_unused_input="ignore")
        functions[name] = lambda p, f=compiled: f(*(p[v.name] for v in values))
    results = {name: f(point) for name, f in functions.items()}
    (value_a, *grad_a), (value_b, *grad_b) = results.values()
    assert np.isclose(value_a, value_b, rtol=1e-10), (value_a, value_b)
    for g_a, g_b in zip(grad_a, grad_b, strict=True):
        np.testing.assert_allclose(g_a, g_b, rtol=1e-8, atol=1e-8)

    print(
        f"{args.model}, {responses!r}: {responses.n_observed:,} answers, value and gradient agree "
        f"(log-likelihood {value_a:.6f})"
    )
    times = {name: _timed(f, point, args.repeats) for name, f in functions.items()}
    for name, seconds in times.items():
        print(f"  {name:16s} {seconds * 1e3:8.3f} ms per log density + gradient")
    print(f"  ratio direct / fused: {times['direct PyTensor'] / times['fused kernel']:.2f}")


if __name__ == "__main__":
    main()
