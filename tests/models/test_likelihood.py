"""The fused likelihood operation: its value and gradients against plain formulas, on every
backend that runs it, and one kernel call per density-and-gradient evaluation."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.special import expit

from bayesirt.models.likelihood import BLOCK, EXP_FLOOR, _exp_block, _IRTLogLik, irt_loglik


def _case(asymptotes: bool, seed: int = 0, n_pairs: int = 60):
    rng = np.random.default_rng(seed)
    n_subjects, n_items = (7, 11) if n_pairs <= 77 else (30, 50)
    values = {
        "theta": rng.normal(size=n_subjects),
        "a": np.exp(rng.normal(0.0, 0.4, n_items)),
        "b": rng.normal(size=n_items) * 2.0,
        "c": rng.uniform(0.0, 0.3, n_items) if asymptotes else np.zeros(n_items),
        "d": rng.uniform(0.7, 1.0, n_items) if asymptotes else np.ones(n_items),
    }
    values["a"][0] = 40.0  # an extreme logit: exact where 1 - sigma(z) underflows
    pairs = rng.choice(n_subjects * n_items, n_pairs, replace=False)
    subject = (pairs // n_items).astype(np.int32)
    item = (pairs % n_items).astype(np.int32)
    item[:3] = 0
    y = rng.integers(0, 2, n_pairs).astype(np.int8)
    return values, subject, item, y


def _reference(values, subject, item, y):
    """The same total, written with numpy, in log space where P is near 0 or 1."""
    a, b, c, d = (values[k][item] for k in "abcd")
    z = a * (values["theta"][subject] - b)
    p = c + (d - c) * expit(z)
    q = (1.0 - d) + (d - c) * expit(-z)
    return float(np.sum(np.where(y == 1, np.log(p), np.log(q))))


def _graph(asymptotes: bool, subject, item, y):
    inputs = {k: pt.dvector(k) for k in ("theta", "a", "b", "c", "d")}
    total = irt_loglik(
        inputs["theta"],
        inputs["a"],
        inputs["b"],
        subject,
        item,
        y,
        c=inputs["c"] if asymptotes else None,
        d=inputs["d"] if asymptotes else None,
    )
    wrt = [inputs[k] for k in ("theta", "a", "b", *(("c", "d") if asymptotes else ()))]
    return inputs, wrt, total


# 60 pairs: part of one block of the kernels; 2 * BLOCK + 276: two full blocks and a part
@pytest.mark.parametrize("n_pairs", [60, 2 * BLOCK + 276])
@pytest.mark.parametrize("mode", ["FAST_RUN", "NUMBA"])
@pytest.mark.parametrize("asymptotes", [False, True])
def test_value_and_gradient_match_the_formulas(asymptotes, mode, n_pairs):
    values, subject, item, y = _case(asymptotes, n_pairs=n_pairs)
    inputs, wrt, total = _graph(asymptotes, subject, item, y)
    fn = pytensor.function(
        list(inputs.values()),
        [total, *pt.grad(total, wrt)],
        mode=mode,
        on_unused_input="ignore",
    )
    value, *grads = fn(*values.values())
    assert float(value) == pytest.approx(_reference(values, subject, item, y), rel=1e-12)
    step = 1e-6
    for name, grad in zip([v.name for v in wrt], grads, strict=True):
        numeric = np.empty_like(values[name])
        for k in range(len(numeric)):
            up, down = dict(values), dict(values)
            up[name] = values[name].copy()
            down[name] = values[name].copy()
            up[name][k] += step
            down[name][k] -= step
            numeric[k] = (_reference(up, subject, item, y) - _reference(down, subject, item, y)) / (
                2 * step
            )
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("asymptotes", [False, True])
def test_jax_registration_gives_the_same_numbers(asymptotes):
    pytest.importorskip("jax")
    from bayesirt.models.likelihood import enable_jax

    enable_jax()
    values, subject, item, y = _case(asymptotes, seed=1)
    inputs, wrt, total = _graph(asymptotes, subject, item, y)
    outputs = [total, *pt.grad(total, wrt)]
    args = list(inputs.values())
    ours = pytensor.function(args, outputs, on_unused_input="ignore")(*values.values())
    jax_fn = pytensor.function(args, outputs, mode="JAX", on_unused_input="ignore")
    for got, expected in zip(jax_fn(*values.values()), ours, strict=True):
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-10, atol=1e-12)


def test_vectorised_exponential_matches_numpy():
    rng = np.random.default_rng(3)
    v = np.concatenate([-np.abs(rng.normal(0.0, 20.0, 5000)), [0.0, -1e-300, EXP_FLOOR, -0.5]])
    v = np.concatenate([v, np.log(2.0) * -np.arange(40.0) - np.log(2.0) / 2])  # edges of m
    mantissa = np.empty_like(v)
    bits = np.empty(len(v), dtype=np.int64)
    _exp_block(v, mantissa, bits, len(v))
    got = mantissa * bits.view(np.float64)
    near = v > -40.0  # the range where 1 + exp(v) differs from 1
    np.testing.assert_allclose(got[near], np.exp(v[near]), rtol=2e-15, atol=0)
    np.testing.assert_allclose(got, np.exp(v), rtol=1e-13, atol=0)


def test_nan_parameters_give_a_nan_density():
    """Fast-math must not hide a NaN: the samplers rely on it to reject a point."""
    values, subject, item, y = _case(False, n_pairs=2 * BLOCK + 276)
    inputs, _, total = _graph(False, subject, item, y)
    fn = pytensor.function(list(inputs.values()), total, mode="NUMBA", on_unused_input="ignore")
    values["theta"][subject[-1]] = np.nan
    assert np.isnan(fn(*values.values()))


def test_density_and_gradient_share_one_kernel_call():
    _, subject, item, y = _case(False)
    inputs, wrt, total = _graph(False, subject, item, y)
    fn = pytensor.function(
        list(inputs.values()), [total, *pt.grad(total, wrt)], on_unused_input="ignore"
    )
    calls = [node for node in fn.maker.fgraph.apply_nodes if isinstance(node.op, _IRTLogLik)]
    assert len(calls) == 1, calls


def test_second_derivatives_are_refused():
    _, subject, item, y = _case(False)
    inputs, _, total = _graph(False, subject, item, y)
    (g_theta,) = pt.grad(total, [inputs["theta"]])
    with pytest.raises(NotImplementedError, match="second derivatives"):
        pt.grad(g_theta.sum(), inputs["theta"])


# ------------------------------------------------------------------ beta density
def _beta_case(seed: int = 4, n: int = 300):
    rng = np.random.default_rng(seed)
    values = {
        "theta": rng.normal(size=9),
        "a": np.exp(rng.normal(0.0, 0.4, 13)),
        "intercept": rng.normal(size=13) * 2.0,
        "phi": np.exp(rng.normal(1.0, 1.5, 13)),  # from about 0.1 to 60: small shapes too
    }
    subject = rng.integers(0, 9, n).astype(np.int32)
    item = rng.integers(0, 13, n).astype(np.int32)
    y = np.concatenate([rng.uniform(1e-9, 1 - 1e-9, n - 2), [1e-7, 1 - 1e-7]])
    return values, subject, item, y


def _beta_reference(values, subject, item, y):
    from scipy.stats import beta

    eta = values["a"][item] * values["theta"][subject] + values["intercept"][item]
    phi = values["phi"][item]
    return float(np.sum(beta.logpdf(y, expit(eta) * phi, expit(-eta) * phi)))


def _beta_function(subject, item, y, mode):
    from bayesirt.models.likelihood import beta_density_loglik

    inputs = {k: pt.dvector(k) for k in ("theta", "a", "intercept", "phi")}
    total = beta_density_loglik(*inputs.values(), subject, item, y)
    outputs = [total, *pt.grad(total, list(inputs.values()))]
    return pytensor.function(list(inputs.values()), outputs, mode=mode)


def test_log_gamma_and_digamma_match_scipy():
    from scipy.special import digamma, gammaln

    from bayesirt.models.likelihood import _log_gamma_and_digamma

    x = np.concatenate([np.geomspace(1e-8, 1e4, 400), [0.5, 1.0, 9.999, 10.0, 10.001]])
    log_gamma, psi = np.array([_log_gamma_and_digamma(v) for v in x]).T
    np.testing.assert_allclose(log_gamma, gammaln(x), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(psi, digamma(x), rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("mode", ["FAST_RUN", "NUMBA"])
def test_beta_density_matches_scipy_and_finite_differences(mode):
    values, subject, item, y = _beta_case()
    value, *grads = _beta_function(subject, item, y, mode)(*values.values())
    assert float(value) == pytest.approx(_beta_reference(values, subject, item, y), rel=1e-11)
    step = 1e-6
    for (name, x), grad in zip(values.items(), grads, strict=True):
        numeric = np.empty_like(x)
        for k in range(len(x)):
            up, down = dict(values), dict(values)
            up[name], down[name] = x.copy(), x.copy()
            up[name][k] += step * max(1.0, abs(x[k]))
            down[name][k] -= step * max(1.0, abs(x[k]))
            numeric[k] = (
                _beta_reference(up, subject, item, y) - _beta_reference(down, subject, item, y)
            ) / (2 * step * max(1.0, abs(x[k])))
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5, err_msg=name)


def test_beta_density_jax_registration_gives_the_same_numbers():
    pytest.importorskip("jax")
    from bayesirt.models.likelihood import enable_jax

    enable_jax()
    values, subject, item, y = _beta_case(seed=5)
    ours = _beta_function(subject, item, y, "FAST_RUN")(*values.values())
    theirs = _beta_function(subject, item, y, "JAX")(*values.values())
    for got, expected in zip(theirs, ours, strict=True):
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-10, atol=1e-10)
