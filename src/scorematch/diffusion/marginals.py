r"""Closed forms of the diffused laws: a Gaussian mixture carried by a linear SDE's kernel stays a Gaussian mixture,

.. math::

    p_t(x) = \sum_k w_k\,\mathcal N\big(x;\ m(t)\,\mu_k,\ m(t)^2\Sigma_k + \sigma(t)^2 I\big),

with the same weights, so its score and log-density at every t are exact — the truth that samplers, objectives and
the probability-flow likelihood are checked against.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..models.analytic import GaussianMixture
from .sde import SDE, TimeScore

__all__ = ["diffused_mixture", "time_score"]


def diffused_mixture(mixture: GaussianMixture, sde: SDE, t: float | Tensor) -> GaussianMixture:
    """The law of :math:`x_t` when :math:`x_0` follows ``mixture`` (one time ``t``).

    >>> from scorematch.diffusion import VP
    >>> from scorematch.models import Gaussian
    >>> p1 = diffused_mixture(Gaussian([0.0], [[1.0]]), VP(), 1.0)
    >>> round(float(p1.covs[0, 0, 0]), 10)   # VP keeps a standard normal: m² + σ² = 1
    1.0
    """
    t = torch.as_tensor(t, dtype=mixture.means.dtype, device=mixture.means.device)
    if t.numel() != 1:
        raise ValueError(f"diffused_mixture takes one time, got a tensor of shape {tuple(t.shape)}")
    m, s = sde.mean_coef(t).reshape(()), sde.std(t).reshape(())
    eye = torch.eye(mixture.dim, dtype=mixture.means.dtype, device=mixture.means.device)
    return GaussianMixture(mixture.weights, m * mixture.means, m**2 * mixture.covs + s**2 * eye)


def time_score(mixture: GaussianMixture, sde: SDE) -> TimeScore:
    """``score(x, t)``: the exact score of the diffused ``mixture`` at the time ``t`` (one time for the batch)."""

    def score(x: Tensor, t: Tensor) -> Tensor:
        return diffused_mixture(mixture, sde, t.reshape(-1)[0]).score(x)

    return score
