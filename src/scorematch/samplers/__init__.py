"""Samplers: a functional core (``*_init``, ``*_step(state, …) -> (state, info)``), kernels that bind a model
and settings, and drivers that run a kernel.

Convention (every Langevin-type sampler): :math:`x \\leftarrow x + (\\varepsilon/2)\\,s(x) + \\sqrt{\\varepsilon}\\,z`.

=========================  ================================================================
``langevin``               unadjusted Langevin (ULA), bias O(ε)
``mala``                   Metropolis-adjusted Langevin: exact at any ε, needs an energy
``hmc``                    Hamiltonian Monte Carlo, leapfrog, needs an energy
``annealed_langevin``      NCSN's annealed Langevin over a σ ladder, step ε σ_i²/σ_L²
``sample`` / ``trajectory`` / ``diagnose``   run a kernel: final samples / path / acceptance
``adapt_step_size``        dual averaging of ε during warm-up towards a target acceptance, then frozen
=========================  ================================================================
"""

from .adapt import AdaptResult, adapt_step_size
from .annealed import annealed_langevin
from .driver import Diagnostics, diagnose, sample, trajectory
from .hmc import hmc, hmc_init, hmc_step
from .langevin import langevin, langevin_init, langevin_step
from .mala import mala, mala_init, mala_step
from .state import Info, Kernel, State

__all__ = [
    "AdaptResult",
    "Diagnostics",
    "Info",
    "Kernel",
    "State",
    "adapt_step_size",
    "annealed_langevin",
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
    "sample",
    "trajectory",
]
