"""``plot``: the figures of one run — density, score field, samples over the data (with the sampler's verdict and
the mode check), and the loss curve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..metrics.modes import kmeans_regions, mode_check
from ..models.analytic import ANALYTIC
from ..runs.folder import read_metrics
from ..runs.registry import MODELS
from ..runs.run import Run, prepare_data
from .console import say
from .staging import staged

__all__ = ["box_of", "plot_run", "regions_of"]


def box_of(x: Tensor) -> tuple[tuple[float, float], tuple[float, float]]:
    lo, hi = torch.quantile(x, 0.002, dim=0), torch.quantile(x, 0.998, dim=0)
    centre, half = (lo + hi) / 2, 0.6 * (hi - lo).max()
    return ((float(centre[0] - half), float(centre[0] + half)), (float(centre[1] - half), float(centre[1] + half)))


def regions_of(truth: Any, data: Tensor):
    """The regions whose masses :func:`~scorematch.metrics.mode_check` compares: an exact mixture's components,
    else 8 k-means cells of the data."""
    return truth.component if truth is not None else kmeans_regions(data)


def plot_run(run: Run, out: Path, *, n_samples: int = 2000, steps: int | None = None, sampler: str | None = None,
             log: bool = False, progress: bool = False) -> list[Path]:
    """Draw a run's figures into ``out`` (see :func:`_draw_run`); they are drawn into a temporary folder first and
    moved into ``out`` only when all of them succeeded, so a failure leaves no figure and no empty folder."""
    with staged(out, "scorematch-plot-") as work:
        drawn = _draw_run(run, work, n_samples=n_samples, steps=steps, sampler=sampler, log=log, progress=progress)
    return [out / p.name for p in drawn]


def _draw_run(run: Run, out: Path, *, n_samples: int = 2000, steps: int | None = None, sampler: str | None = None,
              log: bool = False, progress: bool = False) -> list[Path]:
    """Draw a run's figures into ``out``; returns the files written. 2-D runs get the density (or score
    magnitude; ``log``: log-density), the score field and ``n_samples`` samples over the data, drawn by the run's
    default sampler (or ``sampler``), with the sampler's verdict and, for energies, a check of the samples'
    mass per mode against the density's; image runs get a grid of up to 64 samples next to 64 training images
    (``samples.png``); every run gets its loss curve. ``progress`` prints a line per stage."""
    from ..plot import energy_landscape, image_grids, loss_curves, samples_over_data, score_field

    history = read_metrics(run.path)  # a damaged file is named before any sampling
    if run.images:
        data = prepare_data(run.config)
        say(f"sampling {min(n_samples, 64)} images ({sampler or run.default_sampler()})…", progress)
        samples, report = run.draw(min(n_samples, 64), sampler=sampler, steps=steps)
        verdict = "converged" if report["trusted"] else ("cannot be normalised" if report.get("normalisable") is False
                                                         else "NOT converged" if report["warnings"] else "unchecked")
        out.mkdir(parents=True, exist_ok=True)
        written = [out / "loss.png", out / "samples.png"]
        loss_curves({run.config.objective: history}, path=written[0])
        image_grids({"training images": data[:64], f"samples ({report['sampler']}: {verdict})": samples},
                    value_range=run.value_range, title=f"{run.config.data}: {run.config.objective}", path=written[1])
        return written

    if run.dim == 2:
        data = prepare_data(run.config)
        box, view = box_of(data), run.view
        say(f"sampling {n_samples} points ({sampler or run.default_sampler()})…", progress)
        samples, report = run.draw(n_samples, sampler=sampler, steps=steps)
        verdict = "converged" if report["trusted"] else ("cannot be normalised" if report.get("normalisable") is False
                                                         else "NOT converged" if report["warnings"] else "unchecked")
        if report["warnings"]:
            for w in report["warnings"]:
                say(f"warning: {w}", True)
        title = f"samples ({report['sampler']}: {verdict})"
        if MODELS[run.config.model].plot == "density":  # the kind's samples can be weighed against its density
            truth = ANALYTIC[run.config.data]() if run.config.data in ANALYTIC else None
            check = mode_check(run.energy, samples, regions_of(truth, data), box=box, dtype=torch.float64)
            if not check.agree:
                say(f"warning: the samples' mass per mode differs from the density's (total variation "
                     f"{check.tv:.2f} > {check.limit:.2f})", True)
                title += f"\nmass per mode ≠ density's (TV {check.tv:.2f})"
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "loss.png"]
    loss_curves({run.config.objective: history}, path=written[0])
    if run.dim == 2:
        labels = (run.columns[0], run.columns[1])  # the data's column names, or x1, x2
        figures = {
            "density.png": lambda p: energy_landscape(view, box=box, data=data, log=log, path=p, labels=labels,
                                                      dtype=torch.float64),  # data units, of any scale
            "score_field.png": lambda p: score_field(view, box=box, data=data, path=p, labels=labels,
                                                     dtype=torch.float64),
            "samples.png": lambda p: samples_over_data(samples, data, box=box, path=p, title=title, labels=labels),
        }
        for name, draw in figures.items():
            say(f"drawing {name}…", progress)
            draw(out / name)
            written.append(out / name)
    return written


