r"""A linear preconditioner (a dense mass matrix) for the Metropolis-adjusted samplers, learned during warm-up.

On a correlated or badly scaled target one step size is too large for the narrow directions and too small for the
wide ones, and MALA and HMC mix slowly. With :math:`x = m + Lz` the sampler runs on z, whose energy and score are

.. math::

    E_z(z) = E(m + Lz), \qquad s_z(z) = L^\top s(m + Lz),

(the Jacobian is constant, so :math:`e^{-E_z}` is exactly the image of :math:`p`). MALA on z with step ε is MALA
on x with proposal covariance :math:`\varepsilon LL^\top`; HMC on z is HMC on x with mass matrix
:math:`(LL^\top)^{-1}`. With :math:`LL^\top \approx \operatorname{Cov}_p(x)` the z-target is near isotropic.

:func:`adapt_preconditioner` spends a first window of the warm-up adapting the step size as usual, takes the
covariance of the chains' positions where it ended (one position per chain: an ensemble estimate, shrunk with
Stan's formula :math:`\tfrac{B}{B+5}\hat\Sigma + 10^{-3}\tfrac{5}{B+5}I`, B counting chains where Stan counts
draws), adapts the step size on z in the next window, and estimates again at its end, window after window. B
positions span at most B − 1 directions, so with fewer than 2(d + 1) chains only the variances are used (a diagonal
L): a dense estimate from so few would shrink the unseen directions to the ridge and make the target worse.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .._infra.checks import check_count
from ..protocol import as_model
from .adapt import AdaptResult, adapt_step_size
from .state import Kernel

__all__ = ["Whitened", "adapt_preconditioner"]


class Whitened:
    """``model`` in the coordinates z of :math:`x = m + Lz`, for flat events ``(B, d)``: ``mean`` m ``(d,)`` and
    ``chol`` L ``(d, d)``, lower triangular with a positive diagonal."""

    def __init__(self, model: Any, mean: Tensor, chol: Tensor):
        if mean.dim() != 1 or chol.shape != (mean.shape[0], mean.shape[0]):
            raise ValueError(f"mean must be (d,) and chol (d, d), got {tuple(mean.shape)} and {tuple(chol.shape)}")
        self.model = as_model(model, kind="energy", who="Whitened's model")
        self.mean, self.chol = mean, chol

    def to_x(self, z: Tensor) -> Tensor:
        """:math:`x = m + Lz`."""
        return self.mean + z @ self.chol.T

    def to_z(self, x: Tensor) -> Tensor:
        """:math:`z = L^{-1}(x - m)`."""
        return torch.linalg.solve_triangular(self.chol, (x - self.mean).T, upper=False).T

    def energy(self, z: Tensor, *cond: Tensor) -> Tensor:
        return self.model.energy(self.to_x(z), *cond)

    def score(self, z: Tensor, *cond: Tensor) -> Tensor:
        return self.model.score(self.to_x(z), *cond) @ self.chol

    def energy_and_score(self, z: Tensor, *cond: Tensor) -> tuple[Tensor, Tensor]:
        e, s = self.model.energy_and_score(self.to_x(z), *cond)
        return e, s @ self.chol


def adapt_preconditioner(make_kernel: Callable[[Any, float], Kernel], model: Any, x0: Tensor, n_warmup: int, *,
                         windows: int = 4, step_size: float = 0.01, target_accept: float = 0.57,
                         generator: torch.Generator | None = None) -> tuple[Whitened, AdaptResult]:
    """Warm up chains from ``x0`` ``(B, d)`` learning a dense preconditioner and the step size; see the module
    docstring. ``make_kernel(model, step_size)`` builds the kernel (e.g. ``lambda m, eps: mala(m, eps)``). The
    warm-up is cut into ``windows`` equal parts: the first on x, each of the others on z of the covariance of
    the chains where the part before ended (so the estimate improves as the chains spread).

    Returns the whitened model w and the last window's :class:`~scorematch.samplers.AdaptResult` (its
    ``restarts`` counting every window's), whose state is in z: continue with
    ``run_chains(make_kernel(w, r.step_size), r.state, n)`` and map the positions back with ``w.to_x``.

    >>> from scorematch import Energy
    >>> from scorematch.samplers import mala
    >>> P = torch.tensor([[100.0, 0.0], [0.0, 0.01]])  # standard deviations 0.1 and 10
    >>> model = Energy(lambda x: 0.5 * ((x @ P) * x).sum(-1))
    >>> w, r = adapt_preconditioner(lambda m, eps: mala(m, eps), model, torch.randn(256, 2), 400,
    ...                             generator=torch.Generator().manual_seed(0))
    >>> sd = w.to_x(r.state.x).std(0)  # plain MALA's 400 steps leave the second axis's spread near 3
    >>> bool(0.09 < sd[0] < 0.11), bool(9 < sd[1] < 11)
    (True, True)
    """
    check_count("n_warmup", n_warmup)
    check_count("windows", windows)
    if x0.dim() != 2 or x0.shape[0] < 2:
        raise ValueError(f"adapt_preconditioner needs flat positions (B, d) with B >= 2 chains, got {tuple(x0.shape)}")
    if n_warmup < 2 * windows:
        raise ValueError(f"n_warmup must be at least 2 per window ({2 * windows}), got {n_warmup}")
    cuts = [n_warmup * k // windows for k in range(windows + 1)]
    r = adapt_step_size(lambda eps: make_kernel(model, eps), x0, cuts[1], step_size=step_size,
                        target_accept=target_accept, generator=generator)
    restarts = r.restarts
    x = r.state.x
    b, d = x.shape
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    w = None
    for start, end in itertools.pairwise(cuts[1:]):
        cov = torch.cov(x.T).reshape(d, d)
        if b < 2 * (d + 1):  # too few chains for a dense estimate: the variances only
            cov = torch.diag(cov.diagonal())
        cov = b / (b + 5.0) * cov + 1e-3 * 5.0 / (b + 5.0) * eye
        w = Whitened(model, x.mean(0), torch.linalg.cholesky(cov))
        # in z the target is near N(0, I): start from a step size that suits it
        r = adapt_step_size(lambda eps, w=w: make_kernel(w, eps), w.to_z(x), end - start, step_size=0.5,
                            target_accept=target_accept, generator=generator)
        x = w.to_x(r.state.x)
        restarts += r.restarts
    if w is None:  # one window: the identity
        w = Whitened(model, torch.zeros(d, dtype=x.dtype, device=x.device), eye)
    return w, r._replace(restarts=restarts)
