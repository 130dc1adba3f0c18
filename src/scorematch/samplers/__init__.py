"""Samplers: a functional core (``*_init``, ``*_step(state, …) -> (state, info)``), kernels that bind a model
and settings, and drivers that run a kernel.

Convention (every Langevin-type sampler): :math:`x \\leftarrow x + (\\varepsilon/2)\\,s(x) + \\sqrt{\\varepsilon}\\,z`;
``step_size`` is that ε; for HMC it is the leapfrog step (a different quantity, documented there). Kernels report
nothing while they run: progress is the drivers' (``progress=True``).

===========================================  ================================================================
``langevin``                                 unadjusted Langevin (ULA), bias O(ε)
``mala``                                     Metropolis-adjusted Langevin: exact at any ε, needs an energy
``hmc``                                      Hamiltonian Monte Carlo, leapfrog, needs an energy
``annealed_langevin``                        NCSN's annealed Langevin over a σ ladder, step ε σ_i²/σ_L² (a kernel:
                                             ``annealed_langevin_kernel``)
``metropolis_select``                        the accept/reject step MALA, HMC and parallel tempering share
``reverse_sample`` / ``reverse_kernel``      a diffusion model from its prior down: reverse SDE, predictor–corrector,
                                             DDPM ancestral, probability-flow ODE
``sample`` / ``trajectory`` / ``diagnose``   run a kernel: final samples / path / acceptance
``adapt_step_size``                          dual averaging of ε during warm-up towards a target acceptance, then frozen
``adapt_preconditioner``                     a dense mass matrix from the chains' covariance in warm-up (``Whitened``)
===========================================  ================================================================
"""

from .adapt import AdaptResult, adapt_step_size
from .annealed import AnnealedState, annealed_langevin, annealed_langevin_kernel
from .driver import Diagnostics, diagnose, sample, trajectory
from .hmc import hmc, hmc_init, hmc_step
from .langevin import langevin, langevin_init, langevin_step
from .mala import mala, mala_init, mala_step
from .metropolis import metropolis_select
from .precondition import Whitened, adapt_preconditioner
from .reverse import DiffusionState, reverse_kernel, reverse_sample
from .state import Info, Kernel, State

__all__ = [
    "AdaptResult",
    "AnnealedState",
    "Diagnostics",
    "DiffusionState",
    "Info",
    "Kernel",
    "State",
    "Whitened",
    "adapt_preconditioner",
    "adapt_step_size",
    "annealed_langevin",
    "annealed_langevin_kernel",
    "diagnose",
    "hmc",
    "hmc_init",
    "hmc_step",
    "langevin",
    "langevin_init",
    "langevin_step",
    "mala",
    "mala_init",
    "mala_step",
    "metropolis_select",
    "reverse_kernel",
    "reverse_sample",
    "sample",
    "trajectory",
]
