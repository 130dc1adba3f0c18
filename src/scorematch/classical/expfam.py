r"""Score matching in closed form for exponential families (Hyvärinen 2005, section 4).

For :math:`p_\theta(x) \propto \exp(\theta^\top T(x))` on :math:`\mathbb R^d` with sufficient statistics
:math:`T: \mathbb R^d \to \mathbb R^k`, the score is :math:`s_\theta(x) = J(x)^\top\theta` with
:math:`J = \partial T/\partial x` (:math:`k \times d`), so Hyvärinen's objective is quadratic in θ:

.. math::

    J(\theta) = \frac1n\sum_i \Big[\tfrac12\lVert J(x_i)^\top\theta\rVert^2 + \sum_j \partial_j^2 T(x_i)^\top\theta\Big]
    = \tfrac12\,\theta^\top\Gamma\theta - g^\top\theta,

    \Gamma = \frac1n\sum_i\sum_j \partial_j T(x_i)\,\partial_j T(x_i)^\top, \qquad
    g = -\frac1n\sum_i\sum_j \partial_j^2 T(x_i).

Its minimiser solves :math:`\Gamma\theta = g` (:func:`solve`); a ridge adds :math:`\tfrac\lambda2\lVert\theta\rVert^2`
(:math:`(\Gamma + \lambda I)\theta = g`) and an L1 penalty :math:`\lambda\lVert\theta\rVert_1` on chosen entries
is solved by the one L1 solver, :mod:`scorematch.classical.l1` (:func:`solve_l1`). The statistics are given by
their derivatives (``grad_T``, ``lap_T``) or as a torch function ``T``, whose derivatives autograd fills in
(:func:`quadratic_form`).

For the Gaussian, :math:`T(x) = (x, -\tfrac12 xx^\top)` with θ = (h, K), the estimator is the sample mean and the
inverse of the 1/n sample covariance — maximum likelihood (:func:`gaussian`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from . import l1

__all__ = ["Quadratic", "gaussian", "gaussian_statistics", "quadratic_form", "solve", "solve_l1"]


class Quadratic(NamedTuple):
    r"""The score-matching objective :math:`\tfrac12\theta^\top\Gamma\theta - g^\top\theta` (plus a constant) of an
    exponential family on data: ``gamma`` ``(k, k)`` and ``g`` ``(k,)``."""

    gamma: Tensor
    g: Tensor

    def value(self, theta: Tensor) -> Tensor:
        """:math:`\\tfrac12\\theta^\\top\\Gamma\\theta - g^\\top\\theta`, Hyvärinen's objective up to a constant."""
        return 0.5 * theta @ self.gamma @ theta - self.g @ theta


