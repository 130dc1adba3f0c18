"""One trained contestant of ``compare``: train it with the quality probe, survive its divergence, sample it, and
measure what its kind allows (NCE: its learned log Z against annealed importance sampling)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..data import Standardizer
from ..fields import Energy
from ..metrics import ais_log_z, relative_fisher_divergence
from ..protocol import in_data_units
from ..runs.config import TrainConfig
from ..runs.folder import read_metrics
from ..runs.registry import ESTIMATORS, OBJECTIVES, at_smallest_sigma
from ..runs.run import Run, read_object, train_run
from ..samplers.named import draw
from ..training.fit import TrainingDiverged
from .measures import draw_report, sample_quality
from .quality import QualityProbe, runaway_of

__all__ = ["build_estimator", "train_objective"]


def _kept_step(run: Run, result: Any) -> int | None:
    """The step whose weights the run kept: the global judge's (``summary.json``), else the held-out criterion's."""
    summary = read_object(run.path / "summary.json") if (run.path / "summary.json").is_file() else {}
    return summary.get("judged_step", result.best_step)


def _learned_log_z(run: Run, test: Tensor, seed: int) -> dict[str, Any]:
    """NCE's learned log Z and the test log-likelihood it gives, next to log Z by AIS of the same energy."""
    model = at_smallest_sigma(run.model, run.config)
    ais = ais_log_z(model, run.event_shape, n_chains=512, n_temperatures=300, base_std=2.0, dtype=torch.float32,
                    generator=torch.Generator().manual_seed(seed))
    energy = run.energy(test)
    learned = run.learned_log_z
    return {"log_z_learned": learned, "log_z_ais": float(ais.log_z), "log_z_ais_se": float(ais.standard_error),
            "test_loglik_nce": float((-energy - learned).mean()),
            "test_loglik_ais": float((-energy - float(ais.log_z)).mean())}


def train_objective(cfg: TrainConfig, folder: Path, train: Tensor, test: Tensor, probe: QualityProbe,
                    sample_steps: int | None, eval_seconds: float, say: Callable[[str], None],
                    names: list[str] | None = None, ladder: bool = False
                    ) -> tuple[dict[str, Any], Tensor | None, Any, list[dict[str, Any]]]:
    """``(row, samples, model in data units, history)``; a diverged run gives a row saying when and why, its
    quality curve up to then, and no samples. ``ladder``: a noise-conditional objective takes the σ ladder of the
    data, as ``scorematch train`` does when no σ is given."""
    entry = OBJECTIVES[cfg.objective]
    head: dict[str, Any] = {"objective": cfg.objective, "kind": "objective", "family": entry.family,
                            "model": cfg.model}
    try:
        run, result = train_run(cfg, folder, progress=False, data=train, eval_fn=probe, eval_seconds=eval_seconds,
                                ladder=ladder and entry.conditional,
                                names=names)
    except TrainingDiverged as e:
        history = read_metrics(folder)
        curve = [[r["seconds"], r["quality"]] for r in history if "quality" in r]
        say(f"diverged: {e}")
        return {**head, "diverged": f"non-finite at step {e.step} ({e.seconds:.1f} s of training)",
                "diverged_step": e.step, "diverged_seconds": e.seconds, "quality_curve": curve,
                "energy_runaway": runaway_of(history), "train_seconds": e.seconds,
                "ms_per_step": 1000 * e.seconds / max(1, e.step),
                "missing": f"diverged at step {e.step}: no model to sample or measure"}, None, None, history
    say(f"sampling and measuring ({run.default_sampler()}, {test.shape[0]} samples)…")
    t0 = time.perf_counter()
    samples, report = run.draw(test.shape[0], seed=cfg.seed, steps=sample_steps)
    losses = [r["loss"] for r in result.history]
    tail = losses[-max(1, len(losses) // 10):]
    row = {**head, "ms_per_step": 1000 * result.seconds / max(1, result.steps), "train_seconds": result.seconds,
           "sample_seconds": time.perf_counter() - t0, "final_loss": sum(tail) / len(tail),
           "steps_done": result.steps, "best_step": _kept_step(run, result), "stop_reason": result.stop_reason,
           "overfit_step": result.overfit_step, "diverged": None,
           "quality_curve": [[r["seconds"], r["quality"]] for r in result.history if "quality" in r],
           "energy_runaway": runaway_of(result.history),
           **sample_quality(samples, test), **draw_report(report)}
    row["final_quality"] = probe(run.model, run.stats)["quality"]
    if probe.truth is not None:
        row["rel_fisher"] = row["final_quality"]
    if isinstance(run.model, Energy) and run.learned_log_z is not None:
        row.update(_learned_log_z(run, test, cfg.seed))
    return row, samples, run.view, result.history


def build_estimator(name: str, train: Tensor, test: Tensor, probe: QualityProbe, cfg: TrainConfig,
                    sample_steps: int | None) -> tuple[dict[str, Any], Tensor, Any]:
    """Build the estimator ``name`` on the standardized training points (with the settings of ``cfg``), measure it
    and sample it by Langevin."""
    stats = Standardizer.fit(train)
    t0 = time.perf_counter()
    estimator = ESTIMATORS[name].build(stats.transform(train), cfg)
    seconds = time.perf_counter() - t0
    quality = probe.measure(estimator, stats)
    z, report = draw("langevin", estimator, test.shape[0], tuple(train.shape[1:]), steps=sample_steps,
                     seed=cfg.seed)
    samples = stats.inverse(z.double())
    view = in_data_units(estimator, stats)
    row: dict[str, Any] = {"objective": name, "kind": "estimator", "family": "estimator", "model": "no network",
                           "ms_per_step": None, "train_seconds": seconds, "sample_seconds": report["seconds"],
                           "final_loss": None, "final_quality": quality, "quality_curve": [[seconds, quality]],
                           "diverged": None,
                           **sample_quality(samples, test), **draw_report(report)}
    if probe.truth is not None:
        row["rel_fisher"] = float(relative_fisher_divergence(view.score(test), probe.truth.score(test.double()), test))
    return row, samples, view
