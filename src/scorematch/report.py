"""``plot`` and ``compare``: the figures of one run, and a report comparing objectives on one data set.

``compare`` trains each objective with the same data, budget and seed, samples from each with the sampler that
suits it, and measures, in the units of the original data: seconds per step, final loss, MMD² and C2ST accuracy
of the samples against held-out data, and — where the data set has an exact density — the relative Fisher
divergence of the learned score and the KL divergence of the learned density (2-D, on a grid).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .checkpoint import atomic_write
from .config import TrainConfig
from .data import DATASETS
from .fields import Energy
from .metrics import c2st, grid_metrics, mmd2, relative_fisher_divergence
from .metrics.modes import kmeans_regions, mode_check
from .models.analytic import ANALYTIC
from .runs import Run, prepare_data, train_run
from .sampling import SAMPLERS, describe

__all__ = ["compare", "plot_run"]

N_TEST = 2000


def _box(x: Tensor) -> tuple[tuple[float, float], tuple[float, float]]:
    lo, hi = torch.quantile(x, 0.002, dim=0), torch.quantile(x, 0.998, dim=0)
    centre, half = (lo + hi) / 2, 0.6 * (hi - lo).max()
    return ((float(centre[0] - half), float(centre[0] + half)), (float(centre[1] - half), float(centre[1] + half)))


def _history(run: Run) -> list[dict[str, float]]:
    path = run.path / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def _say(message: str, enabled: bool) -> None:
    if enabled:
        print(message, flush=True)


def _regions(truth: Any, data: Tensor):
    """The regions whose masses :func:`~scorematch.metrics.mode_check` compares: an exact mixture's components,
    else 8 k-means cells of the data."""
    return truth.component if truth is not None else kmeans_regions(data)


def plot_run(run: Run, out: Path, *, n_samples: int = 2000, steps: int | None = None, sampler: str | None = None,
             log: bool = False, progress: bool = False) -> list[Path]:
    """Draw a run's figures into ``out``; returns the files written. 2-D runs get the density (or score
    magnitude; ``log``: log-density), the score field and ``n_samples`` samples over the data, drawn by the run's
    default sampler (or ``sampler``), with the sampler's verdict and, for energies, a check of the samples'
    mass per mode against the density's; every run gets its loss curve. ``progress`` prints a line per stage."""
    from .plot import energy_landscape, loss_curves, samples_over_data, score_field

    if run.dim == 2:
        data = prepare_data(run.config)
        box, view = _box(data), run.view
        _say(f"sampling {n_samples} points ({sampler or run.default_sampler()})…", progress)
        samples, report = run.draw(n_samples, sampler=sampler, steps=steps)
        verdict = "converged" if report["trusted"] else "NOT converged"
        if report["warnings"]:
            for w in report["warnings"]:
                _say(f"warning: {w}", True)
        title = f"samples ({report['sampler']}: {verdict})"
        if isinstance(run.model, Energy):
            truth = ANALYTIC[run.config.data]() if run.config.data in ANALYTIC else None
            check = mode_check(run.energy, samples, _regions(truth, data), box=box)
            if not check.agree:
                _say(f"warning: the samples' mass per mode differs from the density's (total variation "
                     f"{check.tv:.2f} > {check.limit:.2f})", True)
                title += f"\nmass per mode ≠ density's (TV {check.tv:.2f})"
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "loss.png"]
    loss_curves({run.config.objective: _history(run)}, path=written[0])
    if run.dim == 2:
        figures = {
            "density.png": lambda p: energy_landscape(view, box=box, data=data, log=log, path=p),
            "score_field.png": lambda p: score_field(view, box=box, data=data, path=p),
            "samples.png": lambda p: samples_over_data(samples, data, box=box, path=p, title=title),
        }
        for name, draw in figures.items():
            _say(f"drawing {name}…", progress)
            draw(out / name)
            written.append(out / name)
    return written


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
        "c2st": c2st(samples[finite], test, generator=torch.Generator().manual_seed(0)) if finite.sum() > 10 else None,
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


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    return format(value, spec)