def _derivatives(T: Callable[[Tensor], Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
    """``(∂T/∂x, ∂²T/∂x_j²)`` per sample by autograd: shapes ``(n, k, d)`` and ``(n, k, d)``."""
    from torch.func import jacrev, vmap

    jac = vmap(jacrev(T))(x)
    hess = vmap(jacrev(jacrev(T)))(x)  # (n, k, d, d); reverse over reverse (forward mode loads TorchScript)
    return jac, torch.diagonal(hess, dim1=-2, dim2=-1)


def quadratic_form(x: Tensor, *, T: Callable[[Tensor], Tensor] | None = None, grad_T: Tensor | None = None,
                   lap_T: Tensor | None = None) -> Quadratic:
    r"""Γ and g of the score-matching objective on the data ``x`` ``(n, d)``; see the module docstring.

    Args:
        x: the data, shape ``(n, d)``.
        T: the sufficient statistics of one point, ``(d,) -> (k,)``, as a torch function; or
        grad_T, lap_T: their derivatives at the data, :math:`\partial_j T_a(x_i)` and :math:`\partial_j^2
            T_a(x_i)`, both of shape ``(n, k, d)``.

    >>> x = torch.tensor([[0.0], [2.0]], dtype=torch.float64)   # T(x) = (x, -x²/2): a Gaussian
    >>> q = quadratic_form(x, T=lambda v: torch.cat([v, -0.5 * v**2]))
    >>> solve(q)                                                  # h = μ/σ², K = 1/σ² with μ = 1, σ² = 1
    tensor([1., 1.], dtype=torch.float64)
    """
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"x must have shape (n, d) with n >= 1, got {tuple(x.shape)}")
    if T is not None:
        if grad_T is not None or lap_T is not None:
            raise ValueError("give T, or grad_T and lap_T, not both")
        grad_T, lap_T = _derivatives(T, x)
    if grad_T is None or lap_T is None:
        raise ValueError("give T, or both grad_T and lap_T")
    if grad_T.shape != lap_T.shape or grad_T.ndim != 3 or grad_T.shape[0] != x.shape[0] or grad_T.shape[2] != x.shape[1]:
        raise ValueError(f"grad_T and lap_T must both have shape (n, k, d) = ({x.shape[0]}, k, {x.shape[1]}); got "
                         f"{tuple(grad_T.shape)} and {tuple(lap_T.shape)}")
    n = x.shape[0]
    gamma = torch.einsum("nad,nbd->ab", grad_T, grad_T) / n
    g = -lap_T.sum((0, 2)) / n
    return Quadratic(gamma, g)


def solve(q: Quadratic, ridge: float = 0.0) -> Tensor:
    r"""The minimiser of :math:`\tfrac12\theta^\top\Gamma\theta - g^\top\theta + \tfrac{\lambda}{2}\lVert\theta
    \rVert^2`: :math:`(\Gamma + \lambda I)\theta = g`. ``ValueError`` when Γ + λI is singular (too few points for the
    statistics: add a ridge)."""
    if not ridge >= 0:
        raise ValueError(f"ridge must be >= 0, got {ridge!r}")
    a = q.gamma + ridge * torch.eye(len(q.g), dtype=q.gamma.dtype, device=q.gamma.device)
    try:
        return torch.linalg.solve(a, q.g)
    except RuntimeError:
        raise ValueError("Γ + ridge·I is singular: the data do not determine every parameter; give ridge > 0") from None


def solve_l1(q: Quadratic, lam: float, *, penalize: Tensor | None = None, start: Tensor | None = None,
             tol: float = 1e-12, max_steps: int = 100_000) -> Tensor:
    r"""The minimiser of :math:`\tfrac12\theta^\top\Gamma\theta - g^\top\theta + \lambda\sum_a w_a|\theta_a|` by the
    one L1 solver of :mod:`scorematch.classical.l1` (accelerated proximal gradient finished by an active-set method:
    the exact minimiser on the support).

    Args:
        q: the objective.
        lam: λ ≥ 0.
        penalize: the weights :math:`w_a \ge 0` (e.g. 0 for entries left unpenalised), default all 1.
        start: a warm start (the solution at a nearby λ), default 0.
        tol: stop when the optimality conditions hold to this (or to their float64 round-off).
        max_steps: at most this many proximal-gradient steps.

    The KKT conditions of the solution: :math:`(g - \Gamma\theta)_a = \lambda w_a\operatorname{sign}\theta_a` where
    :math:`\theta_a \ne 0`, and :math:`|(g - \Gamma\theta)_a| \le \lambda w_a` where :math:`\theta_a = 0`.

    >>> q = Quadratic(torch.eye(2, dtype=torch.float64), torch.tensor([3.0, 0.5], dtype=torch.float64))
    >>> solve_l1(q, 1.0)  # the soft threshold of g at λ: (3 − 1, 0)
    tensor([2., 0.], dtype=torch.float64)
    """
    gamma = q.gamma.detach().double().cpu().numpy()
    if (np.diagonal(gamma) <= 0).any():
        raise ValueError("Γ has a zero diagonal entry: a statistic whose derivative vanishes on the data")
    problem = l1.Dense(gamma, q.g.detach().double().cpu().numpy(),
                    None if penalize is None else penalize.detach().double().cpu().numpy())
    theta0 = np.zeros(len(problem.r)) if start is None else start.detach().double().cpu().numpy()
    theta, _ = l1.solve(problem, lam, theta0, tol=tol, max_steps=max_steps)
    return torch.from_numpy(theta).to(q.g.dtype)


def gaussian_statistics(d: int) -> Callable[[Tensor], Tensor]:
    r""":math:`T(x) = (x, -\tfrac12 x_a x_b\ \text{for}\ a \le b)`: θ = (h, K) of :math:`p \propto
    \exp(h^\top x - \tfrac12 x^\top K x)`, the off-diagonal :math:`K_{ab}` counted once (its statistic is
    :math:`-x_a x_b`)."""
    rows, cols = torch.triu_indices(d, d)

    def T(x: Tensor) -> Tensor:
        outer = x[rows] * x[cols]
        return torch.cat([x, torch.where(rows == cols, -0.5, -1.0).to(x) * outer])

    return T


def gaussian(x: Tensor) -> tuple[Tensor, Tensor]:
    r"""The score-matching estimate of a Gaussian, ``(mean, precision)``: the sample mean and the inverse of the
    1/n sample covariance (Hyvärinen 2005: for the Gaussian, score matching is maximum likelihood). Minimising
    :math:`\tfrac12\lVert h - Kx\rVert^2 - \operatorname{tr} K` over h gives h = K x̄, then over K,
    :math:`\tfrac12(KS + SK) = I`, so :math:`K = S^{-1}`.

    >>> x = torch.tensor([[0.0, 1.0], [2.0, 1.0], [1.0, 4.0]], dtype=torch.float64)
    >>> mean, precision = gaussian(x)
    >>> mean
    tensor([1., 2.], dtype=torch.float64)
    """
    if x.ndim != 2 or x.shape[0] <= x.shape[1]:
        raise ValueError(f"x must have shape (n, d) with n > d, got {tuple(x.shape)}")
    mean = x.mean(0)
    centred = x - mean
    cov = centred.T @ centred / x.shape[0]
    return mean, torch.linalg.inv(cov)
