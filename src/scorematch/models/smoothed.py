r"""A Gaussian mixture smoothed by Gaussian noise: the exact noise-conditional target of NCSN.

Adding :math:`N(0, \sigma^2 I)` noise to :math:`\sum_k w_k N(\mu_k, \Sigma_k)` gives
:math:`q_\sigma = \sum_k w_k N(\mu_k, \Sigma_k + \sigma^2 I)`, whose score :math:`\nabla_x \log q_\sigma(x)` is the
exact minimiser of denoising score matching at level σ. :class:`SmoothedMixture` evaluates it with one σ per
sample, the call convention of noise-conditional models (``score(x, sigma)``, ``sigma`` of shape ``(B,)``), so it
is a drop-in oracle for :func:`~scorematch.losses.multiscale_denoising` and
:func:`~scorematch.samplers.annealed_langevin`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .analytic import GaussianMixture

__all__ = ["SmoothedMixture"]


class SmoothedMixture:
    r"""Noise-conditional log density and score of a :class:`~scorematch.models.analytic.GaussianMixture` smoothed
    at level σ:

    .. math::

        \log q_\sigma(x) = \operatorname{logsumexp}_k \big(\log w_k + \log N(x; \mu_k, \Sigma_k + \sigma^2 I)\big).

    >>> from scorematch.models.analytic import ncsn_toy
    >>> toy = SmoothedMixture(ncsn_toy())
    >>> x = torch.tensor([[5.0, 5.0]], dtype=torch.float64)
    >>> toy.score(x, torch.tensor([3.0], dtype=torch.float64)).abs().max() < 0.1
    tensor(True)
    """

    def __init__(self, mixture: GaussianMixture):
        self.mixture = mixture
        self.dim = mixture.dim

    def _parts(self, x: Tensor, sigma: Tensor | float) -> tuple[Tensor, Tensor]:
        m = self.mixture
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).expand(x.shape[0])
        eye = torch.eye(self.dim, dtype=x.dtype, device=x.device)
        covs = m.covs.to(x)[None] + sigma[:, None, None, None] ** 2 * eye             # (B, K, d, d)
        chol = torch.linalg.cholesky(covs)
        r = (x[:, None, :] - m.means.to(x)[None]).unsqueeze(-1)                       # (B, K, d, 1)
        z = torch.linalg.solve_triangular(chol, r, upper=False)                        # L⁻¹ r
        scores = -torch.linalg.solve_triangular(chol.mT, z, upper=True).squeeze(-1)   # −Σ⁻¹ r, (B, K, d)
        log_det = chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        log_w = torch.log(m.weights.to(x) / m.weights.sum())
        log_joint = log_w - 0.5 * z.squeeze(-1).square().sum(-1) - log_det - 0.5 * self.dim * math.log(2 * math.pi)
        return log_joint, scores

    def log_prob(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        """:math:`\\log q_\\sigma(x)`, shape ``(B,)``; ``sigma`` a number or one per sample."""
        return torch.logsumexp(self._parts(x, sigma)[0], -1)

    def score(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        """:math:`\\nabla_x \\log q_\\sigma(x)` in closed form, shape ``x.shape``."""
        log_joint, scores = self._parts(x, sigma)
        return (torch.softmax(log_joint, -1).unsqueeze(-1) * scores).sum(-2)

    def energy(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        """:math:`-\\log q_\\sigma(x)`."""
        return -self.log_prob(x, sigma)
