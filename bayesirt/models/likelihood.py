r"""The 4PL log-likelihood of the observed pairs and its gradient, in one fused pass.

Written as ordinary PyTensor graph code, the likelihood gathers :math:`\theta_{s(k)}`,
:math:`a_{i(k)}`, :math:`b_{i(k)}` into observation-length vectors, combines them elementwise
and scatters the gradient back: several passes over memory per evaluation, and the
exponentials computed once for the value and again for the gradient. Here one loop over the
observed pairs :math:`k = (j, i)` computes the total

.. math::

    \ell = \sum_k y_k \log P_k + (1 - y_k) \log(1 - P_k), \qquad
    P_k = c_i + (d_i - c_i)\,\sigma(z_k), \quad z_k = a_i(\theta_j - b_i),

and, from the same :math:`e_k = \exp(-|z_k|)`, its gradient

.. math::

    \frac{\partial \ell}{\partial z_k} = \frac{\partial \ell_k}{\partial P_k}(d_i - c_i)
    \sigma(z_k)(1 - \sigma(z_k)), \quad
    \frac{\partial z_k}{\partial \theta_j} = a_i, \quad
    \frac{\partial z_k}{\partial b_i} = -a_i, \quad
    \frac{\partial z_k}{\partial a_i} = \theta_j - b_i,

    \frac{\partial \ell}{\partial c_i} = \sum_k \frac{\partial \ell_k}{\partial P_k}
    (1 - \sigma(z_k)), \quad
    \frac{\partial \ell}{\partial d_i} = \sum_k \frac{\partial \ell_k}{\partial P_k}
    \sigma(z_k).

With :math:`c = 0, d = 1` this is :math:`\log \sigma(\pm z) = -\log(1 + e) - \max(\mp z, 0)`
and :math:`\partial \ell / \partial z_k = y_k - \sigma(z_k)`; with asymptotes,
:math:`1 - P_k = (1 - d_i) + (d_i - c_i)\sigma(-z_k)`. Both forms are exact for extreme logits.

The operation has the total and the five gradients as outputs; its ``grad`` reuses the
gradient outputs of the same node (PyTensor merges the two applications), so a sampler that
asks for the log density and its gradient together pays for one pass.

The pairs are taken in blocks of :data:`BLOCK`: the logits of a block are gathered and
exponentiated together by a polynomial that the compiler vectorises (:func:`_exp_block`; the C
library's ``exp``, called once per pair, cannot be), :math:`\sigma(z_k)` and
:math:`\sigma(-z_k)` both come from that one :math:`e_k`, and the block's gradient is
scattered back. Without asymptotes (1PL, 2PL), :math:`\sum_k \log(1 + e_k)` is the logarithm
of the block's product, one logarithm per block; with them each pair keeps its own. On this
machine's cores (one thread, same run) the 2PL kernel takes 0.42 ms on ChemBench (62,788
pairs) and 1.35 ms at 100 × 2,000, against 1.2 and 3.9 ms with one ``exp`` and one ``log``
per pair; the 4PL kernel 1.3 and 4.2 ms, against 1.85 and 5.9 ms with two ``exp`` per pair.
With the rest of the model's log density and gradient (0.2 ms at 100 × 2,000) the kernel is
still most of a sampler's time.

The kernel is compiled with numba and used by every backend: directly by PyTensor's own
evaluation (PyMC's sampler, ADVI), through a numba registration by nutpie, and through a JAX
registration (the same formulas in ``jax.numpy``, differentiated by JAX) by numpyro.
Per-pair values, for LOO and posterior checks, are computed from the posterior by each
model's :meth:`~bayesirt.models.IRTModel.pointwise_log_likelihood`.
"""

from __future__ import annotations

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

__all__ = ["beta_density_loglik", "enable_jax", "irt_loglik", "partial_credit_loglik"]


