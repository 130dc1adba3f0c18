"""Score-matching objectives. Each returns one value per sample, shape ``(B,)``; the caller reduces.

Every loss takes ``model`` = ``Energy(net)`` or ``Score(net)`` and data ``x`` of shape ``(B, *event)``.

==============================  =============================================================
``explicit``                    Hyvärinen 2005: ½‖s‖² + tr ∇s, exact trace
``sliced``                      Song et al. 2019: vᵀ∇s v + ½(vᵀs)²; SSM-VR: ½‖s‖² + vᵀ∇s v
``denoising``                   Vincent 2011: ½‖s(x+σε) + ε/σ‖²
``multiscale_denoising``        Song & Ermon 2019 (NCSN): σ per sample, λ(σ) = σ²
``finite_difference_sliced``    Pang et al. 2020 (FD-SSM): central differences, no 2nd-order autograd
==============================  =============================================================
"""

import functools

from .denoising import denoising
from .explicit import explicit, explicit_sweep
from .finite_difference import finite_difference_sliced
from .multiscale import draw_sigmas, multiscale_denoising
from .sliced import sliced


def base_objective(objective: object) -> object:
    """The loss function under any ``functools.partial`` layers (``partial(sliced, n_probes=2)`` -> ``sliced``)."""
    while isinstance(objective, functools.partial):
        objective = objective.func
    return objective


SECOND_ORDER = frozenset({explicit, sliced, finite_difference_sliced})
"""The objectives that need the second derivatives of an energy (see :mod:`scorematch.curvature`)."""

__all__ = ["SECOND_ORDER", "base_objective", "denoising", "draw_sigmas", "explicit", "explicit_sweep",
           "finite_difference_sliced", "multiscale_denoising", "sliced"]
