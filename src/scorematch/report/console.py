"""The lines a report prints while it is made: one per stage, and one summary per objective."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["fmt", "objective_line", "say"]


def say(message: str, enabled: bool) -> None:
    """Print ``message`` at once when ``enabled``."""
    if enabled:
        print(message, flush=True)


def fmt(value: Any, spec: str) -> str:
    """``value`` formatted by ``spec``; ``—`` for a missing or non-finite value, yes / **no** for a bool."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    return format(value, spec)


def objective_line(tag: str, row: dict[str, Any]) -> str:
    """The summary of one measured objective (a row of ``compare``)."""
    cost = f"{row['ms_per_step']:.1f} ms/step" if row.get("ms_per_step") is not None else \
        f"built in {row['train_seconds']:.2f} s"
    return (f"{tag}: {cost}  MMD² {fmt(row['mmd2'], '.2e')}  C2ST {fmt(row['c2st'], '.3f')}"
            + (f"  rel. Fisher {row['rel_fisher']:.3f}" if row.get("rel_fisher") is not None else "")
            + (f"  KL {row['kl_grid']:.3f}" if "kl_grid" in row else "")
            + f"  sampler {row['sampler_summary']}"
            + (f"  mode TV {row['mode_tv']:.3f}" if "mode_tv" in row else "")
            + (f"  weights TV {row['weights_tv']:.3f}" if "weights_tv" in row else "")
            + (f"  → sampler {row['verdict']['sampler']}; fit {row['verdict']['fit']}" if "verdict" in row else ""))