#: Pairs per block of the kernels: small enough for their buffers to stay in the L1 cache.
BLOCK = 512
#: Fast-math flags of the kernels: fused multiply-add and reordered sums (what lets LLVM
#: vectorise the loops); no flag that assumes finite values, so NaN and infinity propagate.
FASTMATH = {"contract", "reassoc", "nsz", "arcp"}
LN2 = 0.6931471805599453
INV_LN2 = 1.4426950408889634
#: Below this, exp underflows to subnormals; exp(-700) ~ 1e-304 is 0 next to 1.
EXP_FLOOR = -700.0


@numba.njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def _exp_block(v, mantissa, exponent_bits, n):
    r"""``exp(v[k])`` for ``k < n``, :math:`v_k \le 0`, as ``mantissa * exponent_bits.view(float)``.

    :math:`e^v = 2^m e^r` with :math:`m = \operatorname{round}(v / \ln 2)` and
    :math:`r = v - m \ln 2 \in [-\tfrac12 \ln 2, \tfrac12 \ln 2]`; :math:`e^r` by its
    Taylor polynomial of degree 12 (truncation below :math:`2 \cdot 10^{-16}` relative) and
    :math:`2^m` written directly into the exponent bits. Plain arithmetic, so the loop
    vectorises, where a call to the C library's ``exp`` per element does not. The rounding
    of :math:`m \ln 2` makes the relative error grow with :math:`|m|`: a few units in the last
    place for :math:`|v| < 40`, below :math:`10^{-13}` at :data:`EXP_FLOOR` (tested against
    ``numpy.exp``); the kernel adds the result to 1, where neither shows. ``v`` is floored
    at :data:`EXP_FLOOR`.
    """
    for k in range(n):
        x = max(v[k], EXP_FLOOR)
        m = np.floor(x * INV_LN2 + 0.5)
        r = x - m * LN2
        p = 1.0 / 479001600.0
        p = 1.0 / 39916800.0 + r * p
        p = 1.0 / 3628800.0 + r * p
        p = 1.0 / 362880.0 + r * p
        p = 1.0 / 40320.0 + r * p
        p = 1.0 / 5040.0 + r * p
        p = 1.0 / 720.0 + r * p
        p = 1.0 / 120.0 + r * p
        p = 1.0 / 24.0 + r * p
        p = 1.0 / 6.0 + r * p
        p = 0.5 + r * p
        p = 1.0 + r * p
        mantissa[k] = 1.0 + r * p
        exponent_bits[k] = (np.int64(m) + 1023) << 52


@numba.njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def _block_logits(theta, a, b, subject, item, start, size, z, e, exponent_bits):
    r"""Logits :math:`z_k = a_i(\theta_j - b_i)` of the pairs ``start .. start + size`` into
    ``z[:size]`` and :math:`e_k = \exp(-|z_k|)` into ``e[:size]`` (``exponent_bits`` is
    scratch space of :func:`_exp_block`)."""
    for k in range(size):
        i = item[start + k]
        z[k] = a[i] * (theta[subject[start + k]] - b[i])
    for k in range(size):
        e[k] = -abs(z[k])
    _exp_block(e, e, exponent_bits, size)
    power_of_two = exponent_bits.view(np.float64)
    for k in range(size):
        e[k] *= power_of_two[k]


@numba.njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def _scatter_logit_gradient(theta, a, b, subject, item, start, size, dl_dz, g_theta, g_a, g_b):
    r"""Add the chain rule through :math:`z_k = a_i(\theta_j - b_i)` of the block's
    :math:`\partial \ell / \partial z_k` to the gradients of theta, a and b."""
    for k in range(size):
        i = item[start + k]
        j = subject[start + k]
        g_theta[j] += dl_dz[k] * a[i]
        g_b[i] -= dl_dz[k] * a[i]
        g_a[i] += dl_dz[k] * (theta[j] - b[i])


