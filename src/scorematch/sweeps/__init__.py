"""Analytic derivative sweeps for MLP energies: the gradient, directional derivatives and the Laplacian of
``E_θ(x)`` from hand-written forward/reverse recursions, with no double backward.

* :func:`energy_and_grad`: ``(E, ∇E)`` — the score of ``Energy(net)`` for denoising SM and the samplers.
* :func:`energy_directional`: ``(E, vᵀ∇E, vᵀ∇²E v)`` — sliced SM.
* :func:`energy_grad_laplacian`: ``(E, ∇E, ΔE)`` — explicit SM with an exact trace (the forward Laplacian).

``Energy(net)`` and the losses use them automatically when :func:`supports` is true, and the generic
autograd paths of :mod:`scorematch.derivatives` otherwise; the two agree to round-off.
"""

from .activations import ACTIVATION_DERIVATIVES
from .directional import energy_directional
from .gradient import energy_and_grad
from .laplacian import energy_grad_laplacian
from .trunk import supports

__all__ = ["ACTIVATION_DERIVATIVES", "energy_and_grad", "energy_directional", "energy_grad_laplacian",
           "supports"]
