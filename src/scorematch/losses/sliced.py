r"""Sliced score matching (Song, Garg, Shi & Ermon 2019, "Sliced score matching: a scalable approach to
density and score estimation", UAI).

With random projections :math:`v` of identity covariance (:func:`scorematch.derivatives.draw_probes`):

.. math::

    \ell(x) = \frac1M\sum_{m=1}^M \Big[v_m^\top \nabla_x s_\theta(x)\, v_m + \tfrac12 (v_m^\top s_\theta(x))^2\Big]

and, with ``variance_reduction=True`` (SSM-VR, the expectation of the second term taken in closed form,
:math:`E_v (v^\top s)^2 = \lVert s\rVert^2`):

.. math::

    \ell(x) = \tfrac12 \lVert s_\theta(x)\rVert^2 + \frac1M\sum_{m=1}^M v_m^\top \nabla_x s_\theta(x)\, v_m .

Both are unbiased for :func:`~scorematch.losses.explicit` over the draw of the probes. For an MLP energy
(:func:`scorematch.sweeps.supports`) both terms come from one forward sweep,
:func:`scorematch.sweeps.energy_directional`, with no Hessian-vector product.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._infra.shapes import sum_event
from ..derivatives import ProbeKind, draw_probes, value_and_quadratic_form
from ..fields import Energy, Field
from ..protocol import as_model
from ..sweeps import energy_directional
from .properties import declare

__all__ = ["sliced"]


@declare(order=2)
def sliced(
    model: Field,
    x: Tensor,
    *,
    n_probes: int = 1,
    probe: ProbeKind = "gaussian",
    variance_reduction: bool = False,
    generator: torch.Generator | None = None,
    probes: Tensor | None = None,
) -> Tensor:
    r"""Sliced score-matching loss per sample; formula in the module docstring.

    Args:
        model: ``Energy(net)`` or ``Score(net)``.
        x: data, shape ``(B, *event)``.
        n_probes: projections per sample ``M`` (≥ 1).
        probe: ``"gaussian"`` (as Song et al.), ``"rademacher"`` or ``"sphere"``.
        variance_reduction: use SSM-VR, :math:`\tfrac12\lVert s\rVert^2 + v^\top\nabla s\,v`.
        generator: source of randomness for the probes.
        probes: explicit probes of shape ``(M, *x.shape)``; overrides ``n_probes``/``probe``.

    Returns:
        Shape ``(B,)``.

    >>> from scorematch import Score
    >>> x = torch.randn(8, 3)
    >>> sliced(Score(lambda z: -z), x, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([8])
    """
    field = as_model(model, who="the objective's model")
    if probes is None:
        probes = draw_probes(x, n_probes, probe, generator=generator)
    if isinstance(field, Energy) and field.uses_sweeps:  # an MLP: vᵀs = −vᵀ∇E and vᵀ∇s v = −vᵀ∇²E v in one sweep
        _, slope, curv, grad = energy_directional(field.net, x, probes, with_grad=variance_reduction)
        if variance_reduction:
            return 0.5 * sum_event(grad.square()) - curv.mean(0)
        return (0.5 * slope.square() - curv).mean(0)
    s, quad = value_and_quadratic_form(field.score, x, probes)
    if variance_reduction:
        return 0.5 * sum_event(s.square()) + quad.mean(0)
    proj = (probes * s).reshape(probes.shape[0], x.shape[0], -1).sum(-1)
    return (quad + 0.5 * proj.square()).mean(0)