@numba.njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _loglik_and_grad_2pl(theta, a, b, subject, item, y):
    r"""The 2PL total and gradients (module docstring), block by block.
    :math:`\sum_k \log(1 + e_k)` is the log of the block's product (each factor in (1, 2], so
    the product of :data:`BLOCK` of them stays finite): one logarithm per block."""
    n = y.shape[0]
    z = np.empty(BLOCK)
    e = np.empty(BLOCK)
    exponent_bits = np.empty(BLOCK, dtype=np.int64)
    dl_dz = np.empty(BLOCK)
    g_theta = np.zeros_like(theta)
    g_a = np.zeros_like(a)
    g_b = np.zeros_like(b)
    total = 0.0
    for start in range(0, n, BLOCK):
        size = min(BLOCK, n - start)
        _block_logits(theta, a, b, subject, item, start, size, z, e, exponent_bits)
        product = 1.0
        linear = 0.0
        for k in range(size):
            zk = z[k]
            ek = e[k]
            one_plus_e = 1.0 + ek
            product *= one_plus_e
            s = 1.0 / one_plus_e if zk >= 0 else ek / one_plus_e
            if y[start + k] == 1:
                linear += max(-zk, 0.0)
                dl_dz[k] = 1.0 - s
            else:
                linear += max(zk, 0.0)
                dl_dz[k] = -s
        total -= linear + np.log(product)
        _scatter_logit_gradient(theta, a, b, subject, item, start, size, dl_dz, g_theta, g_a, g_b)
    return total, g_theta, g_a, g_b


@numba.njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _loglik_and_grad_4pl(theta, a, b, c, d, subject, item, y):
    r"""The 4PL total and gradients (module docstring), block by block like the 2PL; both
    :math:`\sigma(z_k)` and :math:`\sigma(-z_k)` come from the one :math:`e_k`, but each pair
    keeps its own logarithm (:math:`\log P_k` has no bounded product to collect)."""
    n = y.shape[0]
    z = np.empty(BLOCK)
    e = np.empty(BLOCK)
    exponent_bits = np.empty(BLOCK, dtype=np.int64)
    dl_dz = np.empty(BLOCK)
    dl_dc = np.empty(BLOCK)
    dl_dd = np.empty(BLOCK)
    g_theta = np.zeros_like(theta)
    g_a = np.zeros_like(a)
    g_b = np.zeros_like(b)
    g_c = np.zeros_like(c)
    g_d = np.zeros_like(d)
    total = 0.0
    for start in range(0, n, BLOCK):
        size = min(BLOCK, n - start)
        _block_logits(theta, a, b, subject, item, start, size, z, e, exponent_bits)
        for k in range(size):
            i = item[start + k]
            ek = e[k]
            inverse = 1.0 / (1.0 + ek)
            s, s_minus = (inverse, ek * inverse) if z[k] >= 0 else (ek * inverse, inverse)
            width = d[i] - c[i]
            if y[start + k] == 1:
                p = c[i] + width * s
                total += np.log(p)
                dl_dp = 1.0 / p
            else:
                q = (1.0 - d[i]) + width * s_minus
                total += np.log(q)
                dl_dp = -1.0 / q
            dl_dz[k] = dl_dp * width * s * s_minus
            dl_dc[k] = dl_dp * s_minus
            dl_dd[k] = dl_dp * s
        _scatter_logit_gradient(theta, a, b, subject, item, start, size, dl_dz, g_theta, g_a, g_b)
        for k in range(size):
            i = item[start + k]
            g_c[i] += dl_dc[k]
            g_d[i] += dl_dd[k]
    return total, g_theta, g_a, g_b, g_c, g_d


@numba.njit(cache=True, error_model="numpy")
def _loglik_and_grad_kernel(theta, a, b, c, d, subject, item, y, asymptotes):
    if asymptotes:
        total, g_theta, g_a, g_b, g_c, g_d = _loglik_and_grad_4pl(
            theta, a, b, c, d, subject, item, y
        )
    else:
        total, g_theta, g_a, g_b = _loglik_and_grad_2pl(theta, a, b, subject, item, y)
        g_c = np.zeros_like(c)
        g_d = np.zeros_like(d)
    return np.asarray(total), g_theta, g_a, g_b, g_c, g_d


