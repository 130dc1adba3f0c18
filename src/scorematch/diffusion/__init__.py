"""Score-based diffusion: forward SDEs (``sde``: VE, VP, sub-VP, with their perturbation kernels and priors), the
diffused laws of Gaussian mixtures in closed form (``marginals``) and the exact log-likelihood of a score model by
the probability-flow ODE (``likelihood``)."""

from .likelihood import LogLikelihood, log_likelihood, sigma_conditioned
from .marginals import diffused_mixture, time_score
from .sde import SDE, VE, VP, SubVP

__all__ = ["SDE", "VE", "VP", "LogLikelihood", "SubVP", "diffused_mixture", "log_likelihood", "sigma_conditioned",
           "time_score"]