def _markdown(data: str, steps: int, model: str, seed: int, rows: list[dict[str, Any]], reference: dict[str, float],
              truth: bool, n_test: int, figure: bool) -> str:
    cols = [("objective", "objective", "s"), ("steps", "steps_done", "d"), ("kept step", "best_step", "d"),
            ("ms/step", "ms_per_step", ".1f"), ("train s", "train_seconds", ".1f"),
            ("sample s", "sample_seconds", ".1f"), ("final loss", "final_loss", ".4g"), ("MMD²", "mmd2", ".2e"),
            ("C2ST acc", "c2st", ".3f")]
    if truth:
        cols += [("rel. Fisher", "rel_fisher", ".3f"), ("KL(p‖q) grid", "kl_grid", ".3f")]
    cols += [("test log-lik (grid)", "test_loglik_grid", ".3f"), ("sampler", "sampler", "s"),
             ("converged", "sampler_trusted", "s"), ("mode TV", "mode_tv", ".3f")]
    lines = [f"# scorematch compare: {data}", "",
             f"{len(rows)} objectives, {model} models, {steps} steps each, seed {seed}; samples from each model's "
             f"default sampler, measured against {n_test} held-out points, in data units.", "",
             "| " + " | ".join(c[0] for c in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(key), spec) for _, key, spec in cols) + " |")
    lines += ["", f"Reference (training data against held-out data): MMD² {reference['mmd2']:.2e}, "
              f"C2ST accuracy {reference['c2st']:.3f} — the best a model's samples can do.",
              "", "MMD²: unbiased, Gaussian kernel, median bandwidth (≈ 0 when the laws agree). C2ST: held-out accuracy "
              "of a classifier telling samples from data (0.5 = indistinguishable). Steps: done (fewer than the "
              "budget when the held-out criterion stopped improving); kept step: the weights kept, the best by the "
              "held-out Hyvärinen loss on 10% of the training data."]
    overfit = [f"{r['objective']} (from step {r['overfit_step']})" for r in rows if r.get("overfit_step")]
    if overfit:
        lines += [f"Overfitting was seen — the held-out loss rose while the training loss fell — for "
                  f"{', '.join(overfit)}; their best weights were kept."]
    if truth:
        lines += ["Rel. Fisher: E‖s − s*‖² / E‖s*‖² at held-out points against the exact score. KL(p‖q): exact "
                  "density p against the model's density normalised on the plotting box (energy models)."]
    lines += ["", "Sampler: each model's default (SMC for energies: the right weights between modes; Langevin for "
              "score models). Converged: no warning from its diagnostics (acceptance, R̂ and ESS over chains, SMC's "
              "weights). Mode TV: total variation between the model's density mass per mode"
              + (" (the exact mixture's components)" if truth else " (8 k-means cells of the data)")
              + " and its samples' — small when the samples show the model, not the sampler."]
    for r in rows:
        if r.get("missing"):
            lines.append(f"- {r['objective']}: {r['missing']}")
        for w in r.get("sampler_warnings", []):
            lines.append(f"- {r['objective']}: sampler warning: {w}")
        if r.get("modes_agree") is False:
            lines.append(f"- {r['objective']}: the samples' mass per mode differs from the density's (TV "
                         f"{r['mode_tv']:.3f} > {r['mode_tv_limit']:.3f}): do not judge this model by its samples")
        if r.get("sampler") in SAMPLERS and not SAMPLERS[r["sampler"]].judged:
            lines.append(f"- {r['objective']}: {r['sampler_notes'][0]}")
    if figure:
        lines += ["", "![comparison of objectives](comparison.png)"]
    lines += ["", "![training losses](losses.png)", ""]
    return "\n".join(lines)