class _FusedLogLik(Op):
    """A total log-likelihood and its gradients with respect to the first
    :attr:`n_parameters` inputs (the rest are data), from one kernel call: outputs the total,
    then one gradient per parameter. Its ``grad`` reuses the gradient outputs of the same node
    (PyTensor merges the two applications), so a sampler asking for the density and its
    gradient together pays for one pass."""

    n_parameters: int

    def kernel(self, *inputs):
        raise NotImplementedError

    def make_node(self, *inputs):
        inputs = [pt.as_tensor_variable(x) for x in inputs]
        parameters = inputs[: self.n_parameters]
        return Apply(self, inputs, [pt.dscalar(), *(x.type() for x in parameters)])

    def perform(self, node, inputs, outputs):
        for out, value in zip(outputs, self.kernel(*inputs), strict=True):
            out[0] = value

    def connection_pattern(self, node):
        n, outputs = self.n_parameters, self.n_parameters + 1
        return [[True] * outputs] * n + [[False] * outputs] * (len(node.inputs) - n)

    def grad(self, inputs, output_grads):
        if not all(isinstance(g.type, DisconnectedType) for g in output_grads[1:]):
            raise NotImplementedError(f"{type(self).__name__} has no second derivatives")
        _, *gradients = self(*inputs)  # merged with the forward application
        data = len(inputs) - self.n_parameters
        return [output_grads[0] * g for g in gradients] + [
            DisconnectedType()() for _ in range(data)
        ]

    def infer_shape(self, fgraph, node, shapes):
        return [(), *shapes[: self.n_parameters]]


class _IRTLogLik(_FusedLogLik):
    """Total 4PL log-likelihood; inputs theta, a, b, c, d (parameters), subject, item, y."""

    __props__ = ("asymptotes",)
    n_parameters = 5

    def __init__(self, asymptotes: bool):
        self.asymptotes = bool(asymptotes)

    def kernel(self, *inputs):
        return _loglik_and_grad_kernel(*inputs, self.asymptotes)


def irt_loglik(theta, a, b, subject, item, y, c=None, d=None):
    """Total log-likelihood (a scalar tensor) of the observed pairs (``c``/``d`` None: 0 and
    1)."""
    asymptotes = c is not None or d is not None
    c = pt.zeros_like(a) if c is None else c
    d = pt.ones_like(a) if d is None else d
    return _IRTLogLik(asymptotes)(theta, a, b, c, d, subject, item, y)[0]


#: Half the logarithm of 2 pi, the constant of Stirling's series.
HALF_LOG_2PI = 0.9189385332046727


@numba.njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _log_gamma_and_digamma(x):
    r""":math:`\log\Gamma(x)` and :math:`\psi(x)` for :math:`x > 0`, together: the recurrences
    :math:`\log\Gamma(x) = \log\Gamma(x + 1) - \log x` and :math:`\psi(x) = \psi(x + 1) - 1/x`
    up to :math:`x \ge 10` (one logarithm and one division for all the shifts), then Stirling's
    series and the asymptotic series of :math:`\psi`, which share :math:`\log x`; both
    truncated beyond :math:`x^{-11}` (absolute error below :math:`10^{-13}`; tested against
    ``scipy.special``). One call costs about one library ``lgamma``."""
    product = 1.0  # x (x + 1) ... (x + m - 1)
    derivative = 0.0  # its derivative in x, so that sum 1 / (x + k) = derivative / product
    while x < 10.0:
        derivative = derivative * x + product
        product *= x
        x += 1.0
    shift = -derivative / product
    inverse = 1.0 / x
    square = inverse * inverse
    log_x = np.log(x)
    stirling = inverse * (
        1.0 / 12.0
        - square
        * (
            1.0 / 360.0
            - square * (1.0 / 1260.0 - square * (1.0 / 1680.0 - square * (1.0 / 1188.0)))
        )
    )
    log_gamma = (x - 0.5) * log_x - x + HALF_LOG_2PI + stirling - np.log(product)
    series = square * (
        1.0 / 12.0
        - square
        * (1.0 / 120.0 - square * (1.0 / 252.0 - square * (1.0 / 240.0 - square * (1.0 / 132.0))))
    )
    return log_gamma, shift + log_x - 0.5 * inverse - series


