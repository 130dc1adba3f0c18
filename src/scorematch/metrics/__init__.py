"""Metrics for learned densities and scores.

==================================  ================================================================
``fisher_divergence``               E‖s − s*‖² over given points (no ½); ``relative_fisher_divergence``
``mmd2`` / ``energy_distance``      unbiased two-sample statistics; ``two_sample_test`` adds a p-value
``c2st``                            classifier two-sample test: held-out accuracy, 0.5 = indistinguishable
``ksd2`` / ``stein_kernel``         kernel Stein discrepancy of samples against a score (IMQ or RBF)
``grid_metrics``                    2D energy normalised on a grid: log Z, log-likelihood, KL(p‖q)
``ais_log_z``                       log Z in any dimension by annealed importance sampling
``HeldOutCriterion``                the Hyvärinen loss on held-out points: Fisher divergence up to a constant
==================================  ================================================================
"""

from .ais import AISResult, ais_log_z, beta_ladder
from .c2st import c2st
from .fisher import fisher_divergence, relative_fisher_divergence
from .grid import GridMetrics, grid_metrics
from .heldout import HeldOutCriterion, HeldOutObjective, hyvarinen_loss
from .kernels import median_bandwidth
from .stein import ksd2, stein_kernel
from .two_sample import TwoSampleTest, energy_distance, mmd2, two_sample_test

__all__ = [
    "AISResult",
    "GridMetrics",
    "HeldOutCriterion",
    "HeldOutObjective",
    "TwoSampleTest",
    "ais_log_z",
    "beta_ladder",
    "c2st",
    "energy_distance",
    "fisher_divergence",
    "grid_metrics",
    "hyvarinen_loss",
    "ksd2",
    "median_bandwidth",
    "mmd2",
    "relative_fisher_divergence",
    "stein_kernel",
    "two_sample_test",
]