def compare(data: str, objectives: list[str] | tuple[str, ...], out: Path, *, steps: int = 2000, model: str = "energy",
            seed: int = 0, hidden: int = 128, n_test: int = N_TEST, sample_steps: int | None = None,
            progress: bool = True, log: bool = False) -> Path:
    """Train every objective on ``data`` into ``out/runs/<objective>`` and write ``out/report.md`` and
    ``out/report.json`` with the figures; returns the path of ``report.md``. ``n_test`` held-out points (built-in
    sets) and as many samples per model, drawn by each run's default sampler (``sample_steps`` overrides its number of
    steps); ``progress`` prints a line per objective and stage; ``log`` draws log-densities."""
    from .plot import ColumnSpec, comparison_grid, loss_curves

    base = TrainConfig(data=data, model=model, steps=steps, seed=seed, hidden=hidden)  # validated before writing
    objectives = list(dict.fromkeys(objectives))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"--out {out} exists and is not empty: choose a new folder")
    train, test = _split(data, seed, base.n_data, n_test)
    if train.shape[1] != 2 and data in DATASETS:
        raise ValueError(f"{data}: expected 2-D data")
    truth = ANALYTIC[data]() if data in ANALYTIC else None
    box = _box(train) if train.shape[1] == 2 else None
    regions = _regions(truth, train) if box is not None else None
    out.mkdir(parents=True, exist_ok=True)
    rows, columns, histories = [], {}, {}
    for i, objective in enumerate(objectives, start=1):
        cfg = base.replace(objective=objective)
        tag = f"[{i}/{len(objectives)}] {objective}"
        _say(f"{tag}: training ({steps} steps)…", progress)
        run, result = train_run(cfg, out / "runs" / objective, progress=False, data=train)
        _say(f"{tag}: sampling and measuring ({run.default_sampler()}, {test.shape[0]} samples)…", progress)
        row, samples = _measure(run, result.seconds, result.history, test, truth, box, sample_steps, regions)
        row.update(steps_done=result.steps, best_step=result.best_step, stop_reason=result.stop_reason,
                   overfit_step=result.overfit_step)
        rows.append(row)
        histories[objective] = result.history
        note = f"MMD² {_fmt(row['mmd2'], '.1e')} · C2ST {_fmt(row['c2st'], '.2f')}"
        if "kl_grid" in row:
            note = f"KL {row['kl_grid']:.2f} · " + note
        note += f" · {row['sampler']} " + ("✓" if row["sampler_trusted"] else "✗ not converged")
        if row.get("modes_agree") is False:
            note += " · samples ≠ density"
        columns[objective] = ColumnSpec(model=run.view if box else None, samples=samples, note=note)
        _say(f"{tag}: {row['ms_per_step']:.1f} ms/step  MMD² {_fmt(row['mmd2'], '.2e')}  C2ST {_fmt(row['c2st'], '.3f')}"
             + (f"  KL {row['kl_grid']:.3f}" if "kl_grid" in row else "")
             + f"  sampler {row['sampler_summary']}"
             + (f"  mode TV {row['mode_tv']:.3f}" if "mode_tv" in row else ""), progress)
        for w in row["sampler_warnings"]:
            _say(f"{tag}: warning: {w}", progress)
    reference = {"mmd2": float(mmd2(train[: test.shape[0]], test)),
                 "c2st": c2st(train[: test.shape[0]], test, generator=torch.Generator().manual_seed(0))}
    if box is not None:
        comparison_grid(columns, train, box=box, truth=truth, log=log, title=f"{data}: {steps} steps per objective",
                        path=out / "comparison.png")
    _say("drawing the figures…", progress)
    loss_curves(histories, path=out / "losses.png")
    report = {"data": data, "steps": steps, "model": model, "seed": seed, "n_test": int(test.shape[0]),
              "reference": reference, "objectives": rows}
    atomic_write(out / "report.json", json.dumps(report, indent=2) + "\n")
    atomic_write(out / "report.md", _markdown(data, steps, model, seed, rows, reference, truth is not None,
                                              int(test.shape[0]), box is not None))
    return out / "report.md"
