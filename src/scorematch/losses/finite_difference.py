r"""Finite-difference sliced score matching, FD-SSM (Pang, Xu, Li, Song, Ermon & Zhu 2020, "Efficient learning
of generative models via finite-difference score matching", NeurIPS).

Sliced score matching (:func:`~scorematch.losses.sliced`) with its directional derivatives replaced by
central differences along each probe ``v`` (:math:`E[vv^\top] = I`; sphere of radius :math:`\sqrt D` by
default), so no second-order autograd is needed. All shifted inputs go through the network in one batched call.

Energy model (:math:`\log p_\theta = -E_\theta + c`), with :math:`E_\pm = E_\theta(x \pm \varepsilon v)`,
:math:`E_0 = E_\theta(x)`:

.. math::

    \ell(x) = \frac1M \sum_m \Big[\tfrac12\Big(\frac{E_+ - E_-}{2\varepsilon}\Big)^2
              - \frac{E_+ + E_- - 2E_0}{\varepsilon^2}\Big]

Score model, with :math:`s_\pm = s_\theta(x \pm \varepsilon v)`:

.. math::

    \ell(x) = \frac1M \sum_m \Big[\frac{v^\top (s_+ - s_-)}{2\varepsilon}
              + \tfrac12\Big(\frac{v^\top (s_+ + s_-)}{2}\Big)^2\Big]

Both differ from ``sliced`` with the same probes by :math:`O(\varepsilon^2)`. The trace term is **not**
divided by ``D``: doing so would fit a tempered model.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._infra.checks import check_positive
from ..derivatives import ProbeKind, draw_probes
from ..fields import Energy, Field
from ..protocol import as_model
from .properties import declare

__all__ = ["finite_difference_sliced"]


@declare(order=2)
def finite_difference_sliced(
    model: Field,
    x: Tensor,
    *,
    fd_step: float = 1e-2,
    n_probes: int = 1,
    probe: ProbeKind = "sphere",
    generator: torch.Generator | None = None,
    probes: Tensor | None = None,
) -> Tensor:
    r"""FD-SSM loss per sample; formulas in the module docstring.

    Args:
        model: ``Energy(net)`` (3 network evaluations per probe-sample, counting x once) or ``Score(net)``
            (2 per probe-sample).
        x: data, shape ``(B, *event)``.
        fd_step: the finite-difference step ε > 0; the shifted points lie at distance ε‖v‖ (ε√D for sphere probes).
        n_probes: projections per sample ``M`` (≥ 1).
        probe: ``"sphere"`` (as Pang et al.), ``"gaussian"`` or ``"rademacher"``.
        generator: source of randomness for the probes.
        probes: explicit probes of shape ``(M, *x.shape)``.

    Returns:
        Shape ``(B,)``.

    >>> from scorematch import Energy
    >>> x, v = torch.tensor([[1.0, 2.0]]), torch.tensor([[[1.0, 0.0]]])
    >>> # quadratic energy: central differences are exact, ½(vᵀs)² + vᵀ∇s v = ½·1 − 1
    >>> finite_difference_sliced(Energy(lambda z: 0.5 * (z**2).sum(-1)), x, probes=v, fd_step=0.5)
    tensor([-0.5000])
    """
    field = as_model(model, who="the objective's model")
    eps = check_positive("fd_step", fd_step)
    if probes is None:
        probes = draw_probes(x, n_probes, probe, generator=generator)
    elif probes.ndim != x.ndim + 1 or probes.shape[1:] != x.shape:
        raise ValueError(f"probes must have shape (M, *x.shape); got {tuple(probes.shape)} for x {tuple(x.shape)}")
    m, b = probes.shape[0], x.shape[0]
    shift = (eps * probes).reshape(m * b, *x.shape[1:])
    xs = x.repeat(m, *([1] * (x.ndim - 1)))
    if isinstance(field, Energy):
        e = field.energy(torch.cat([x, xs + shift, xs - shift]))
        e0, e_plus, e_minus = e[:b], e[b : b + m * b].reshape(m, b), e[b + m * b :].reshape(m, b)
        slope = (e_minus - e_plus) / (2 * eps)                    # ≈ vᵀ s
        curvature = -(e_plus + e_minus - 2 * e0) / eps**2         # ≈ vᵀ ∇s v
        return (0.5 * slope.square() + curvature).mean(0)
    s = field.score(torch.cat([xs + shift, xs - shift]))
    s_plus, s_minus = s[: m * b].reshape(m, b, -1), s[m * b :].reshape(m, b, -1)
    v = probes.reshape(m, b, -1)
    curvature = (v * (s_plus - s_minus)).sum(-1) / (2 * eps)     # ≈ vᵀ ∇s v
    slope = 0.5 * (v * (s_plus + s_minus)).sum(-1)                # ≈ vᵀ s
    return (curvature + 0.5 * slope.square()).mean(0)
