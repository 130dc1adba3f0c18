"""scorematch: learn probability densities from samples by score matching.

Train energy-based models (p ∝ exp(−E_θ)) and score networks (s_θ ≈ ∇ₓ log p) without the partition function.
``scorematch.losses`` holds the objectives, ``scorematch.derivatives`` the exact and estimated derivatives they are
built on, ``Energy``/``Score`` say what a network outputs (``scorematch.protocol``: what every function accepts as
a model); ``models``, ``data``, ``samplers`` and ``metrics`` hold networks and exact targets, data sets, samplers
and measures of fit; ``training`` holds :func:`fit`, ``runs`` the run folders of the command line (``TrainConfig``,
``train_run``, ``load_run``), ``classical`` score matching in closed form (exponential families, graphical models,
ICA).
"""

from . import (
    classical,
    data,
    derivatives,
    losses,
    metrics,
    models,
    plot,
    protocol,
    runs,
    samplers,
    schedules,
    sweeps,
    training,
)
from ._infra.tuning import tune_cpu_allocator
from .fields import Energy, Score
from .protocol import EnergyModel, ScoreModel, as_model
from .training import fit

__all__ = [
    "Energy", "EnergyModel", "Score", "ScoreModel", "as_model", "classical", "data", "derivatives", "fit", "losses",
    "metrics", "models", "plot", "protocol", "runs", "samplers", "schedules", "sweeps", "training",
    "tune_cpu_allocator",
]
__version__ = "0.1.0"
