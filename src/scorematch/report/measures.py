"""What ``compare`` measures of a model's samples and, for 2-D energies, of its density."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..metrics import c2st, grid_metrics, mmd2
from ..metrics.modes import mode_check
from ..samplers.named import describe

__all__ = ["density_quality", "draw_report", "sample_quality"]


def sample_quality(samples: Tensor, test: Tensor) -> dict[str, Any]:
    """MMD² and C2ST of ``samples`` against ``test``, over the finite samples."""
    finite = torch.isfinite(samples.flatten(1)).all(1)
    row: dict[str, Any] = {
        "mmd2": float(mmd2(samples[finite], test)) if finite.sum() > 1 else None,
        "c2st": (float(c2st(samples[finite], test, generator=torch.Generator().manual_seed(0)))
                 if finite.sum() > 10 else None),
        "nonfinite_samples": int((~finite).sum())}
    if row["c2st"] is None:
        row["missing"] = f"MMD²/C2ST not measured: only {int(finite.sum())} of {samples.shape[0]} samples are finite"
    return row


def draw_report(report: dict[str, Any]) -> dict[str, Any]:
    """The sampler's part of a row."""
    return {"sampler": report["sampler"], "sampler_summary": describe(report), "sampler_trusted": report["trusted"],
            "normalisable": report.get("normalisable"),
            "sampler_warnings": report["warnings"], "sampler_notes": report.get("notes", [])}


def density_quality(energy: Any, samples: Tensor, test: Tensor, truth: Any, box: Any, regions: Any) -> dict[str, Any]:
    """Test log-likelihood and KL on the plotting grid, and the mode check of the samples (2-D energies)."""
    grid = grid_metrics(energy, box=box, data=test, target_log_prob=(truth.log_prob if truth is not None else None),
                        dtype=torch.float64)  # data units: float32 overflows past 3e38
    row: dict[str, Any] = {"test_loglik_grid": float(grid.log_likelihood)}
    if truth is not None:
        row["kl_grid"] = float(grid.kl)
    check = mode_check(energy, samples, regions, box=box, dtype=torch.float64)
    row.update(mode_tv=check.tv, mode_tv_limit=check.limit, modes_agree=check.agree,
               mode_mass_density=check.density.tolist(), mode_mass_samples=check.samples.tolist())
    return row
