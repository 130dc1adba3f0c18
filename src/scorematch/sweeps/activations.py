r"""Closed-form first and second derivatives of the elementwise activations the sweeps walk.

Each entry maps ``(module, z, order)`` to :math:`(\phi(z), \phi'(z), \phi''(z))`, the last ``None`` when
``order == 1`` (the gradient sweeps need no curvature, and skipping it saves elementwise work).
ReLU and LeakyReLU are exact almost everywhere (:math:`\phi'' = 0` off the kink, as autograd has it).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ACTIVATION_DERIVATIVES", "Derivs"]

_SQRT_2PI = math.sqrt(2.0 * math.pi)
_C_TANH = math.sqrt(2.0 / math.pi)
Derivs = tuple[Tensor, Tensor, Tensor | None]  # φ(z), φ'(z), φ''(z) or None


def _silu(m: nn.Module, z: Tensor, order: int) -> Derivs:
    # φ = zs, φ' = s(1 + z(1 − s)) = s + φ(1 − s), φ'' = s(1 − s)(2 + z(1 − 2s)) = s(1 − s)(z − 2φ + 2)
    s = torch.sigmoid(z)
    phi, oms = z * s, 1 - s
    d1 = torch.addcmul(s, phi, oms)
    return phi, d1, ((torch.add(z, phi, alpha=-2.0) + 2.0) * (s * oms) if order > 1 else None)


def _softplus(m: nn.Module, z: Tensor, order: int) -> Derivs:  # linear where βz > threshold, as torch computes it
    bz = m.beta * z
    s, linear = torch.sigmoid(bz), bz > m.threshold
    d1 = torch.where(linear, torch.ones_like(z), s)
    d2 = torch.where(linear, torch.zeros_like(z), m.beta * s * (1 - s)) if order > 1 else None
    return F.softplus(z, m.beta, m.threshold), d1, d2


def _tanh(m: nn.Module, z: Tensor, order: int) -> Derivs:
    t = torch.tanh(z)
    d1 = 1 - t * t
    return t, d1, (-2 * t * d1 if order > 1 else None)


def _sigmoid(m: nn.Module, z: Tensor, order: int) -> Derivs:
    s = torch.sigmoid(z)
    d1 = s * (1 - s)
    return s, d1, (d1 * (1 - 2 * s) if order > 1 else None)


def _gelu(m: nn.Module, z: Tensor, order: int) -> Derivs:
    if m.approximate == "tanh":  # φ = ½z(1 + tanh u), u = c(z + 0.044715 z³)
        t = torch.tanh(_C_TANH * (z + 0.044715 * z**3))
        du, sech2 = _C_TANH * (1 + 3 * 0.044715 * z * z), 1 - t * t
        d1 = 0.5 * (1 + t) + 0.5 * z * sech2 * du
        d2 = sech2 * (du + 0.5 * z * (_C_TANH * 6 * 0.044715 * z - 2 * t * du * du)) if order > 1 else None
        return 0.5 * z * (1 + t), d1, d2
    cdf, pdf = 0.5 * (1 + torch.erf(z / math.sqrt(2.0))), torch.exp(-0.5 * z * z) / _SQRT_2PI
    return z * cdf, cdf + z * pdf, (pdf * (2 - z * z) if order > 1 else None)


def _elu(m: nn.Module, z: Tensor, order: int) -> Derivs:
    neg = m.alpha * torch.exp(torch.clamp(z, max=0.0))  # clamp: no overflow in the branch not taken
    pos = z > 0
    d1 = torch.where(pos, torch.ones_like(z), neg)
    return F.elu(z, m.alpha), d1, (torch.where(pos, torch.zeros_like(z), neg) if order > 1 else None)


def _identity(m: nn.Module, z: Tensor, order: int) -> Derivs:
    return z, torch.ones_like(z), (torch.zeros_like(z) if order > 1 else None)


def _relu(m: nn.Module, z: Tensor, order: int) -> Derivs:
    return F.relu(z), (z > 0).to(z.dtype), (torch.zeros_like(z) if order > 1 else None)


def _leaky_relu(m: nn.Module, z: Tensor, order: int) -> Derivs:
    d1 = torch.where(z > 0, torch.ones_like(z), torch.full_like(z, m.negative_slope))
    return F.leaky_relu(z, m.negative_slope), d1, (torch.zeros_like(z) if order > 1 else None)


#: Activation module types walked by the sweeps, each with its (φ, φ', φ'') in closed form.
ACTIVATION_DERIVATIVES: dict[type[nn.Module], Callable[[nn.Module, Tensor, int], Derivs]] = {
    nn.SiLU: _silu, nn.Softplus: _softplus, nn.Tanh: _tanh, nn.GELU: _gelu, nn.ELU: _elu,
    nn.Sigmoid: _sigmoid, nn.Identity: _identity, nn.ReLU: _relu, nn.LeakyReLU: _leaky_relu,
}
