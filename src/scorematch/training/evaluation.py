"""Evaluations during training: a function of the model called with the EMA weights in place (then the raw weights
put back), and the training times at which ``eval_seconds`` evaluates."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from .._infra.distributed import agree

__all__ = ["evaluate", "next_mark"]


def evaluate(model: nn.Module, ema: dict[str, Tensor] | None, eval_fn: Callable[[nn.Module], dict[str, Any]]
             ) -> dict[str, float]:
    """``eval_fn(model)`` as floats, with the EMA weights when there are any (the raw weights are put back after);
    a non-finite value becomes NaN; under a process group every rank keeps and stops alike (rank 0's values)."""
    raw = {k: v.detach().clone() for k, v in model.state_dict().items()} if ema is not None else None
    if ema is not None:
        model.load_state_dict(ema)
    try:
        model.eval()
        values = {k: float(v.detach() if isinstance(v, Tensor) else v) for k, v in eval_fn(model).items()}
    finally:
        if raw is not None:
            model.load_state_dict(raw)
        model.train()
    if any(not math.isfinite(v) for v in values.values()):
        values = {k: (v if math.isfinite(v) else float("nan")) for k, v in values.items()}
    return agree(values)


def next_mark(interval: float | None, now: float) -> float | None:
    """The next training time after ``now`` at which ``eval_seconds`` evaluates: 0.1·2ᵏ s below ``interval``,
    then every ``interval`` s (``None``: no timed evaluations)."""
    if interval is None:
        return None
    if now < interval:
        mark = 0.1
        while mark <= now:
            mark *= 2
        if mark < interval:
            return mark
    return interval * (math.floor(now / interval) + 1)
