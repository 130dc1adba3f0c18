r"""Energies that second-order objectives cannot train: piecewise-linear activations.

Explicit and sliced score matching (and their finite-difference form) need the curvature of the energy,
:math:`\operatorname{tr}\nabla_x s_\theta = -\Delta E_\theta` or :math:`v^\top\nabla_x^2 E_\theta v`. An energy built
from ReLU-like activations is piecewise linear in ``x``: its Hessian is zero almost everywhere, the objective
collapses to :math:`\tfrac12\lVert s\rVert^2`, and training drives the score to zero without an error. This module
finds such activations in any ``nn.Module`` (activations applied as functions inside ``forward`` cannot be seen).
A *score* network with them is fine: its Jacobian is piecewise constant but not zero.
"""

from __future__ import annotations

from torch import nn

__all__ = ["PIECEWISE_LINEAR", "check_curvature", "check_objective_fits", "piecewise_linear_modules"]

PIECEWISE_LINEAR: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.Hardtanh, nn.Threshold, nn.Hardshrink, nn.Softshrink,
    nn.Hardsigmoid,
)
"""Activation modules whose second derivative is zero almost everywhere (``nn.ReLU6`` is a ``Hardtanh``)."""


def piecewise_linear_modules(module: object) -> list[str]:
    """Qualified names (with their types) of the piecewise-linear activation modules inside ``module``.

    >>> piecewise_linear_modules(nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1)))
    ['1 (ReLU)']
    """
    if not isinstance(module, nn.Module):
        return []
    return [f"{name or type(module).__name__} ({type(m).__name__})" for name, m in module.named_modules()
            if isinstance(m, PIECEWISE_LINEAR)]


def check_curvature(model: object, what: str = "this objective") -> None:
    """Raise ``ValueError`` if ``model`` is an energy whose net has piecewise-linear activations.

    >>> from scorematch import Energy
    >>> check_curvature(Energy(nn.Sequential(nn.Linear(2, 4), nn.Softplus(), nn.Linear(4, 1))))  # smooth: fine
    """
    from ..fields import Energy

    if not isinstance(model, Energy):
        return
    found = piecewise_linear_modules(model.net)
    if found:
        raise ValueError(
            f"{what} needs the energy's second derivatives, but the energy has piecewise-linear activations "
            f"({', '.join(found[:3])}{', …' if len(found) > 3 else ''}): its Laplacian is zero almost everywhere and "
            "training would drive the score to zero; use smooth activations (SiLU, Softplus, GELU, Tanh) or a "
            "first-order objective (denoising)")


def check_objective_fits(model: object, objective: object) -> None:
    """:func:`check_curvature` when ``objective`` (a loss, or a ``functools.partial`` of one) declares that it takes
    second derivatives (:func:`scorematch.losses.properties_of`)."""
    from ..losses import base_objective, properties_of

    if properties_of(objective).order >= 2:
        base = base_objective(objective)
        check_curvature(model, f"the objective {getattr(base, '__name__', base)!s}")
