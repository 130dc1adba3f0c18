r"""Noise-contrastive estimation (Gutmann & Hyvärinen 2010, "Noise-contrastive estimation: a new estimation
principle for unnormalized statistical models", AISTATS): learn an energy and its log-normalizer by telling data
from noise.

The model's log-density is :math:`\log p_\theta(u) = -E_\theta(u) - c` with a learned scalar :math:`c` (the log
normalizer, ``model.log_z`` of ``Energy(net, learn_log_z=True)``). With a noise law :math:`p_n` and ν noise points
:math:`y_{b1..b\nu} \sim p_n` per data point :math:`x_b`, and
:math:`G(u) = \log p_\theta(u) - \log p_n(u) - \log\nu`, the per-sample loss is the logistic loss of classifying
data against noise,

.. math::

    \ell(x_b) = \operatorname{softplus}(-G(x_b)) + \sum_{j=1}^{\nu} \operatorname{softplus}(G(y_{bj})),

whose minimiser over a rich enough family is :math:`p_\theta = p` with :math:`c = \log Z_\theta` — the partition
function is learned, not ignored, so a model trained so reports normalized log-likelihoods. The estimator is
consistent for any noise law that is positive where the data are; its variance is small when :math:`p_n` is close
to the data (here: a Gaussian fitted to them, :class:`GaussianNoise`) and falls as ν grows.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch
from torch import Tensor
from torch.nn.functional import softplus

from .._infra.checks import check_count
from ..losses.properties import declare
from ..protocol import as_model

__all__ = ["GaussianNoise", "noise_contrastive"]


class GaussianNoise:
    r"""The noise law :math:`N(\mu, \Sigma)` with ``log_prob`` and ``sample``; :meth:`fit` takes μ and the
    (1/n) covariance of data (plus ``jitter`` times the mean variance on the diagonal), over the flattened event.

    >>> noise = GaussianNoise.fit(torch.randn(1000, 2, dtype=torch.float64))
    >>> noise.sample(5, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([5, 2])
    """

    def __init__(self, mean: Tensor, covariance: Tensor, event_shape: tuple[int, ...] | None = None):
        self.mean, self.covariance = mean.detach().flatten(), covariance.detach()
        d = self.mean.numel()
        if self.covariance.shape != (d, d):
            raise ValueError(f"covariance must have shape ({d}, {d}), got {tuple(self.covariance.shape)}")
        self.event_shape = tuple(event_shape) if event_shape is not None else (d,)
        if not (torch.isfinite(self.mean).all() and torch.isfinite(self.covariance).all()):
            raise ValueError("the noise law's mean and covariance must be finite")
        chol, info = torch.linalg.cholesky_ex(self.covariance)
        if int(info) != 0:
            raise ValueError("the noise law's covariance is not positive definite")
        self.chol = chol
        self.log_norm = 0.5 * d * math.log(2 * math.pi) + torch.log(torch.diagonal(self.chol)).sum()

    @classmethod
    def fit(cls, x: Tensor, jitter: float = 1e-6) -> GaussianNoise:
        """The Gaussian with the mean and covariance of ``x`` ``(n, *event)``, computed in float64."""
        flat = x.detach().reshape(x.shape[0], -1).double()
        if flat.shape[0] < 2 or not torch.isfinite(flat).all():
            raise ValueError("a noise law is fitted to at least 2 finite points")
        centred = flat - flat.mean(0)
        cov = centred.T @ centred / flat.shape[0]
        cov = cov + jitter * cov.diagonal().mean().clamp_min(1e-12) * torch.eye(cov.shape[0], dtype=cov.dtype)
        return cls(flat.mean(0), cov, tuple(x.shape[1:]))

    def log_prob(self, x: Tensor) -> Tensor:
        """:math:`\\log N(x; \\mu, \\Sigma)`, shape ``(B,)``, in ``x``'s dtype."""
        flat = x.reshape(x.shape[0], -1).to(self.mean.dtype) - self.mean.to(x.device)
        white = torch.linalg.solve_triangular(self.chol.to(x.device), flat.T, upper=False)
        return (-0.5 * white.square().sum(0) - self.log_norm.to(x.device)).to(x.dtype)

    def sample(self, n: int, *, generator: torch.Generator | None = None, dtype: torch.dtype | None = None,
               device: torch.device | str | None = None) -> Tensor:
        """``n`` draws ``(n, *event)``: μ + L z with the Cholesky factor L and z from ``generator``."""
        where = generator.device if generator is not None else self.mean.device
        z = torch.randn(n, self.mean.numel(), dtype=self.mean.dtype, generator=generator, device=where)
        x = (self.mean.to(where) + z @ self.chol.to(where).T).reshape(n, *self.event_shape)
        return x.to(dtype=dtype or self.mean.dtype, device=device)


def _draw(noise: Any, n: int, like: Tensor, generator: torch.Generator | None) -> Tensor:
    """``n`` noise points in ``like``'s dtype and device; a noise object whose ``sample`` takes no generator (e.g.
    a ``torch.distributions`` law, sampled by shape) draws from torch's global RNG instead."""
    params = inspect.signature(noise.sample).parameters
    if "generator" in params:
        y = noise.sample(n, generator=generator) if isinstance(noise, GaussianNoise) else \
            noise.sample((n,), generator=generator)
    else:
        y = noise.sample((n,))
    if y.shape[0] != n or y[0].numel() != like[0].numel():
        raise ValueError(f"the noise law draws points of shape {tuple(y.shape[1:])}; the data have "
                         f"{tuple(like.shape[1:])}")
    return y.to(dtype=like.dtype, device=like.device).reshape(n, *like.shape[1:])


@declare(order=0, needs_energy=True)
def noise_contrastive(model: Any, x: Tensor, *, noise: Any, ratio: int = 1,
                      generator: torch.Generator | None = None) -> Tensor:
    r"""Per-sample NCE loss (see the module docstring), shape ``(B,)``.

    Args:
        model: an energy model with a learned log-normalizer ``model.log_z`` (``Energy(net, learn_log_z=True)``).
        x: data ``(B, *event)``.
        noise: the noise law, any object with ``log_prob(x) -> (B,)`` and ``sample`` (e.g. :class:`GaussianNoise`
            or a ``torch.distributions`` law).
        ratio: ν, noise points per data point.

    >>> from scorematch import Energy
    >>> from scorematch.models import EnergyMLP
    >>> x = torch.randn(8, 2)
    >>> model = Energy(EnergyMLP(2, hidden=8), learn_log_z=True)
    >>> noise_contrastive(model, x, noise=GaussianNoise.fit(x), ratio=2).shape
    torch.Size([8])
    """
    ratio = check_count("ratio", ratio)
    log_z = getattr(model, "log_z", None)
    if not isinstance(log_z, Tensor):
        raise TypeError("noise-contrastive estimation learns the log-normalizer: give a model with a log_z "
                        "parameter, Energy(net, learn_log_z=True)")
    model = as_model(model, kind="energy", who="noise-contrastive estimation's model")
    b = x.shape[0]
    y = _draw(noise, b * ratio, x, generator)

    def g(u: Tensor) -> Tensor:
        return -model.energy(u) - log_z - noise.log_prob(u).to(u.dtype) - math.log(ratio)

    return softplus(-g(x)) + softplus(g(y)).view(b, ratio).sum(1)
