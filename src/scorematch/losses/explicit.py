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
from torch import Tensor

from ..derivatives import value_and_divergence
from ..fields import Energy, Field, require_field
from ..shapes import sum_event
from ..sweeps import explicit_fast

__all__ = ["explicit"]


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
    field = require_field(model)
    if isinstance(field, Energy) and field.uses_sweeps:  # an MLP: value, gradient and Laplacian in one sweep
        return explicit_fast(field, x)
    s, div = value_and_divergence(field.score, x, chunk_size=chunk_size)
    return 0.5 * sum_event(s.square()) + div
