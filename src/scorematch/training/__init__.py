"""Training: :func:`fit` and its parts (``fit``: the checks and the call; ``loop``: the steps; ``resume``: continuing
from a checkpoint; ``evaluation``: the held-out evaluations), the optimizer and the step (``optimizer``), the held-out
criterion and early stopping (``monitor``), the curvature check of a model against an objective (``curvature``) and
the global judge of a run, its held-out log-likelihood (``judge``)."""

from .fit import FitResult, TrainingDiverged, fit

__all__ = ["FitResult", "TrainingDiverged", "fit"]
