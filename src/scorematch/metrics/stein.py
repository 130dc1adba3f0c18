r"""Kernel Stein discrepancy (KSD) of samples with respect to a score function.

For a target with score :math:`s = \nabla\log p` and a kernel :math:`k`, the Stein kernel is

.. math::

    u_p(x, y) = s(x)^\top s(y)\, k(x, y) + s(x)^\top \nabla_y k(x, y) + \nabla_x k(x, y)^\top s(y)
      + \operatorname{tr} \nabla_x \nabla_y k(x, y),

and :math:`\mathrm{KSD}^2(q, p) = E_{x, y \sim q}\, u_p(x, y)`, zero iff :math:`q = p` for a suitable kernel. The
estimate from samples :math:`x_1..x_n \sim q` is the U-statistic :math:`\frac{1}{n(n-1)}\sum_{i\ne j} u_p(x_i, x_j)`
(Liu, Lee & Jordan 2016, "A kernelized Stein discrepancy for goodness-of-fit tests", ICML; Chwialkowski,
Strathmann & Gretton 2016, ICML). Only the score is needed, never the normalising constant.

With :math:`r = x - y`, :math:`D` the dimension, the closed forms used here are

* **IMQ**, :math:`k = (c^2 + \lVert r\rVert^2)^\beta`, :math:`q = c^2 + \lVert r\rVert^2` (Gorham & Mackey 2017,
  "Measuring sample quality with kernels", ICML; default :math:`c = 1, \beta = -\tfrac12`, which makes KSD
  control weak convergence):

  .. math::

      u_p = k\, s(x)^\top s(y) - 2\beta q^{\beta-1} r^\top (s(x) - s(y))
            - 2\beta D q^{\beta-1} - 4\beta(\beta-1) q^{\beta-2}\lVert r\rVert^2 ;

* **Gaussian RBF**, :math:`k = \exp(-\lVert r\rVert^2/(2h^2))`:

  .. math::

      u_p = k\Big[s(x)^\top s(y) + \frac{r^\top (s(x) - s(y))}{h^2} + \frac{D}{h^2}
            - \frac{\lVert r\rVert^2}{h^4}\Big].
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._infra.checks import check_choice, check_positive
from ._inputs import ScoreLike, check_samples, score_values
from .kernels import gaussian_kernel, imq_kernel, median_bandwidth, squared_distances

__all__ = ["STEIN_KERNELS", "ksd2", "stein_kernel"]

STEIN_KERNELS: tuple[str, ...] = ("imq", "rbf")


def stein_kernel(
    x: Tensor, y: Tensor, score_x: Tensor, score_y: Tensor, *, kernel: str = "imq", c: float = 1.0,
    beta: float = -0.5, bandwidth: float | None = None,
) -> Tensor:
    r"""The Stein kernel matrix :math:`u_p(x_i, y_j)`, shape ``(n, m)``; formulas in the module docstring.

    Args:
        x, y: points ``(n, *event)``, ``(m, *event)``.
        score_x, score_y: the target's score at them, same shapes.
        kernel: ``"imq"`` or ``"rbf"``.
        c, beta: IMQ parameters, :math:`c > 0`, :math:`-1 < \beta < 0`.
        bandwidth: RBF bandwidth :math:`h`; the median distance of ``x`` and ``y`` pooled by default.

    >>> x = torch.zeros(1, 2)
    >>> stein_kernel(x, x, -x, -x)   # r = 0, s = 0: -2β D c^{2(β-1)} = 2
    tensor([[2.]])
    """
    check_choice("kernel", kernel, STEIN_KERNELS)
    for name, points, values in (("score_x", x, score_x), ("score_y", y, score_y)):
        if values.shape != points.shape:
            raise ValueError(f"{name} must have the shape of its points {tuple(points.shape)}, got {tuple(values.shape)}")
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(f"x and y must have the same event shape, got {tuple(x.shape[1:])} and {tuple(y.shape[1:])}")
    fx, fy = x.flatten(1), y.flatten(1)
    sx, sy = score_x.reshape(fx.shape), score_y.reshape(fy.shape)
    d = fx.shape[1]
    sq = squared_distances(fx, fy)
    # r_ij · (s(x_i) − s(y_j)) = x_i·s(x_i) − x_i·s(y_j) − y_j·s(x_i) + y_j·s(y_j)
    r_ds = (fx * sx).sum(-1, keepdim=True) - fx @ sy.T - sx @ fy.T + (fy * sy).sum(-1)
    ss = sx @ sy.T
    if kernel == "rbf":
        h = median_bandwidth(x, y) if bandwidth is None else check_positive("bandwidth", bandwidth)
        h2 = h * h
        return gaussian_kernel(sq, h) * (ss + r_ds / h2 + d / h2 - sq / h2**2)
    c = check_positive("c", c)
    if not -1.0 < beta < 0.0:
        raise ValueError(f"beta must lie in (-1, 0), got {beta!r}")
    q = c**2 + sq
    k = imq_kernel(sq, c, beta)
    return k * ss - 2 * beta * k / q * (r_ds + d) - 4 * beta * (beta - 1) * k / q**2 * sq


def ksd2(
    x: Tensor, score: ScoreLike, *, kernel: str = "imq", c: float = 1.0, beta: float = -0.5,
    bandwidth: float | None = None,
) -> Tensor:
    r"""KSD² U-statistic :math:`\frac{1}{n(n-1)}\sum_{i\ne j} u_p(x_i, x_j)` of samples ``x`` against a score.

    Args:
        x: samples ``(n, *event)``, ``n ≥ 2``.
        score: the target's score at ``x`` (a tensor of shape ``x.shape``) or something computing it
            (``Energy(net)``, ``Score(net)``, an analytic target, a callable ``x -> s(x)``).
        kernel, c, beta: as in :func:`stein_kernel`.
        bandwidth: RBF bandwidth; the median distance of ``x`` by default.

    Returns:
        A 0-dim tensor; unbiased, so it may be slightly negative when ``x`` follows the target.

    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(500, 2, generator=g)
    >>> near, far = ksd2(x, lambda z: -z), ksd2(x + 1.0, lambda z: -z)   # N(0, I) target
    >>> bool(abs(near) < 0.01 < far)
    True
    """
    flat = check_samples("x", x)
    s = score_values("score", score, x)
    if kernel == "rbf" and bandwidth is None:
        bandwidth = median_bandwidth(x)
    with torch.no_grad():
        u = stein_kernel(flat, flat, s, s, kernel=kernel, c=c, beta=beta, bandwidth=bandwidth)
        n = flat.shape[0]
        return (u.sum() - u.diagonal().sum()) / (n * (n - 1))
