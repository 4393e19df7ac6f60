r"""The 4PL log-likelihood of observed pairs as one fused PyTensor operation.

Written as ordinary PyTensor graph code, the likelihood gathers :math:`\theta_{s(k)}`,
:math:`a_{i(k)}`, :math:`b_{i(k)}` into observation-length vectors, combines them elementwise
and scatters the gradient back: several passes over memory per evaluation. Here one pass
computes, for every observed pair :math:`k = (j, i)`,

.. math::

    \ell_k = y_k \log P_k + (1 - y_k) \log(1 - P_k), \qquad
    P_k = c_i + (d_i - c_i)\,\sigma(z_k), \quad z_k = a_i(\theta_j - b_i),

(with :math:`\ell_k = -\operatorname{softplus}(\mp z_k)` when :math:`c = 0, d = 1`, and
:math:`1 - P_k = (1 - d_i) + (d_i - c_i)\sigma(-z_k)`, both exact for extreme logits) and
one pass accumulates the vector-Jacobian product

.. math::

    \frac{\partial \ell_k}{\partial z_k} = \frac{\partial \ell_k}{\partial P_k}(d_i - c_i)
    \sigma(z_k)(1 - \sigma(z_k)), \quad
    \frac{\partial z_k}{\partial \theta_j} = a_i, \quad
    \frac{\partial z_k}{\partial b_i} = -a_i, \quad
    \frac{\partial z_k}{\partial a_i} = \theta_j - b_i,

    \frac{\partial \ell_k}{\partial c_i} = \frac{\partial \ell_k}{\partial P_k}(1 - \sigma(z_k)),
    \quad
    \frac{\partial \ell_k}{\partial d_i} = \frac{\partial \ell_k}{\partial P_k}\sigma(z_k).

The kernels are compiled with numba and used by every backend: directly by PyTensor's own
evaluation (PyMC's sampler, ADVI), through a numba registration by nutpie, and through a JAX
registration (the same formulas in ``jax.numpy``) by numpyro. The output is the vector of
:math:`\ell_k`; models add its sum to the joint density as a potential.
"""

from __future__ import annotations

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

__all__ = ["enable_jax", "irt_loglik"]


@numba.njit(cache=True, error_model="numpy")
def _softplus(x):
    return x + np.log1p(np.exp(-x)) if x > 0 else np.log1p(np.exp(x))


@numba.njit(cache=True, error_model="numpy")
def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + np.exp(-x))
    e = np.exp(x)
    return e / (1.0 + e)


@numba.njit(cache=True, error_model="numpy")
def _loglik_kernel(theta, a, b, c, d, subject, item, y, asymptotes):
    n = y.shape[0]
    out = np.empty(n)
    for k in range(n):
        i = item[k]
        z = a[i] * (theta[subject[k]] - b[i])
        if asymptotes:
            if y[k] == 1:
                out[k] = np.log(c[i] + (d[i] - c[i]) * _sigmoid(z))
            else:
                out[k] = np.log((1.0 - d[i]) + (d[i] - c[i]) * _sigmoid(-z))
        else:
            out[k] = -_softplus(-z) if y[k] == 1 else -_softplus(z)
    return out


@numba.njit(cache=True, error_model="numpy")
def _loglik_vjp_kernel(theta, a, b, c, d, subject, item, y, g, asymptotes):
    g_theta = np.zeros_like(theta)
    g_a = np.zeros_like(a)
    g_b = np.zeros_like(b)
    g_c = np.zeros_like(c)
    g_d = np.zeros_like(d)
    for k in range(y.shape[0]):
        j = subject[k]
        i = item[k]
        diff = theta[j] - b[i]
        z = a[i] * diff
        s = _sigmoid(z)
        if asymptotes:
            if y[k] == 1:
                dl_dp = g[k] / (c[i] + (d[i] - c[i]) * s)
            else:
                dl_dp = -g[k] / ((1.0 - d[i]) + (d[i] - c[i]) * _sigmoid(-z))
            dl_dz = dl_dp * (d[i] - c[i]) * s * (1.0 - s)
            g_c[i] += dl_dp * (1.0 - s)
            g_d[i] += dl_dp * s
        else:
            dl_dz = g[k] * (y[k] - s)
        g_theta[j] += dl_dz * a[i]
        g_b[i] -= dl_dz * a[i]
        g_a[i] += dl_dz * diff
    return g_theta, g_a, g_b, g_c, g_d


