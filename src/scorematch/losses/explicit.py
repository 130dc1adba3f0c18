r"""Explicit (Hyvärinen) score matching with an exact trace.

.. math::

    \ell(x) = \tfrac12 \lVert s_\theta(x) \rVert^2 + \operatorname{tr} \nabla_x s_\theta(x)

summed over all event dimensions, one value per sample; its mean over data equals the Fisher divergence
:math:`\tfrac12 E_p\lVert s_\theta - \nabla\log p\rVert^2` up to a constant that does not depend on θ
(Hyvärinen 2005, "Estimation of non-normalized statistical models by score matching", JMLR 6).
For an energy, :math:`s_\theta = -\nabla E_\theta` and :math:`\operatorname{tr}\nabla s_\theta = -\Delta E_\theta`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._infra.shapes import sum_event
from ..derivatives import value_and_divergence
from ..fields import Energy, Field
from ..protocol import as_model
from ..sweeps import energy_grad_laplacian
from .properties import declare

__all__ = ["explicit", "explicit_sweep"]


@declare(order=2)
def explicit(model: Field, x: Tensor, *, chunk_size: int | None = None, generator: torch.Generator | None = None) -> Tensor:
    r"""Hyvärinen's score-matching loss :math:`\tfrac12\lVert s\rVert^2 + \operatorname{tr}\nabla_x s`, per sample.

    The trace is exact. For an ``Energy`` whose net is an MLP of Linear layers and smooth activations
    (:func:`scorematch.sweeps.supports`) it comes from the forward-Laplacian sweep, whose cost stops
    growing with ``D`` once ``D`` exceeds the width; otherwise from ``D`` vector-Jacobian products batched with
    ``vmap`` (``chunk_size`` at a time to bound memory, all at once by default). Both agree to round-off.

    Args:
        model: ``Energy(net)`` or ``Score(net)``.
        x: data, shape ``(B, *event)``.
        chunk_size: how many of the ``D`` basis directions to differentiate at once.
        generator: unused (the loss is deterministic); accepted so that every loss shares one signature.

    Returns:
        Shape ``(B,)``; reduce it yourself (``.mean()``).

    >>> import torch
    >>> from scorematch import Energy
    >>> x = torch.tensor([[1.0, 2.0]])
    >>> explicit(Energy(lambda z: 0.5 * (z**2).sum(-1)), x)  # ½‖−x‖² + tr(−I) = 2.5 − 2
    tensor([0.5000])
    """
    field = as_model(model, who="the objective's model")
    if isinstance(field, Energy) and field.uses_sweeps:  # an MLP: value, gradient and Laplacian in one sweep
        return explicit_sweep(field.net, x)
    s, div = value_and_divergence(field.score, x, chunk_size=chunk_size)
    return 0.5 * sum_event(s.square()) + div


def explicit_sweep(net: nn.Module, x: Tensor, *cond: Tensor | float, mode: str = "auto",
                   generator: torch.Generator | None = None) -> Tensor:
    r"""Explicit score matching of the energy net ``net``, :math:`\tfrac12\lVert\nabla_x E\rVert^2 - \Delta E`
    per sample, shape ``(B,)``, from one forward-Laplacian sweep (:func:`scorematch.sweeps.energy_grad_laplacian`).

    The same objective as :func:`explicit` for ``Energy(net)`` (:math:`s = -\nabla E`,
    :math:`\operatorname{tr}\nabla s = -\Delta E`); ``net`` must be walkable (:func:`scorematch.sweeps.supports`),
    ``cond`` is σ for a noise-conditional net, ``mode`` the sweep's, and ``generator`` is unused (one signature
    for every loss).

    >>> import torch
    >>> from scorematch import Energy
    >>> from scorematch.derivatives import value_and_divergence
    >>> from scorematch.models import EnergyMLP
    >>> net = EnergyMLP(2, hidden=16).double()
    >>> x = torch.randn(5, 2, dtype=torch.float64)
    >>> s, div = value_and_divergence(Energy(net, analytic=False).score, x)   # the generic exact path
    >>> torch.allclose(explicit_sweep(net, x), 0.5 * (s**2).sum(-1) + div)
    True
    """
    _, grad, lap = energy_grad_laplacian(net, x, *cond, mode=mode)
    return 0.5 * grad.flatten(1).square().sum(-1) - lap
