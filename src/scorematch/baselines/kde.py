r"""The score of a Gaussian kernel density estimate: score estimation with no network and no training.

For points :math:`x_1..x_n` and bandwidth σ, the smoothed empirical law :math:`\hat p_\sigma(x) = \frac1n\sum_i
N(x; x_i, \sigma^2 I)` has the score

.. math::

    \nabla_x \log \hat p_\sigma(x) = \sum_i w_i(x)\,\frac{x_i - x}{\sigma^2},\qquad
    w_i(x) = \operatorname{softmax}_i\Big(-\frac{\lVert x - x_i\rVert^2}{2\sigma^2}\Big).

This is exactly what denoising score matching at σ converges to on a finite sample: its optimum
:math:`s^*(\tilde x) = E[(x_i - \tilde x)/\sigma^2 \mid \tilde x]` over :math:`\tilde x = x_i + \sigma\varepsilon`
is the posterior mean above (Vincent 2011). A network trained by DSM that does no better than this estimator on
held-out points has memorised its training set; one that does better has generalized.

The default bandwidth is Scott's rule on the standardized scale, :math:`\sigma = \bar s\, n^{-1/(D+4)}` with
:math:`\bar s` the root mean variance of the coordinates: the error in the score falls as n grows (its bias is
:math:`O(\sigma^2)`, its variance :math:`O(1/(n\sigma^{D+2}))`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .._infra.checks import check_positive
from ..metrics.kernels import squared_distances

__all__ = ["KDEScore", "scott_bandwidth"]


def scott_bandwidth(x: Tensor) -> float:
    r"""Scott's rule for an isotropic Gaussian kernel: :math:`\bar s\, n^{-1/(D+4)}`, with :math:`\bar s^2` the
    mean variance of the ``D`` coordinates of ``x`` ``(n, D)``."""
    n, d = x.shape
    return float(x.var(0, unbiased=True).mean().sqrt()) * n ** (-1.0 / (d + 4))


class _SampleEstimator:
    """Holds the sample, flattened to ``(n, D)`` in float64, and evaluates ``score`` in chunks of queries."""

    chunk = 2048

    def __init__(self, x: Tensor, *, max_points: int | None = None, generator: torch.Generator | None = None):
        if x.ndim < 2 or x.shape[0] < 2:
            raise ValueError(f"an estimator needs a sample of shape (n, *event) with n >= 2; got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("the sample contains NaN or infinite values")
        if max_points is not None and (isinstance(max_points, bool) or not isinstance(max_points, int)
                                       or max_points < 2):
            raise ValueError(f"max_points must be an integer >= 2, got {max_points!r}")
        if max_points is not None and x.shape[0] > max_points:
            device = generator.device if generator is not None else "cpu"
            x = x[torch.randperm(x.shape[0], generator=generator, device=device)[:max_points].to(x.device)]
        self.event_shape = tuple(x.shape[1:])
        self.x = x.detach().reshape(x.shape[0], -1).double()

    @property
    def n(self) -> int:
        return self.x.shape[0]

    def _flat_score(self, q: Tensor) -> Tensor:
        raise NotImplementedError

    def _check(self, x: Tensor) -> None:
        if tuple(x.shape[1:]) != self.event_shape:
            raise ValueError(f"points must have event shape {self.event_shape}, got {tuple(x.shape[1:])}")

    def score(self, x: Tensor, *cond: Tensor) -> Tensor:
        """The estimated ∇ log p at ``x`` ``(B, *event)``, shape ``x.shape``, in ``x``'s dtype; differentiable in
        ``x`` (so the divergence, and the held-out Hyvärinen loss, come from autograd)."""
        self._check(x)
        q = x.reshape(x.shape[0], -1).to(device=self.x.device, dtype=torch.float64)
        out = torch.cat([self._flat_score(q[i:i + self.chunk]) for i in range(0, q.shape[0], self.chunk)]) \
            if q.shape[0] else q
        return out.to(device=x.device, dtype=x.dtype).reshape(x.shape)

    __call__ = score


class KDEScore(_SampleEstimator):
    r"""The score of the Gaussian KDE of ``x`` at bandwidth ``bandwidth`` (default :func:`scott_bandwidth`); see
    the module docstring. A score model: samplers, metrics and plots take it. Each point costs :math:`O(nD)`;
    ``max_points`` keeps a random subset (drawn with ``generator``) when the sample is larger.

    >>> est = KDEScore(torch.tensor([[0.0], [2.0]]), bandwidth=1.0)
    >>> est.score(torch.tensor([[1.0]]))     # midway: the two pulls cancel
    tensor([[0.]])
    """

    def __init__(self, x: Tensor, *, bandwidth: float | None = None, max_points: int | None = None,
                 generator: torch.Generator | None = None):
        super().__init__(x, max_points=max_points, generator=generator)
        self.bandwidth = check_positive("bandwidth", scott_bandwidth(self.x) if bandwidth is None else bandwidth)

    def _flat_score(self, q: Tensor) -> Tensor:
        w = torch.softmax(-squared_distances(q, self.x) / (2 * self.bandwidth**2), dim=1)
        return (w @ self.x - q) / self.bandwidth**2

    def log_density(self, x: Tensor) -> Tensor:
        r""":math:`\log\hat p_\sigma(x)`, shape ``(B,)`` (float64, differentiable in ``x``): the normalized KDE."""
        self._check(x)
        q = x.reshape(x.shape[0], -1).to(device=self.x.device, dtype=torch.float64)
        d = q.shape[1]
        sq = squared_distances(q, self.x) / (2 * self.bandwidth**2)
        return (torch.logsumexp(-sq, 1) - math.log(self.n)
                - 0.5 * d * math.log(2 * math.pi * self.bandwidth**2))
