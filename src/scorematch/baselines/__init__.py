"""What score matching is compared with: contrastive divergence (CD-k, persistent CD with a replay buffer),
noise-contrastive estimation, and score estimators with no network (the KDE score, the Stein and spectral Stein
gradient estimators).

==========================================  ====================================================================
``contrastive_divergence``                  CD-k (Hinton 2002): negatives by k Langevin/MALA steps from the data
``PersistentContrastiveDivergence``         persistent CD with a bounded replay buffer (Du & Mordatch 2019)
``noise_contrastive``, ``GaussianNoise``    NCE (Gutmann & Hyvärinen 2010), the log-normalizer learned
``KDEScore``                                the score of a Gaussian KDE: what DSM at σ converges to on a sample
``SteinScore``                              the Stein gradient estimator (Li & Turner 2018)
``SpectralSteinScore``                      the spectral Stein gradient estimator (Shi, Sun & Zhu 2018)
==========================================  ====================================================================

The objectives follow the losses' convention (``loss(model, x, *, generator) -> (B,)``); the estimators are score
models (``score(x)``) that samplers, metrics and plots take like any other.
"""

from .contrastive import (
    MCMC_SAMPLERS,
    PersistentContrastiveDivergence,
    contrastive_divergence,
    contrastive_loss,
    mcmc_negatives,
    standard_normal_restart,
)
from .kde import KDEScore, scott_bandwidth
from .nce import GaussianNoise, noise_contrastive
from .stein import SpectralSteinScore, SteinScore

__all__ = ["MCMC_SAMPLERS", "GaussianNoise", "KDEScore", "PersistentContrastiveDivergence", "SpectralSteinScore",
           "SteinScore", "contrastive_divergence", "contrastive_loss", "mcmc_negatives", "noise_contrastive",
           "scott_bandwidth", "standard_normal_restart"]
