r"""``sigma = "auto"``: the noise level of denoising score matching, chosen from the data.

Denoising score matching at level σ fits the score of the data smoothed by :math:`N(0, \sigma^2 I)`: a large σ
biases the fit (the smoothed score is not the data's), a small one makes the objective's variance grow like
:math:`1/\sigma^2` and training slower. Neither can be read off the training loss, whose scale changes with σ. The
held-out Hyvärinen loss (:class:`~scorematch.metrics.HeldOutCriterion`) is the Fisher divergence to the *clean*
data's score up to a constant that does not depend on σ, so it compares the levels directly.

Which σ is best depends on the budget (small σ wins only once trained long enough), so the grid is searched by
**successive halving** over the run's own step budget ``T``: every σ of the grid trains for ``T/4`` steps; the
better half (by the best held-out criterion so far) continues to ``T/2``; the best of those continues to ``T``
and *is* the run. Every candidate continues from its own checkpoint, so nothing is trained twice: with the
5-value grid the search costs ``2.25·T`` steps in all, against ``T`` for a fixed σ.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import TrainConfig

__all__ = ["SIGMA_GRID", "choose_sigma"]

SIGMA_GRID: tuple[float, ...] = (0.025, 0.05, 0.1, 0.2, 0.4)
"""The σ values tried, in standardized units (a factor 2 apart)."""

RUNGS: tuple[float, ...] = (0.25, 0.5)
"""Fractions of the budget after which the worse half of the candidates is dropped."""


def choose_sigma(cfg: TrainConfig, train: Callable[[TrainConfig, Path, bool], float | None], workspace: Path, *,
                 sigmas: tuple[float, ...] = SIGMA_GRID) -> tuple[float, Path, dict[str, Any]]:
    """Successive halving over ``sigmas``; returns ``(σ, folder, record)``.

    Args:
        cfg: the run's settings (``objective = "dsm"``).
        train: ``train(cfg_at_sigma, folder, resume) -> best held-out criterion``: trains (or, with ``resume``,
            continues) a run of ``cfg_at_sigma.steps`` steps in ``folder``, checkpointing at its last step.
        workspace: where the candidates' folders go.

    ``folder`` holds the winner's checkpoint after ``T/2`` steps (``T = cfg.steps``), for the caller to continue
    to ``T``. The record (written to ``sigma_search.json``) gives every σ with its criterion at each rung.
    """
    budgets = sorted({max(1, min(cfg.steps, round(cfg.steps * f))) for f in RUNGS})
    alive = [float(s) for s in sigmas]
    seen: dict[float, dict[int, float | None]] = {s: {} for s in alive}
    for i, steps in enumerate(budgets):
        for sigma in alive:
            value = train(cfg.replace(sigma=sigma, steps=steps, checkpoint_every=steps), workspace / f"sigma-{sigma:g}",
                          i > 0)
            seen[sigma][steps] = float(value) if value is not None and math.isfinite(value) else None
        ranked = sorted((s for s in alive if seen[s][steps] is not None), key=lambda s: seen[s][steps])  # type: ignore[arg-type,return-value]
        if not ranked:
            raise ValueError("sigma auto: no σ of the grid gave a finite held-out criterion; give --sigma explicitly")
        alive = ranked[: max(1, len(alive) // 2)] if i < len(budgets) - 1 else ranked[:1]
    best = alive[0]
    record = {"method": "successive halving on the held-out Hyvärinen loss (lower is better)",
              "rungs": budgets, "total_steps": cfg.steps,
              "tried": [{"sigma": s, "val_hyvarinen": {str(k): v for k, v in seen[s].items()}} for s in seen],
              "chosen": best}
    return best, workspace / f"sigma-{best:g}", record
