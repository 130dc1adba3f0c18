"""Score-matching objectives. Each returns one value per sample, shape ``(B,)``; the caller reduces.

Every loss takes ``model`` = ``Energy(net)`` or ``Score(net)`` and data ``x`` of shape ``(B, *event)``.

==============================  =============================================================
``explicit``                    Hyvärinen 2005: ½‖s‖² + tr ∇s, exact trace
``sliced``                      Song et al. 2019: vᵀ∇s v + ½(vᵀs)²; SSM-VR: ½‖s‖² + vᵀ∇s v
``denoising``                   Vincent 2011: ½‖s(x+σε) + ε/σ‖²
``multiscale_denoising``        Song & Ermon 2019 (NCSN): σ per sample, λ(σ) = σ²
``finite_difference_sliced``    Pang et al. 2020 (FD-SSM): central differences, no 2nd-order autograd
``continuous_denoising``        Song et al. 2021: t ~ U(ε, 1) through a forward SDE, λ = σ(t)² or g(t)²
==============================  =============================================================

Each loss declares its properties (:mod:`~scorematch.losses.properties`): the order of the derivatives it takes,
whether it conditions the model on σ, whether its held-out value means anything, whether it needs an energy.
"""

from .continuous import continuous_denoising
from .denoising import denoising
from .explicit import explicit, explicit_sweep
from .finite_difference import finite_difference_sliced
from .multiscale import draw_sigmas, multiscale_denoising
from .properties import Properties, base_objective, declare, properties_of
from .sliced import sliced

__all__ = ["Properties", "base_objective", "continuous_denoising", "declare", "denoising", "draw_sigmas", "explicit",
           "explicit_sweep", "finite_difference_sliced", "multiscale_denoising", "properties_of", "sliced"]