@numba.njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _beta_density_kernel(theta, a, intercept, phi, subject, item, log_y, log_1my):
    r"""Total beta log-density of scores :math:`y_k \in (0, 1)` with mean
    :math:`\mu_k = \sigma(\eta_k)`, :math:`\eta_k = a_i\theta_j + \alpha_i`, and precision
    :math:`\phi_i`, and its gradients with respect to :math:`\theta, a, \alpha, \phi`, in one
    pass. With :math:`s_1 = \mu\phi`, :math:`s_2 = (1 - \mu)\phi`,

    .. math::

        \ell_k = \log\Gamma(\phi) - \log\Gamma(s_1) - \log\Gamma(s_2) + (s_1 - 1)\log y
            + (s_2 - 1)\log(1 - y),

        \frac{\partial \ell_k}{\partial \eta} = \phi\mu(1 - \mu)\big(\psi(s_2) -
            \psi(s_1) + \log y - \log(1 - y)\big), \quad
        \frac{\partial \ell_k}{\partial \phi} = \psi(\phi) + \mu(\log y - \psi(s_1))
            + (1 - \mu)(\log(1 - y) - \psi(s_2)).

    The terms in :math:`\phi_i` alone are added once per item, times its number of scores.
    """
    g_theta = np.zeros_like(theta)
    g_a = np.zeros_like(a)
    g_intercept = np.zeros_like(intercept)
    g_phi = np.zeros_like(phi)
    counts = np.zeros(phi.size)
    total = 0.0
    for k in range(subject.size):
        j = subject[k]
        i = item[k]
        counts[i] += 1.0
        eta = a[i] * theta[j] + intercept[i]
        e = np.exp(-abs(eta))
        inverse = 1.0 / (1.0 + e)
        mu, nu = (inverse, e * inverse) if eta >= 0 else (e * inverse, inverse)
        p = phi[i]
        s1 = mu * p
        s2 = nu * p
        log_gamma_1, digamma_1 = _log_gamma_and_digamma(s1)
        log_gamma_2, digamma_2 = _log_gamma_and_digamma(s2)
        total += (s1 - 1.0) * log_y[k] + (s2 - 1.0) * log_1my[k] - log_gamma_1 - log_gamma_2
        d1 = log_y[k] - digamma_1
        d2 = log_1my[k] - digamma_2
        dl_deta = p * mu * nu * (d1 - d2)
        g_theta[j] += dl_deta * a[i]
        g_a[i] += dl_deta * theta[j]
        g_intercept[i] += dl_deta
        g_phi[i] += mu * d1 + nu * d2
    for i in range(phi.size):
        if counts[i] > 0.0:
            log_gamma, digamma = _log_gamma_and_digamma(phi[i])
            total += counts[i] * log_gamma
            g_phi[i] += counts[i] * digamma
    return np.asarray(total), g_theta, g_a, g_intercept, g_phi


class _BetaDensity(_FusedLogLik):
    """Total beta log-density of the interior scores; inputs theta, a, intercept, phi
    (parameters), subject, item, log y, log(1 - y)."""

    __props__ = ()
    n_parameters = 4

    def kernel(self, *inputs):
        return _beta_density_kernel(*inputs)


