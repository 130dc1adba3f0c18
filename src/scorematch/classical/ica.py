r"""Independent component analysis by score matching (Hyvärinen 2005, section 4.2).

The model: :math:`x = As` with independent sources of log-density :math:`\log p_s(u) = -G(u)`, so with the
unmixing matrix :math:`W = A^{-1}` (rows :math:`w_i`), :math:`\log p(x) = \sum_i -G(w_i^\top x) + \log|\det W|`. The
determinant does not depend on x, so the score is :math:`s(x) = -W^\top g(Wx)` with :math:`g = G'`, its divergence
:math:`-\sum_i \lVert w_i\rVert^2 g'(w_i^\top x)`, and Hyvärinen's objective is

.. math::

    J(W) = \frac1n\sum_t \Big[\tfrac12\big\lVert W^\top g(Wx_t)\big\rVert^2
           - \sum_i \lVert w_i\rVert^2\, g'(w_i^\top x_t)\Big],

free of the normaliser (the log-determinant that maximum likelihood needs). It is minimised over W by L-BFGS from
the whitening matrix. Sources: ``"logistic"``, :math:`G(u) = 2\log\cosh(u/2)` (the standard logistic density),
and ``"cosh"``, :math:`G(u) = \log\cosh u` (a smooth Laplace-like density, :math:`1/(\pi\cosh u)`). The estimate
is judged up to permutation and scale by the Amari distance (:func:`amari_distance`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["SOURCES", "amari_distance", "ica", "ica_objective"]

SOURCES = {
    "logistic": (lambda u: torch.tanh(u / 2), lambda u: 0.5 * (1 - torch.tanh(u / 2) ** 2)),
    "cosh": (torch.tanh, lambda u: 1 - torch.tanh(u) ** 2),
}


def ica_objective(W: Tensor, x: Tensor, source: str = "logistic") -> Tensor:
    """Hyvärinen's objective J(W) of the ICA model on data ``x`` ``(n, d)``; formula in the module docstring."""
    g, dg = SOURCES[source]
    u = x @ W.T  # (n, d): w_iᵀx_t
    score = g(u) @ W  # Wᵀg(Wx), row by row
    return (0.5 * score.square().sum(1) - (dg(u) * W.square().sum(1)).sum(1)).mean()


def ica(x: Tensor, *, source: str = "logistic", max_iter: int = 500, tol: float = 1e-10) -> Tensor:
    """The unmixing matrix W ``(d, d)`` minimising :func:`ica_objective` on ``x`` ``(n, d)`` (centred here), by
    L-BFGS from the whitening matrix :math:`C^{-1/2}` (float64)."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim != 2 or x.shape[0] <= x.shape[1]:
        raise ValueError(f"x must have shape (n, d) with n > d, got {tuple(x.shape)}")
    x = x - x.mean(0)
    evals, evecs = torch.linalg.eigh(x.T @ x / len(x))
    W = (evecs @ torch.diag(evals.rsqrt()) @ evecs.T).clone().requires_grad_(True)
    opt = torch.optim.LBFGS([W], max_iter=max_iter, tolerance_grad=tol, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = ica_objective(W, x, source)
        loss.backward()
        return loss

    opt.step(closure)
    return W.detach()


def amari_distance(W: Tensor, A: Tensor) -> float:
    r"""The Amari distance of :math:`P = WA` from a scaled permutation (0 exactly then), normalised to [0, 1]:
    :math:`\frac{1}{2d(d-1)}\big[\sum_i(\sum_j |P_{ij}|/\max_j|P_{ij}| - 1) + \sum_j(\sum_i |P_{ij}|/\max_i|P_{ij}|
    - 1)\big]`.

    >>> amari_distance(torch.tensor([[0.0, 2.0], [-3.0, 0.0]]), torch.eye(2))
    0.0
    """
    P = (torch.as_tensor(W, dtype=torch.float64) @ torch.as_tensor(A, dtype=torch.float64)).abs()
    d = P.shape[0]
    rows = (P.sum(1) / P.max(1).values - 1).sum()
    cols = (P.sum(0) / P.max(0).values - 1).sum()
    return float((rows + cols) / (2 * d * (d - 1))) if d > 1 else 0.0


def _logistic(n: int, d: int, generator: torch.Generator) -> Tensor:
    u = torch.rand(n, d, generator=generator, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
    return torch.log(u) - torch.log1p(-u)


def _cosh(n: int, d: int, generator: torch.Generator) -> Tensor:
    """Draws of the density 1/(π cosh u): u = log tan(πv/2) with v uniform (its CDF is (2/π) atan(eᵘ))."""
    v = torch.rand(n, d, generator=generator, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
    return torch.log(torch.tan(math.pi * v / 2))


SAMPLERS = {"logistic": _logistic, "cosh": _cosh}
