r"""Denoising score matching (Vincent 2011, "A connection between score matching and denoising
autoencoders", Neural Computation 23(7)).

With :math:`\tilde x = x + \sigma\varepsilon`, :math:`\varepsilon \sim N(0, I)`, the target is the score of the
Gaussian corruption kernel, :math:`\nabla_{\tilde x}\log q(\tilde x\mid x) = -\varepsilon/\sigma`:

.. math::

    \ell(x) = \tfrac12 \big\lVert s_\theta(\tilde x) + \varepsilon/\sigma \big\rVert^2
    \qquad\text{or, with } \texttt{weighting="sigma2"},\qquad
    \sigma^2 \ell(x) = \tfrac12 \big\lVert \sigma s_\theta(\tilde x) + \varepsilon \big\rVert^2 .

Its relation to explicit score matching is exact: by Stein's lemma,
:math:`E_\varepsilon[\ell(x)] = E_\varepsilon[\ell_{\mathrm{ESM}}(\tilde x)] + D/(2\sigma^2)`, so
``denoising − D/(2σ²)`` tends to :func:`~scorematch.losses.explicit` as σ → 0, and minimising it fits the
score of the data smoothed by :math:`N(0, \sigma^2 I)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from .._infra.checks import check_choice, check_positive
from .._infra.shapes import per_sample_view, sum_event
from ..fields import Field
from ..protocol import as_model
from .properties import declare

__all__ = ["Weighting", "denoising", "draw_noise", "weighted_denoising_error"]

Weighting = Literal["none", "sigma2"] | Callable[[Tensor], Tensor]


def draw_noise(x: Tensor, generator: torch.Generator | None, noise: Tensor | None) -> Tensor:
    """Standard normal noise shaped like ``x``, or the given ``noise`` after a shape check."""
    if noise is None:
        return torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
    if noise.shape != x.shape:
        raise ValueError(f"noise must have the shape of x {tuple(x.shape)}; got {tuple(noise.shape)}")
    return noise


def weighted_denoising_error(s: Tensor, eps: Tensor, sigma: Tensor, weighting: Weighting) -> Tensor:
    r"""Per-sample :math:`\lambda(\sigma)\,\tfrac12\lVert s + \varepsilon/\sigma\rVert^2`, ``sigma`` of shape ``(B,)``.

    ``weighting`` is ``"none"`` (λ = 1), ``"sigma2"`` (λ = σ², computed as ½‖σ s + ε‖²) or a callable
    mapping σ ``(B,)`` to λ ``(B,)``.
    """
    sig = per_sample_view(sigma, s)
    if isinstance(weighting, str):
        check_choice("weighting", weighting, ("none", "sigma2"))
        if weighting == "sigma2":
            return 0.5 * sum_event((sig * s + eps).square())
        return 0.5 * sum_event((s + eps / sig).square())
    lam = weighting(sigma)
    if lam.shape != sigma.shape:
        raise ValueError(f"a weighting callable must map σ of shape {tuple(sigma.shape)} to the same shape; "
                         f"got {tuple(lam.shape)}")
    return lam * 0.5 * sum_event((s + eps / sig).square())


@declare(order=1)
def denoising(
    model: Field,
    x: Tensor,
    *,
    sigma: float,
    weighting: Weighting = "none",
    generator: torch.Generator | None = None,
    noise: Tensor | None = None,
) -> Tensor:
    r"""Denoising score-matching loss per sample at one noise level; formula in the module docstring.

    Args:
        model: ``Energy(net)`` or ``Score(net)`` (not noise-conditional; see
            :func:`~scorematch.losses.multiscale_denoising` for that).
        x: clean data, shape ``(B, *event)``.
        sigma: noise standard deviation σ > 0.
        weighting: ``"none"``, ``"sigma2"`` (multiply by σ²) or a callable ``λ(σ)``.
        generator: source of randomness for ε.
        noise: explicit ε of shape ``x.shape`` (e.g. antithetic pairs) instead of a random draw.

    Returns:
        Shape ``(B,)``.

    >>> from scorematch import Score
    >>> x, eps = torch.zeros(1, 2), torch.tensor([[0.3, -0.4]])
    >>> denoising(Score(lambda z: -z / 0.5**2), x, sigma=0.5, noise=eps)  # the optimal score of N(0, σ²I)
    tensor([0.])
    """
    field = as_model(model, who="the objective's model")
    sigma = check_positive("sigma", sigma)
    eps = draw_noise(x, generator, noise)
    s = field.score(x + sigma * eps)
    return weighted_denoising_error(s, eps, torch.full(x.shape[:1], sigma, dtype=x.dtype, device=x.device),
                                    weighting)
