"""Neural and analytic models: energy and score networks, noise-conditional variants, test targets.

* :mod:`~scorematch.models.mlp` — ``EnergyMLP``, ``ScoreMLP`` and their noise-conditional versions;
* :mod:`~scorematch.models.conv` — ``NoiseConditionalScoreCNN`` and ``ScoreCNN`` for image batches ``(B, c, h, w)``;
* :mod:`~scorematch.models.analytic` — targets with exact ``log_prob``, ``score`` and ``sample``.

Wrap a network to say what it outputs: ``Energy(EnergyMLP(2))``, ``Score(ScoreMLP(2))``.
"""

from . import analytic
from .analytic import Gaussian, GaussianMixture, RingMixture
from .conv import NoiseConditionalScoreCNN, ScoreCNN
from .embedding import SigmaEmbedding
from .mlp import ACTIVATIONS, EnergyMLP, NoiseConditionalEnergyMLP, NoiseConditionalScoreMLP, ScoreMLP
from .smoothed import SmoothedMixture

__all__ = [
    "ACTIVATIONS",
    "EnergyMLP",
    "Gaussian",
    "GaussianMixture",
    "NoiseConditionalEnergyMLP",
    "NoiseConditionalScoreCNN",
    "NoiseConditionalScoreMLP",
    "RingMixture",
    "ScoreCNN",
    "ScoreMLP",
    "SigmaEmbedding",
    "SmoothedMixture",
    "analytic",
]
