r"""Energy and gradient of an MLP energy from one forward and one hand-written reverse sweep.

The forward sweep stores each activation's slope :math:`\phi'(z)`; the reverse sweep is

.. math::

    r \leftarrow 1;\qquad \text{φ:}\ r \leftarrow r \odot \phi'(z);\qquad \text{Linear:}\ r \leftarrow r\,W;
    \qquad \nabla_x E = r \ \text{(its first } d \text{ columns)}.

Every step is an ordinary differentiable op, so :math:`\nabla_x E` is an expression of first order in the
parameters: a loss of it (denoising SM, the score in a sampler) back-propagates with one ordinary backward
pass instead of autograd's double backward through ``autograd.grad(create_graph=True)``, and under
``torch.no_grad`` (sampling) no graph is built at all and each activation's slope is applied by PyTorch's own
fused backward kernel. Cost: the forward pass plus one GEMM per Linear.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from .activations import ACTIVATION_DERIVATIVES
from .trunk import prepare

__all__ = ["energy_and_grad", "forward_with_slopes", "reverse_sweep"]


def _last_activation(layers: list[nn.Module]) -> int:
    last = -1
    for i, m in enumerate(layers):
        if not isinstance(m, nn.Linear):
            last = i
    return last


def forward_with_slopes(layers: list[nn.Module], u: Tensor, need_value: bool = True
                        ) -> tuple[Tensor | None, list[Tensor]]:
    """The trunk's output ``(B, 1)`` (``None`` if not ``need_value``: the walk then stops at the last activation's
    slope) and each activation's :math:`\\phi'(z)`, in order."""
    last = _last_activation(layers)
    h, slopes = u, []
    for i, m in enumerate(layers):
        if not need_value and i > last:
            return None, slopes
        if isinstance(m, nn.Linear):
            h = m(h)
        else:
            h, d1, _ = ACTIVATION_DERIVATIVES[type(m)](m, h, 1)
            slopes.append(d1)
    return h, slopes


def reverse_sweep(layers: list[nn.Module], slopes: list[Tensor | Callable[[Tensor], Tensor]], d: int, batch: int
                  ) -> Tensor:
    """:math:`\\partial h_{out} / \\partial u_{:, :d}`, shape ``(batch, d)``, from each activation's slope
    :math:`\\phi'(z)` or a function ``r -> r·φ'(z)``."""
    slopes = list(slopes)
    g: Tensor | None = None
    for i in reversed(range(len(layers))):
        m = layers[i]
        if isinstance(m, nn.Linear):
            w = m.weight[:, :d] if i == 0 else m.weight
            g = w if g is None else g @ w
        else:
            slope = slopes.pop()
            g = g * slope if isinstance(slope, Tensor) else slope(g)
    return g.expand(batch, d)  # (1, d) for a net without activations


_A = torch.ops.aten
#: r·φ'(z) by PyTorch's own fused backward kernels, given z and h = φ(z): one kernel per activation where the
#: slope path needs four or five. Not differentiable again (silu_backward has no derivative), so only for sweeps
#: that build no graph (sampling, under ``torch.no_grad``).
_FUSED_VJP: dict[type[nn.Module], Callable[[nn.Module, Tensor, Tensor, Tensor], Tensor]] = {
    nn.SiLU: lambda m, z, h, r: _A.silu_backward(r, z),
    nn.Softplus: lambda m, z, h, r: _A.softplus_backward(r, z, m.beta, m.threshold),
    nn.Tanh: lambda m, z, h, r: _A.tanh_backward(r, h),
    nn.Sigmoid: lambda m, z, h, r: _A.sigmoid_backward(r, h),
    nn.GELU: lambda m, z, h, r: _A.gelu_backward(r, z, approximate=m.approximate),
    nn.ELU: lambda m, z, h, r: _A.elu_backward(r, m.alpha, 1.0, 1.0, False, z),
    nn.ReLU: lambda m, z, h, r: _A.threshold_backward(r, z, 0.0),
    nn.LeakyReLU: lambda m, z, h, r: _A.leaky_relu_backward(r, z, m.negative_slope, False),
    nn.Identity: lambda m, z, h, r: r,
}


def _grad_without_graph(layers: list[nn.Module], u: Tensor, d: int, need_value: bool) -> tuple[Tensor | None, Tensor]:
    """:func:`forward_with_slopes` + :func:`reverse_sweep` with each activation's own fused backward kernel."""
    last = _last_activation(layers)
    h, vjps = u, []
    for i, m in enumerate(layers):
        if not need_value and i > last:
            h = None
            break
        if isinstance(m, nn.Linear):
            h = m(h)
        else:
            z, h = h, m(h)
            vjps.append(lambda r, m=m, z=z, h=h: _FUSED_VJP[type(m)](m, z, h, r.expand(z.shape)))
    return h, reverse_sweep(layers, vjps, d, u.shape[0])


def energy_and_grad(net: nn.Module, x: Tensor, *cond: Tensor | float, need_energy: bool = True
                    ) -> tuple[Tensor | None, Tensor]:
    r"""``(E(x), ∇ₓE(x))`` of a walkable MLP energy (:func:`~scorematch.sweeps.supports`); shapes ``(B,)``
    and ``x.shape``; differentiable in the parameters (and in ``x``) to any order.

    ``cond`` is ``sigma`` for a :class:`~scorematch.models.NoiseConditionalEnergyMLP`. With
    ``need_energy=False`` the energy is ``None`` and the layers after the last activation are not evaluated.

    >>> from scorematch.derivatives import score_of_energy
    >>> from scorematch.models import EnergyMLP
    >>> net = EnergyMLP(3, hidden=8).double()
    >>> x = torch.randn(4, 3, dtype=torch.float64)
    >>> e, grad = energy_and_grad(net, x)
    >>> torch.allclose(grad, -score_of_energy(net, x))
    True
    """
    walk = prepare(net, x, cond)
    if torch.is_grad_enabled():
        h, slopes = forward_with_slopes(walk.layers, walk.u, need_energy)
        grad = reverse_sweep(walk.layers, slopes, walk.d, x.shape[0])
    else:
        h, grad = _grad_without_graph(walk.layers, walk.u, walk.d, need_energy)
    e = None if h is None else h.squeeze(-1)
    if walk.scale is not None:
        e, grad = (None if e is None else e / walk.scale), grad / walk.scale.unsqueeze(-1)
    return e, grad.reshape(x.shape)
