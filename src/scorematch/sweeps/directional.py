r"""Directional first and second derivatives of an MLP energy along given probes, in one forward sweep.

For probes :math:`v_1..v_M` (per sample), each layer's output ``h`` is carried with its directional derivative
:math:`t_m = (\partial h/\partial x)\, v_m` and second derivative :math:`c_m = v_m^\top \nabla_x^2 h\, v_m`:

.. math::

    \text{Linear:}\quad t \mapsto W t,\quad c \mapsto W c;\qquad
    \text{φ:}\quad t \mapsto \phi'(h)\odot t,\quad c \mapsto \phi'(h)\odot c + \phi''(h)\odot t^2 ,

starting from :math:`t = W_1 v` and :math:`c = 0` after the first Linear. At the output,
:math:`t_m = v_m^\top\nabla_x E` and :math:`c_m = v_m^\top\nabla_x^2 E\,v_m`: exactly the two terms of sliced
score matching for :math:`s = -\nabla E`, with no Hessian-vector product and no double backward
(the forward Laplacian of :mod:`~scorematch.sweeps.laplacian` is the same recursion summed over the ``D``
basis directions). Cost: the forward pass plus :math:`2M` GEMMs per Linear after the first.
"""

from __future__ import annotations

from torch import Tensor, nn

from .activations import ACTIVATION_DERIVATIVES
from .gradient import reverse_sweep
from .trunk import prepare

__all__ = ["energy_directional"]


def energy_directional(net: nn.Module, x: Tensor, probes: Tensor, *cond: Tensor | float, with_grad: bool = False
                       ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    r"""``(E, vᵀ∇E, vᵀ∇²E v, ∇E or None)`` of a walkable MLP energy along ``probes``.

    Args:
        net: a net for which :func:`~scorematch.sweeps.supports` is true.
        x: inputs ``(B, *event)``.
        probes: ``(M, B, *event)``, one set of ``M`` directions per sample.
        cond: ``sigma`` for a :class:`~scorematch.models.NoiseConditionalEnergyMLP`.
        with_grad: also return :math:`\nabla_x E` (one reverse sweep more).

    Returns:
        Shapes ``(B,)``, ``(M, B)``, ``(M, B)`` and ``x.shape``.

    >>> import torch
    >>> from scorematch.derivatives import value_and_quadratic_form
    >>> from scorematch import Energy
    >>> from scorematch.models import EnergyMLP
    >>> net = EnergyMLP(3, hidden=8).double()
    >>> x, v = torch.randn(4, 3, dtype=torch.float64), torch.randn(2, 4, 3, dtype=torch.float64)
    >>> _, _, quad, _ = energy_directional(net, x, v)
    >>> s, quad_s = value_and_quadratic_form(Energy(net).score, x, v)   # vᵀ∇s v = −vᵀ∇²E v
    >>> torch.allclose(quad, -quad_s)
    True
    """
    if probes.ndim < 2 or probes.shape[1:] != x.shape:
        raise ValueError(f"probes must have shape (M, {', '.join(map(str, x.shape))}); got {tuple(probes.shape)}")
    walk = prepare(net, x, cond)
    v = probes.flatten(2)  # (M, B, d)
    h, t, c = walk.u, None, None  # c None: zero
    slopes: list[Tensor] = []
    for i, m in enumerate(walk.layers):
        if isinstance(m, nn.Linear):
            h = m(h)
            if i == 0:
                t = v @ m.weight[:, :walk.d].mT
            else:
                t = t @ m.weight.mT
                c = None if c is None else c @ m.weight.mT
        else:
            h, d1, d2 = ACTIVATION_DERIVATIVES[type(m)](m, h, 2)
            curv = d2 * t.square()
            c = curv if c is None else d1 * c + curv
            t = d1 * t
            slopes.append(d1)
    e, t = h.squeeze(-1), t.squeeze(-1)
    c = t.new_zeros(t.shape) if c is None else c.squeeze(-1)
    grad = reverse_sweep(walk.layers, slopes, walk.d, x.shape[0]) if with_grad else None
    if walk.scale is not None:
        e, t, c = e / walk.scale, t / walk.scale, c / walk.scale
        grad = None if grad is None else grad / walk.scale.unsqueeze(-1)
    return e, t, c, (None if grad is None else grad.reshape(x.shape))