class _IRTLogLik(Op):
    """Pointwise 4PL log-likelihood; inputs theta, a, b, c, d, subject, item, y."""

    __props__ = ("asymptotes",)

    def __init__(self, asymptotes: bool):
        self.asymptotes = bool(asymptotes)

    def make_node(self, *inputs):
        inputs = [pt.as_tensor_variable(x) for x in inputs]
        return Apply(self, inputs, [pt.dvector()])

    def perform(self, node, inputs, outputs):
        theta, a, b, c, d, subject, item, y = inputs
        outputs[0][0] = _loglik_kernel(theta, a, b, c, d, subject, item, y, self.asymptotes)

    def connection_pattern(self, node):
        return [[True]] * 5 + [[False]] * 3

    def grad(self, inputs, output_grads):
        grads = _IRTLogLikVJP(self.asymptotes)(*inputs, output_grads[0])
        return [*grads, *(DisconnectedType()() for _ in range(3))]

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[7]]


class _IRTLogLikVJP(Op):
    """Vector-Jacobian product of :class:`_IRTLogLik` with respect to theta, a, b, c, d."""

    __props__ = ("asymptotes",)

    def __init__(self, asymptotes: bool):
        self.asymptotes = bool(asymptotes)

    def make_node(self, *inputs):
        inputs = [pt.as_tensor_variable(x) for x in inputs]
        return Apply(self, inputs, [x.type() for x in inputs[:5]])

    def perform(self, node, inputs, outputs):
        theta, a, b, c, d, subject, item, y, g = inputs
        grads = _loglik_vjp_kernel(theta, a, b, c, d, subject, item, y, g, self.asymptotes)
        for out, value in zip(outputs, grads, strict=True):
            out[0] = value

    def infer_shape(self, fgraph, node, shapes):
        return shapes[:5]


def irt_loglik(theta, a, b, subject, item, y, c=None, d=None):
    """Pointwise log-likelihood tensor of the observed pairs (``c``/``d`` None: 0 and 1)."""
    asymptotes = c is not None or d is not None
    c = pt.zeros_like(a) if c is None else c
    d = pt.ones_like(a) if d is None else d
    return _IRTLogLik(asymptotes)(theta, a, b, c, d, subject, item, y)


def _register_numba() -> None:
    from pytensor.link.numba.dispatch import numba_funcify

    @numba_funcify.register(_IRTLogLik)
    def _loglik_numba(op, node=None, **kwargs):
        asymptotes = op.asymptotes

        @numba.njit
        def loglik(theta, a, b, c, d, subject, item, y):
            return _loglik_kernel(theta, a, b, c, d, subject, item, y, asymptotes)

        return loglik

    @numba_funcify.register(_IRTLogLikVJP)
    def _vjp_numba(op, node=None, **kwargs):
        asymptotes = op.asymptotes

        @numba.njit
        def vjp(theta, a, b, c, d, subject, item, y, g):
            return _loglik_vjp_kernel(theta, a, b, c, d, subject, item, y, g, asymptotes)

        return vjp


def enable_jax() -> None:
    """Register the JAX implementation (for numpyro); imports JAX, so only on demand."""
    import jax
    import jax.numpy as jnp
    from pytensor.link.jax.dispatch import jax_funcify

    if _IRTLogLik in jax_funcify.registry:
        return

    def forward(theta, a, b, c, d, subject, item, y, asymptotes):
        z = a[item] * (theta[subject] - b[item])
        if not asymptotes:
            return jnp.where(y == 1, jax.nn.log_sigmoid(z), jax.nn.log_sigmoid(-z))
        p = c[item] + (d[item] - c[item]) * jax.nn.sigmoid(z)
        q = (1.0 - d[item]) + (d[item] - c[item]) * jax.nn.sigmoid(-z)
        return jnp.where(y == 1, jnp.log(p), jnp.log(q))

    @jax_funcify.register(_IRTLogLik)
    def _loglik_jax(op, **kwargs):
        asymptotes = op.asymptotes

        def loglik(theta, a, b, c, d, subject, item, y):
            return forward(theta, a, b, c, d, subject, item, y, asymptotes)

        return loglik

    @jax_funcify.register(_IRTLogLikVJP)
    def _vjp_jax(op, **kwargs):
        asymptotes = op.asymptotes

        def vjp(theta, a, b, c, d, subject, item, y, g):
            _, pullback = jax.vjp(
                lambda *p: forward(*p, subject, item, y, asymptotes), theta, a, b, c, d
            )
            return pullback(g)

        return vjp


_register_numba()
