r"""Multi-scale denoising score matching: the NCSN objective (Song & Ermon 2019, "Generative modeling by
estimating gradients of the data distribution", NeurIPS).

One noise-conditional model :math:`s_\theta(\tilde x, \sigma)` is trained at many noise levels at once. Each
sample draws its own σ — uniformly from a ladder :math:`\{\sigma_i\}_{i=1}^L` or log-uniformly from a range
:math:`[\sigma_{\min}, \sigma_{\max}]` — then :math:`\tilde x = x + \sigma\varepsilon` and

.. math::

    \ell(x) = \lambda(\sigma)\,\tfrac12 \big\lVert s_\theta(\tilde x, \sigma) + \varepsilon/\sigma \big\rVert^2,
    \qquad \lambda(\sigma) = \sigma^2 \text{ by default, i.e. } \tfrac12\lVert \sigma s_\theta + \varepsilon\rVert^2 .

The model is called as ``net(x_tilde, sigma)`` with ``sigma`` of shape ``(B,)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from .._infra.checks import check_positive
from .._infra.shapes import per_sample_view
from ..fields import Field
from ..protocol import as_model
from .denoising import Weighting, draw_noise, weighted_denoising_error
from .properties import declare

__all__ = ["draw_sigmas", "multiscale_denoising"]


def draw_sigmas(
    x: Tensor,
    *,
    sigmas: Tensor | Sequence[float] | None = None,
    sigma_range: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One σ per sample, shape ``(B,)``: uniform over the ladder ``sigmas`` or log-uniform on ``sigma_range``."""
    b, opts = x.shape[0], dict(dtype=x.dtype, device=x.device)
    if (sigmas is None) == (sigma_range is None):
        raise ValueError("give exactly one of sigmas (a ladder) or sigma_range (a (min, max) pair)")
    if sigmas is not None:
        ladder = torch.as_tensor(sigmas, **opts).reshape(-1)
        if ladder.numel() == 0:
            raise ValueError("sigmas must hold at least one noise level")
        if not (torch.isfinite(ladder).all() and (ladder > 0).all()):
            raise ValueError(f"every sigma must be finite and > 0; got {ladder.tolist()}")
        idx = torch.randint(0, ladder.numel(), (b,), generator=generator, device=x.device)
        return ladder[idx]
    try:
        lo, hi = sigma_range  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ValueError(f"sigma_range must be a (min, max) pair; got {sigma_range!r}") from None
    lo, hi = check_positive("sigma_range min", lo), check_positive("sigma_range max", hi)
    if lo > hi:
        raise ValueError(f"sigma_range must be (min, max) with min <= max; got {sigma_range!r}")
    u = torch.rand(b, generator=generator, **opts)
    return torch.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))


@declare(order=1, conditional=True)
def multiscale_denoising(
    model: Field,
    x: Tensor,
    *,
    sigmas: Tensor | Sequence[float] | None = None,
    sigma_range: tuple[float, float] | None = None,
    weighting: Weighting = "sigma2",
    generator: torch.Generator | None = None,
    noise: Tensor | None = None,
) -> Tensor:
    r"""NCSN loss per sample; formula in the module docstring.

    Args:
        model: noise-conditional ``Score(net)`` or ``Energy(net)``; ``net(x, sigma)``.
        x: clean data, shape ``(B, *event)``.
        sigmas: a ladder of noise levels (e.g. :func:`scorematch.schedules.geometric_sigmas`); or
        sigma_range: ``(σ_min, σ_max)`` for log-uniform σ. Exactly one of the two.
        weighting: ``"sigma2"`` (NCSN's λ(σ) = σ²), ``"none"``, or a callable ``λ(σ)``.
        generator: source of randomness; σ is drawn first, then ε.
        noise: explicit ε of shape ``x.shape``.

    Returns:
        Shape ``(B,)``.

    >>> from scorematch import Score
    >>> net = lambda z, sigma: -z / (1 + sigma[:, None] ** 2)  # exact for N(0, I) data
    >>> loss = multiscale_denoising(Score(net), torch.randn(4, 2), sigmas=[1.0, 0.1])
    >>> loss.shape
    torch.Size([4])
    """
    field = as_model(model, who="the objective's model")
    sigma = draw_sigmas(x, sigmas=sigmas, sigma_range=sigma_range, generator=generator)
    eps = draw_noise(x, generator, noise)
    s = field.score(x + per_sample_view(sigma, x) * eps, sigma)
    return weighted_denoising_error(s, eps, sigma, weighting)
