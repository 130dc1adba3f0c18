"""What ``compare`` measures of a model's samples and, for 2-D energies, of its density."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..metrics import c2st, grid_metrics, mmd2
from ..metrics.modes import mode_check, weight_check
from ..samplers.named import describe

__all__ = ["C2ST_GOOD", "density_quality", "draw_report", "sample_quality", "true_weights", "verdict"]

C2ST_GOOD = 0.6
"""The C2ST accuracy at or below which a method's samples count as a good fit."""


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


def true_weights(samples: Tensor, truth: Any) -> dict[str, Any]:
    """The samples' share per component of an exact mixture against its weights (:func:`weight_check`), in any
    dimension; nothing for a truth that is not a mixture."""
    if truth is None or not hasattr(truth, "component") or not hasattr(truth, "weights"):
        return {}
    check = weight_check(samples.to(truth.weights.dtype), truth.component, truth.weights)
    return {"weights_tv": check.tv, "weights_tv_limit": check.limit, "weights_right": check.agree,
            "weights_samples": check.samples.tolist(), "weights_true": check.density.tolist()}


def verdict(row: dict[str, Any], target: float | None) -> dict[str, str]:
    """Two verdicts kept apart. ``sampler``: converged (its diagnostics passed), not converged (they failed),
    unchecked (a sampler without diagnostics: Langevin, the diffusion samplers), and whether the samples carry the
    model's own mass per mode. ``fit``: good when every measured judge of the model against the truth or the data
    passes — relative Fisher divergence ≤ ``target``, the samples' weights per true component within their limit,
    C2ST ≤ :data:`C2ST_GOOD` — else poor, naming the judges that failed."""
    if row.get("diverged"):
        return {"sampler": "—", "fit": "diverged"}
    sampler = ("converged" if row.get("sampler_trusted") else "not converged" if row.get("sampler_warnings")
               else "unchecked")
    if row.get("modes_agree") is False:
        sampler += f", samples ≠ density (mode TV {row['mode_tv']:.2f})"
    failed = []
    if target is not None and row.get("rel_fisher") is not None and not row["rel_fisher"] <= target:
        failed.append(f"rel. Fisher {row['rel_fisher']:.2f} > {target:g}")
    if row.get("weights_right") is False:
        failed.append(f"weights TV {row['weights_tv']:.2f} > {row['weights_tv_limit']:.2f}")
    if row.get("c2st") is not None and not row["c2st"] <= C2ST_GOOD:
        failed.append(f"C2ST {row['c2st']:.2f} > {C2ST_GOOD}")
    measured = any(row.get(k) is not None for k in ("rel_fisher", "weights_right", "c2st"))
    fit = ("poor: " + ", ".join(failed)) if failed else "good" if measured else "not measured"
    return {"sampler": sampler, "fit": fit}