@numba.njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _partial_credit_kernel(theta, a, d, subject, item, y, index):
    r"""Total log-likelihood of the generalized partial credit model and its gradients with
    respect to :math:`\theta`, :math:`a` and the flat intercepts :math:`d`, in one pass. For
    an answer in category :math:`y` of item :math:`i` with :math:`z = a_i\theta_j` and
    :math:`\eta_k = kz + d_{ik}` (:math:`d_{i0} = 0`),

    .. math::

        \ell = \eta_y - \log\sum_k e^{\eta_k}, \qquad
        \frac{\partial \ell}{\partial z} = y - \sum_k k\,p_k, \qquad
        \frac{\partial \ell}{\partial d_{ik}} = [k = y] - p_k,

    with :math:`p_k = e^{\eta_k - \ell_{\max}} / \sum_m e^{\eta_m - \ell_{\max}}`. ``index``
    (item × largest number of thresholds) gives the position of :math:`d_{ik}` in ``d``, -1
    beyond the item's own categories.
    """
    g_theta = np.zeros_like(theta)
    g_a = np.zeros_like(a)
    g_d = np.zeros_like(d)
    eta = np.empty(index.shape[1] + 1)
    total = 0.0
    for n in range(subject.size):
        j = subject[n]
        i = item[n]
        z = a[i] * theta[j]
        eta[0] = 0.0
        top = 0
        largest = 0.0
        for k in range(index.shape[1]):
            if index[i, k] < 0:
                break
            top = k + 1
            eta[top] = top * z + d[index[i, k]]
            largest = max(largest, eta[top])
        norm = 0.0
        for k in range(top + 1):
            eta[k] = np.exp(eta[k] - largest)
            norm += eta[k]
        observed = y[n]
        total += np.log(eta[observed] / norm)
        expected = 0.0
        for k in range(1, top + 1):
            p = eta[k] / norm
            expected += k * p
            g_d[index[i, k - 1]] += (1.0 if k == observed else 0.0) - p
        dl_dz = observed - expected
        g_theta[j] += dl_dz * a[i]
        g_a[i] += dl_dz * theta[j]
    return np.asarray(total), g_theta, g_a, g_d


class _PartialCredit(_FusedLogLik):
    """Total log-likelihood of the generalized partial credit model; inputs theta, a, the
    flat intercepts d (parameters), subject, item, y (category codes), index."""

    __props__ = ()
    n_parameters = 3

    def kernel(self, *inputs):
        return _partial_credit_kernel(*inputs)


def partial_credit_loglik(theta, a, d, subject, item, y, index):
    r"""Total log-likelihood (a scalar tensor) of the generalized partial credit model
    (:class:`bayesirt.models.PartialCredit`): answers in category codes ``y`` at the pairs
    (``subject``, ``item``), flat intercepts ``d`` whose positions per item and category
    ``index`` gives (item × largest number of thresholds, -1 beyond an item's own)."""
    return _PartialCredit()(
        theta,
        a,
        d,
        np.asarray(subject, dtype=np.int32),
        np.asarray(item, dtype=np.int32),
        np.asarray(y, dtype=np.int32),
        np.asarray(index, dtype=np.int32),
    )[0]


def beta_density_loglik(theta, a, intercept, phi, subject, item, y):
    r"""Total beta log-density (a scalar tensor) of the scores ``y`` in (0, 1) at the pairs
    (``subject``, ``item``), with mean :math:`\sigma(a_i\theta_j + \alpha_i)` and precision
    :math:`\phi_i` (the ordered beta model's interior scores, :mod:`bayesirt.models.beta`)."""
    y = np.asarray(y, dtype=np.float64)
    return _BetaDensity()(
        theta,
        a,
        intercept,
        phi,
        np.asarray(subject, dtype=np.int32),
        np.asarray(item, dtype=np.int32),
        np.log(y),
        np.log1p(-y),
    )[0]


