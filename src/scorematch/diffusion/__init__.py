"""Score-based diffusion: forward SDEs (``sde``: VE, VP, sub-VP, with their perturbation kernels and priors), from
which a score network trained across noise levels samples from the prior down."""

from .sde import SDE, VE, VP, SubVP

__all__ = ["SDE", "VE", "VP", "SubVP"]
