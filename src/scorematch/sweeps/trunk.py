"""Which energy nets the sweeps can walk, and the inputs a walk starts from.

A walkable net is an ``nn.Sequential`` of ``nn.Linear`` layers and the activations of
:data:`~scorematch.sweeps.activations.ACTIVATION_DERIVATIVES`, starting and ending with a Linear with one
output; or an :class:`~scorematch.models.EnergyMLP` / :class:`~scorematch.models.NoiseConditionalEnergyMLP`
(whose ``.net`` is one, reached through their public :meth:`~scorematch.models.EnergyMLP.trunk_input`) that
does not override ``forward`` — with no forward hooks registered (the sweeps never call ``forward``, so hooks
would silently not run; such nets take the autograd path). ``Energy(net)`` hands its ``net`` to the sweeps.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from ..models.mlp import EnergyMLP, NoiseConditionalEnergyMLP
from .activations import ACTIVATION_DERIVATIVES

__all__ = ["Walk", "prepare", "supports"]

_SUPPORTED = "nn.Linear, " + ", ".join(f"nn.{t.__name__}" for t in ACTIVATION_DERIVATIVES)


def _hooked(module: nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks)


def _trunk(module: nn.Module) -> tuple[nn.Sequential | None, str]:
    """The walkable ``nn.Sequential`` inside ``module`` and ``""``, or ``None`` and why not."""
    if not isinstance(module, nn.Module):
        return None, f"expected an nn.Module; got {type(module).__name__}"
    if _hooked(module) or any(_hooked(m) for m in module.modules()) or _global_hooks():
        return None, "forward hooks are registered (the sweeps do not call forward, so they would not run)"
    if isinstance(module, (EnergyMLP, NoiseConditionalEnergyMLP)):
        base = EnergyMLP if isinstance(module, EnergyMLP) else NoiseConditionalEnergyMLP
        if type(module).forward is not base.forward:
            return None, f"{type(module).__name__} overrides forward"
        module = module.net
    if type(module) is not nn.Sequential:
        return None, f"expected an nn.Sequential or an EnergyMLP; got {type(module).__name__}"
    layers = list(module)
    if not layers or not isinstance(layers[0], nn.Linear) or not isinstance(layers[-1], nn.Linear):
        return None, "the Sequential must start and end with nn.Linear"
    if layers[-1].out_features != 1:
        return None, f"the last Linear must have one output (an energy); it has {layers[-1].out_features}"
    for layer in layers:
        if not (type(layer) is nn.Linear or type(layer) in ACTIVATION_DERIVATIVES):
            return None, f"unsupported layer {type(layer).__name__}; supported: {_SUPPORTED}"
    return module, ""


def _global_hooks() -> bool:
    from torch.nn.modules import module as m

    return bool(m._global_forward_hooks or m._global_forward_pre_hooks)


def supports(module: nn.Module) -> bool:
    """Whether the sweeps can walk ``module`` (see the module docstring)."""
    return _trunk(module)[0] is not None


class Walk(NamedTuple):
    """A walk's start: the trunk's ``layers``, its input ``u`` ``(B, D + extra)`` of which the first ``d``
    columns are ``x`` flattened, and ``scale`` (σ per sample for a ``scale_by_sigma`` net, else ``None``):
    the energy and all its derivatives are divided by it."""

    layers: list[nn.Module]
    u: Tensor
    d: int
    scale: Tensor | None


def prepare(net: nn.Module, x: Tensor, cond: tuple[Tensor | float, ...]) -> Walk:
    """The :class:`Walk` of ``net`` at ``x``; ``NotImplementedError`` (saying why) if the net is not walkable."""
    trunk, why = _trunk(net)
    if trunk is None:
        raise NotImplementedError(f"the MLP sweeps cannot walk this net: {why}")
    layers = list(trunk)
    if isinstance(net, (EnergyMLP, NoiseConditionalEnergyMLP)):
        u, d, scale = net.trunk_input(x, *cond)
        return Walk(layers, u, d, scale)
    if cond:
        raise ValueError(f"{type(net).__name__} takes no condition; got {len(cond)}")
    if x.ndim != 2 or x.shape[1] != layers[0].in_features:
        raise ValueError(f"an nn.Sequential energy takes (B, {layers[0].in_features}); got {tuple(x.shape)}")
    return Walk(layers, x, x.shape[1], None)