def _register_numba() -> None:
    from pytensor.link.numba.dispatch import numba_funcify

    @numba_funcify.register(_IRTLogLik)
    def _loglik_numba(op, node=None, **kwargs):
        asymptotes = op.asymptotes

        @numba.njit
        def loglik(theta, a, b, c, d, subject, item, y):
            return _loglik_and_grad_kernel(theta, a, b, c, d, subject, item, y, asymptotes)

        return loglik

    @numba_funcify.register(_BetaDensity)
    def _beta_numba(op, node=None, **kwargs):
        @numba.njit
        def density(theta, a, intercept, phi, subject, item, log_y, log_1my):
            return _beta_density_kernel(theta, a, intercept, phi, subject, item, log_y, log_1my)

        return density

    @numba_funcify.register(_PartialCredit)
    def _partial_credit_numba(op, node=None, **kwargs):
        @numba.njit
        def partial_credit(theta, a, d, subject, item, y, index):
            return _partial_credit_kernel(theta, a, d, subject, item, y, index)

        return partial_credit


def enable_jax() -> None:
    """Register the JAX implementation (for numpyro); imports JAX, so only on demand."""
    import jax
    import jax.numpy as jnp
    import jax.scipy.special
    from jax.scipy.special import gammaln
    from pytensor.link.jax.dispatch import jax_funcify

    if _IRTLogLik in jax_funcify.registry:
        return

    def total(theta, a, b, c, d, subject, item, y, asymptotes):
        z = a[item] * (theta[subject] - b[item])
        if not asymptotes:
            return jnp.sum(jnp.where(y == 1, jax.nn.log_sigmoid(z), jax.nn.log_sigmoid(-z)))
        p = c[item] + (d[item] - c[item]) * jax.nn.sigmoid(z)
        q = (1.0 - d[item]) + (d[item] - c[item]) * jax.nn.sigmoid(-z)
        return jnp.sum(jnp.where(y == 1, jnp.log(p), jnp.log(q)))

    @jax_funcify.register(_IRTLogLik)
    def _loglik_jax(op, **kwargs):
        asymptotes = op.asymptotes
        value_and_grad = jax.value_and_grad(total, argnums=(0, 1, 2, 3, 4))

        def loglik(theta, a, b, c, d, subject, item, y):
            value, grads = value_and_grad(theta, a, b, c, d, subject, item, y, asymptotes)
            return (value, *grads)

        return loglik

    def density(theta, a, intercept, phi, subject, item, log_y, log_1my):
        eta = a[item] * theta[subject] + intercept[item]
        p = phi[item]
        s1, s2 = jax.nn.sigmoid(eta) * p, jax.nn.sigmoid(-eta) * p
        return jnp.sum(
            gammaln(p) - gammaln(s1) - gammaln(s2) + (s1 - 1.0) * log_y + (s2 - 1.0) * log_1my
        )

    @jax_funcify.register(_BetaDensity)
    def _beta_jax(op, **kwargs):
        value_and_grad = jax.value_and_grad(density, argnums=(0, 1, 2, 3))

        def beta(theta, a, intercept, phi, subject, item, log_y, log_1my):
            value, grads = value_and_grad(theta, a, intercept, phi, subject, item, log_y, log_1my)
            return (value, *grads)

        return beta

    def partial_credit(theta, a, d, subject, item, y, index):
        padded = jnp.where(index >= 0, d[jnp.maximum(index, 0)], -jnp.inf)
        padded = jnp.concatenate([jnp.zeros((index.shape[0], 1)), padded], axis=1)
        categories = jnp.arange(padded.shape[1])
        eta = (a[item] * theta[subject])[:, None] * categories[None, :] + padded[item]
        chosen = jnp.take_along_axis(eta, y[:, None], axis=1)[:, 0]
        return jnp.sum(chosen - jax.scipy.special.logsumexp(eta, axis=1))

    @jax_funcify.register(_PartialCredit)
    def _partial_credit_jax(op, **kwargs):
        value_and_grad = jax.value_and_grad(partial_credit, argnums=(0, 1, 2))

        def loglik(theta, a, d, subject, item, y, index):
            value, grads = value_and_grad(theta, a, d, subject, item, y, index)
            return (value, *grads)

        return loglik


_register_numba()
