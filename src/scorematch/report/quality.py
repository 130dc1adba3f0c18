r"""Quality against time for ``compare``: what is measured on held-out points while a method trains, and what the
report says of the curve.

The measure is the relative Fisher divergence :math:`E\lVert s - s^*\rVert^2 / E\lVert s^*\rVert^2` at the test
points where the data set's exact score is known, else the held-out Hyvärinen loss
:math:`\frac1n\sum_i \tfrac12\lVert s(x_i)\rVert^2 + \operatorname{tr}\nabla s(x_i)` (the Fisher divergence up to a
constant, which needs no truth). For energy models the spread of the energy over the test points is recorded too:
beyond :data:`RUNAWAY` nats the energies have run away (contrastive divergence's failure mode: the loss
:math:`E(x^+) - E(x^-)` is unbounded below), which no well-fitted model of standardized data comes near.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ..fields import Energy, Score
from ..metrics import HeldOutCriterion, relative_fisher_divergence
from ..protocol import has_energy, in_data_units

__all__ = ["RUNAWAY", "QualityProbe", "runaway_of", "seconds_to"]

RUNAWAY = 1e3
"""Energy spread (max − min over the test points, in nats) beyond which the energies are said to have run away."""


class QualityProbe:
    """``probe(model, stats) -> {"quality": q, ["energy_range": r]}`` for :func:`scorematch.runs.run.train_run`'s
    ``eval_fn``: ``model`` in standardized units (``view`` binds a noise-conditional one to its smallest σ),
    ``test`` points in data units, ``truth`` the exact target (or ``None``)."""

    def __init__(self, test: Tensor, truth: Any, view: Any = None):
        self.test, self.truth, self.view = test.double(), truth, view
        self.true_score = truth.score(self.test) if truth is not None else None
        self._criterion: HeldOutCriterion | None = None

    def measure(self, model: Any, stats: Any) -> float:
        """The quality of a standardized-units ``model``: relative Fisher divergence, or held-out Hyvärinen loss."""
        if self.true_score is not None:
            score = in_data_units(model, stats).score(self.test)
            return float(relative_fisher_divergence(score, self.true_score, self.test))
        if self._criterion is None:
            self._criterion = HeldOutCriterion(stats.transform(self.test).float(), seed=0)
        # in standardized units; the Jacobian only shifts the value by a constant per data set
        field = model if isinstance(model, (Energy, Score)) else Score(model)  # an estimator: its score function
        return self._criterion(field)[HeldOutCriterion.key]

    def __call__(self, model: Any, stats: Any) -> dict[str, float]:
        field = self.view(model) if self.view is not None else model
        out = {"quality": self.measure(field, stats)}
        if has_energy(field):
            with torch.no_grad():
                e = in_data_units(field, stats).energy(self.test)
            out["energy_range"] = float(e.max() - e.min()) if torch.isfinite(e).all() else math.inf
        return out


def seconds_to(curve: Sequence[tuple[float, float]], target: float) -> float | None:
    """The first training time at which the quality is at or below ``target`` (``None``: never)."""
    return next((t for t, q in curve if math.isfinite(q) and q <= target), None)


def runaway_of(history: Sequence[dict[str, Any]]) -> str | None:
    """When the energies first spread beyond :data:`RUNAWAY` nats over the test points, as a phrase; else None."""
    for r in history:
        if r.get("energy_range") is not None and not r["energy_range"] <= RUNAWAY:
            return f"energies ran away at {r['seconds']:.1f} s (step {r['step']}, spread {r['energy_range']:.3g} nats)"
    return None
