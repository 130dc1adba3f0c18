"""``compare``: train each objective on one data set with the same budget and seed, sample from each with the
sampler that suits it, and measure, in the units of the original data: seconds per step, final loss, MMD² and C2ST
of the samples against held-out data, and — where the data set has an exact density — the relative Fisher
divergence of the learned score and the KL divergence of the learned density (2-D, on a grid)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..checkpoint import atomic_write
from ..config import TrainConfig
from ..data import DATASETS
from ..metrics import c2st, grid_metrics, mmd2, relative_fisher_divergence
from ..metrics.modes import mode_check
from ..models.analytic import ANALYTIC
from ..runs import Run, prepare_data, train_run
from ..sampling import describe
from .console import fmt, objective_line, say
from .figures import box_of, regions_of
from .markdown import markdown

__all__ = ["N_TEST", "compare"]

N_TEST = 2000


def _split(data: str, seed: int, n_data: int, n_test: int) -> tuple[Tensor, Tensor]:
    cfg = TrainConfig(data=data, seed=seed, n_data=n_data)
    if data in DATASETS:
        x = prepare_data(cfg, n_extra=n_test)
        return x[:n_data], x[n_data:]
    x = prepare_data(cfg)
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    n_test = max(1, x.shape[0] // 5)
    return x[perm[n_test:]], x[perm[:n_test]]


def _measure(run: Run, seconds: float, history: list[dict[str, float]], test: Tensor, truth: Any,
             box: Any, sample_steps: int | None, regions: Any) -> tuple[dict[str, Any], Tensor]:
    t0 = time.perf_counter()
    samples, draw_report = run.draw(test.shape[0], seed=run.config.seed, steps=sample_steps)
    sample_seconds = time.perf_counter() - t0
    losses = [r["loss"] for r in history]
    tail = losses[-max(1, len(losses) // 10):]
    finite = torch.isfinite(samples).all(1)
    row: dict[str, Any] = {
        "objective": run.config.objective, "model": run.config.model,
        "ms_per_step": 1000 * seconds / max(1, history[-1]["step"] if history else run.config.steps),
        "train_seconds": seconds,
        "sample_seconds": sample_seconds, "final_loss": sum(tail) / len(tail),
        "mmd2": float(mmd2(samples[finite], test)) if finite.sum() > 1 else None,
        "c2st": (float(c2st(samples[finite], test, generator=torch.Generator().manual_seed(0)))
                 if finite.sum() > 10 else None),
        "nonfinite_samples": int((~finite).sum()),
        "sampler": draw_report["sampler"], "sampler_summary": describe(draw_report),
        "sampler_trusted": draw_report["trusted"], "sampler_warnings": draw_report["warnings"],
        "sampler_notes": draw_report.get("notes", []),
    }
    if row["c2st"] is None:
        row["missing"] = f"MMD²/C2ST not measured: only {int(finite.sum())} of {samples.shape[0]} samples are finite"
    if truth is not None:
        row["rel_fisher"] = float(relative_fisher_divergence(run.score(test), truth.score(test.double()), test))
    if run.config.model == "energy" and run.dim == 2:
        grid = grid_metrics(run.energy, box=box, data=test,
                            target_log_prob=(truth.log_prob if truth is not None else None))
        row["test_loglik_grid"] = float(grid.log_likelihood)
        if truth is not None:
            row["kl_grid"] = float(grid.kl)
        check = mode_check(run.energy, samples, regions, box=box)
        row.update(mode_tv=check.tv, mode_tv_limit=check.limit, modes_agree=check.agree,
                   mode_mass_density=check.density.tolist(), mode_mass_samples=check.samples.tolist())
    return row, samples


def compare(data: str, objectives: list[str] | tuple[str, ...], out: Path, *, steps: int = 2000, model: str = "energy",
            seed: int = 0, hidden: int = 128, n_test: int = N_TEST, sample_steps: int | None = None,
            progress: bool = True, log: bool = False) -> Path:
    """Train every objective on ``data`` into ``out/runs/<objective>`` and write ``out/report.md`` and
    ``out/report.json`` with the figures; returns the path of ``report.md``. ``n_test`` held-out points (built-in
    sets) and as many samples per model, drawn by each run's default sampler (``sample_steps`` overrides its number of
    steps); ``progress`` prints a line per objective and stage; ``log`` draws log-densities."""
    from ..plot import ColumnSpec, comparison_grid, loss_curves

    base = TrainConfig(data=data, model=model, steps=steps, seed=seed, hidden=hidden)  # validated before writing
    objectives = list(dict.fromkeys(objectives))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"--out {out} exists and is not empty: choose a new folder")
    train, test = _split(data, seed, base.n_data, n_test)
    if train.shape[1] != 2 and data in DATASETS:
        raise ValueError(f"{data}: expected 2-D data")
    truth = ANALYTIC[data]() if data in ANALYTIC else None
    box = box_of(train) if train.shape[1] == 2 else None
    regions = regions_of(truth, train) if box is not None else None
    out.mkdir(parents=True, exist_ok=True)
    rows, columns, histories = [], {}, {}
    for i, objective in enumerate(objectives, start=1):
        cfg = base.replace(objective=objective)
        tag = f"[{i}/{len(objectives)}] {objective}"
        say(f"{tag}: training ({steps} steps)…", progress)
        run, result = train_run(cfg, out / "runs" / objective, progress=False, data=train)
        say(f"{tag}: sampling and measuring ({run.default_sampler()}, {test.shape[0]} samples)…", progress)
        row, samples = _measure(run, result.seconds, result.history, test, truth, box, sample_steps, regions)
        row.update(steps_done=result.steps, best_step=result.best_step, stop_reason=result.stop_reason,
                   overfit_step=result.overfit_step)
        rows.append(row)
        histories[objective] = result.history
        note = f"MMD² {fmt(row['mmd2'], '.1e')} · C2ST {fmt(row['c2st'], '.2f')}"
        if "kl_grid" in row:
            note = f"KL {row['kl_grid']:.2f} · " + note
        note += f" · {row['sampler']} " + ("✓" if row["sampler_trusted"] else "✗ not converged")
        if row.get("modes_agree") is False:
            note += " · samples ≠ density"
        columns[objective] = ColumnSpec(model=run.view if box else None, samples=samples, note=note)
        say(objective_line(tag, row), progress)
        for w in row["sampler_warnings"]:
            say(f"{tag}: warning: {w}", progress)
    reference = {"mmd2": float(mmd2(train[: test.shape[0]], test)),
                 "c2st": float(c2st(train[: test.shape[0]], test, generator=torch.Generator().manual_seed(0)))}
    if box is not None:
        comparison_grid(columns, train, box=box, truth=truth, log=log, title=f"{data}: {steps} steps per objective",
                        path=out / "comparison.png")
    say("drawing the figures…", progress)
    loss_curves(histories, path=out / "losses.png")
    report = {"data": data, "steps": steps, "model": model, "seed": seed, "n_test": int(test.shape[0]),
              "reference": reference, "objectives": rows}
    atomic_write(out / "report.json", json.dumps(report, indent=2) + "\n")
    atomic_write(out / "report.md", markdown(data, steps, model, seed, rows, reference, truth is not None,
                                              int(test.shape[0]), box is not None))
    return out / "report.md"
