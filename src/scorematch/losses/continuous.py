r"""Denoising score matching in continuous time: the objective of score-based diffusion models (Song et al. 2021,
"Score-based generative modeling through stochastic differential equations", eq. 7).

Each sample draws its own time :math:`t \sim U(t_{\min}, 1)` and noise :math:`z \sim \mathcal N(0, I)`, is carried
to :math:`x_t = m(t)\,x + \sigma(t)\,z` by the forward SDE's perturbation kernel
(:mod:`scorematch.diffusion.sde`), and

.. math::

    \ell(x) = \lambda(t)\,\tfrac12\big\lVert s_\theta(x_t, \sigma(t)) + z/\sigma(t)\big\rVert^2,

whose minimiser is the score of the law of :math:`x_t`. With ``times="log-sigma"`` the time is drawn so that
:math:`\log\sigma(t)` is uniform between :math:`\log\sigma(t_{\min})` and :math:`\log\sigma(1)` (as NCSN draws
the levels of its geometric ladder alike) instead of t: another weighting of the same per-time losses, whose
minimiser is the same, that spends as many samples on each factor of noise — under VP, t ~ U(t_min, 1) puts 95% of
them above σ = 0.17, where thin structures (rings 0.04 standard deviations wide) are already blurred away.
``times="mixed"`` draws every other sample each way.
The weighting :math:`\lambda(t) = \sigma(t)^2` (``"sigma"``, the usual one,
:math:`\tfrac12\lVert\sigma s_\theta + z\rVert^2`: every time weighs alike) or :math:`\lambda(t) = g(t)^2`
(``"likelihood"``: with uniform times the loss then bounds the negative log-likelihood, Song, Durkan, Murray
& Ermon 2021). The model is conditioned on the kernel's standard deviation :math:`\sigma(t)` (called as
``model.score(x_t, sigma)`` with ``sigma`` of shape ``(B,)``), which is increasing in t for every SDE here: so every
noise-conditional network of the library (NCSN's) is a time-conditional one, and NCSN's ladder is the discrete case.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from .._infra.checks import check_choice, check_positive
from .._infra.shapes import per_sample_view, sum_event
from ..diffusion.sde import SDE
from ..fields import Field
from ..protocol import as_model
from .properties import declare

__all__ = ["continuous_denoising"]


@declare(order=1, conditional=True)
def continuous_denoising(
    model: Field,
    x: Tensor,
    *,
    sde: SDE,
    t_min: float = 1e-5,
    weighting: Literal["sigma", "likelihood"] = "sigma",
    times: Literal["uniform", "log-sigma", "mixed"] = "uniform",
    generator: torch.Generator | None = None,
    t: Tensor | None = None,
    noise: Tensor | None = None,
) -> Tensor:
    r"""The continuous-time denoising objective of the module docstring, per sample, shape ``(B,)``.

    Args:
        model: a noise-conditional ``Energy`` / ``Score``, called as ``score(x_t, sigma)``.
        x: data ``(B, *event)``.
        sde: the forward SDE (:class:`~scorematch.diffusion.VE`, :class:`~scorematch.diffusion.VP`,
            :class:`~scorematch.diffusion.SubVP`).
        t_min: the smallest time drawn (the kernel's σ vanishes at 0).
        weighting: ``"sigma"`` (λ = σ²) or ``"likelihood"`` (λ = g²).
        times: how t is drawn: ``"uniform"`` on [t_min, 1], ``"log-sigma"`` (log σ(t) uniform) or ``"mixed"``
            (every other sample each way).
        generator: the source of ``t`` and ``noise`` when they are not given.
        t, noise: fixed times ``(B,)`` and noise (``x``'s shape), e.g. for a held-out evaluation.

    >>> from scorematch import Score
    >>> from scorematch.diffusion import VE
    >>> exact = Score(lambda z, sigma: -z / (1 + sigma[:, None] ** 2))   # N(0, I) data under VE: m = 1
    >>> x, t = torch.zeros(1, 2), torch.tensor([0.5])
    >>> float(continuous_denoising(exact, x, sde=VE(), t=t, noise=torch.zeros(1, 2)))  # x_t = 0: s = 0, z = 0
    0.0
    """
    field = as_model(model, who="the objective's model")
    check_positive("t_min", t_min)
    check_choice("weighting", weighting, ("sigma", "likelihood"))
    if not t_min < 1:
        raise ValueError(f"t_min must be below 1, got {t_min!r}")
    check_choice("times", times, ("uniform", "log-sigma", "mixed"))
    if t is None:
        u = torch.rand(x.shape[0], generator=generator, dtype=x.dtype, device=x.device)
        t = t_min + (1 - t_min) * u
        if times != "uniform":
            ends = sde.std(torch.tensor([t_min, 1.0], dtype=torch.float64)).log()
            by_sigma = sde.time_of_std((ends[0] + u.double() * (ends[1] - ends[0])).exp()).clamp(t_min, 1.0).to(x.dtype)
            if times == "mixed":  # every other sample each way: half the draws uniform in t, half in log σ
                by_sigma = torch.where(torch.arange(x.shape[0], device=x.device) % 2 == 0, by_sigma, t)
            t = by_sigma
    if noise is None:
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    t = t.to(dtype=x.dtype, device=x.device)
    sigma = sde.std(t)
    s = field.score(sde.marginal(x, t, noise), sigma)
    loss = 0.5 * sum_event((per_sample_view(sigma, s) * s + noise).square())
    return loss * sde.g2(t) / sigma**2 if weighting == "likelihood" else loss
