"""``compare``: train each objective on one data set with the same budget and seed — score matching and the methods
it is compared with (contrastive divergence, NCE) — build each nonparametric score estimator, sample from each with
the sampler that suits it, and measure, in the units of the original data: seconds per step, final loss, MMD² and C2ST
of the samples against held-out data, and — where the data set has an exact density — the relative Fisher
divergence of the learned score and the KL divergence of the learned density (2-D, on a grid). While each method
trains, its quality on held-out points is measured at regular wall-clock times (:mod:`.quality`): the report
gives the time each took to reach a stated quality, whether and when it diverged, and draws quality against
time."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .._infra.checkpoint import atomic_write
from .._infra.defaults import multilevel_defaults
from ..data import DATASETS, IMAGE_SETS, image_set
from ..metrics import c2st, mmd2
from ..models.analytic import ANALYTIC
from ..runs.config import TrainConfig
from ..runs.registry import ESTIMATORS, OBJECTIVES, at_smallest_sigma, default_model
from ..runs.run import prepare_data, prepare_table
from .console import fmt, objective_line, say
from .contestants import build_estimator, train_objective
from .figures import box_of, regions_of
from .markdown import markdown
from .measures import density_quality, true_weights, verdict
from .quality import QualityProbe, seconds_to

__all__ = ["N_TEST", "QUALITY_TARGET", "compare"]

N_TEST = 2000
MIN_ROWS = 50
QUALITY_TARGET = 0.1
"""The relative Fisher divergence a method must reach for the report's "seconds to target" (with an exact score)."""


def _split(base: TrainConfig, n_test: int) -> tuple[Tensor, Tensor, list[str] | None]:
    """Training and test points (a built-in set: ``n_data`` and ``n_test`` fresh points; a built-in image set: its
    fixed training and test splits; a file: a random fifth held out), and the file's column names."""
    if base.data in IMAGE_SETS:
        g = torch.Generator().manual_seed(base.seed)
        return (image_set(base.data, "train", generator=g, dtype=torch.float64),
                image_set(base.data, "test", generator=g, dtype=torch.float64), None)
    if base.data in DATASETS:
        x = prepare_data(base, n_extra=n_test)
        return x[:base.n_data], x[base.n_data:], None
    x, names = prepare_table(base)
    if x.shape[0] < MIN_ROWS:  # before any training: a fifth is held out, and samples are measured against it
        raise ValueError(f"{base.data}: compare needs at least {MIN_ROWS} rows (a fifth is held out to measure the "
                         f"samples against); the file has {x.shape[0]}")
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(base.seed))
    n_test = max(1, x.shape[0] // 5)
    return x[perm[n_test:]], x[perm[:n_test]], names


def compare(data: str, objectives: list[str] | tuple[str, ...], out: Path, *, steps: int | None = None,
            model: str | None = None,
            seed: int = 0, hidden: int | None = None, n_test: int = N_TEST, sample_steps: int | None = None,
            progress: bool = True, log: bool = False, eval_seconds: float = 1.0,
            quality_target: float = QUALITY_TARGET, settings: dict[str, Any] | None = None) -> Path:
    """Train every objective (and build every estimator) named in ``objectives`` on ``data`` into
    ``out/runs/<name>`` and write ``out/report.md`` and ``out/report.json`` with the figures; returns the path of
    ``report.md``. ``n_test`` held-out points (built-in sets) and as many samples per model, drawn by each run's
    default sampler (``sample_steps`` overrides its number of steps; estimators are sampled by Langevin);
    ``eval_seconds``: the interval of the quality measurements during training; ``quality_target``: the relative
    Fisher divergence whose first time is reported; ``settings``: objective settings (``sigma``, ``mcmc_steps``, …)
    shared by every method that reads them, and how a file is read (``columns``, ``delimiter``, ``key``);
    ``progress`` prints a line per method and stage; ``log`` draws log-densities; ``model``: the model kind
    (default: ``energy``; for images ``conv``, and ``energy`` for the objectives that train an energy); ``hidden``:
    the width of every method's network (default: the run default, and for diffusion
    :func:`~scorematch._infra.defaults.diffusion_defaults`' wider, deeper one, which it also takes its patience and
    time draws from); ``steps``: every method's budget (default: each method's own, the run default's and diffusion's
    longer one).

    Images: the figure shows each method's samples as a grid next to the test images; for the built-in digits the
    report adds their quality read by a digit classifier (:mod:`scorematch.metrics.digits`: Fréchet distance in its
    features, class histogram, confidence) with real digits and a fitted Gaussian as references."""
    from ..metrics.digits import digit_classifier, digit_quality, digit_references
    from ..plot import ColumnSpec, comparison_grid, image_grids, loss_curves, quality_curves

    base = TrainConfig(data=data, model=model or "energy", seed=seed,  # validated first
                       **({} if steps is None else {"steps": steps}), **({} if hidden is None else {"hidden": hidden}),
                       **(settings or {}))
    names = list(dict.fromkeys(objectives))
    train, test, header = _split(base, n_test)
    images = train.ndim == 4

    def config(name: str) -> TrainConfig:
        kind = model or default_model(tuple(train.shape[1:]), name).name
        cfg = base.replace(objective=name, model=kind)
        if name in OBJECTIVES:  # as train: across noise levels, every level, the finest last
            given = set(settings or {}) | ({"steps"} if steps is not None else set()) | (
                {"hidden"} if hidden is not None else set())
            cfg = cfg.replace(**{k: v for k, v in multilevel_defaults(name, images).items() if k not in given})
        return cfg

    for name in names:
        if name not in ESTIMATORS:
            config(name)  # unknown names and mismatched models fail here, before any training
        elif images:
            raise ValueError(f"the estimator {name} works on tables, not images: drop it from --objectives")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"--out {out} exists and is not empty: choose a new folder")
    ladder = images and not {"sigma", "sigma_max", "n_sigmas"} & set(settings or {})  # as train does on images
    if train.shape[1] != 2 and data in DATASETS:
        raise ValueError(f"{data}: expected 2-D data")
    truth = ANALYTIC[data]() if data in ANALYTIC else None
    box = box_of(train) if not images and train.shape[1] == 2 else None
    regions = regions_of(truth, train) if box is not None else None
    out.mkdir(parents=True, exist_ok=True)
    rows, columns, histories, grids = [], {}, {}, {}
    for i, name in enumerate(names, start=1):
        tag = f"[{i}/{len(names)}] {name}"
        if name in ESTIMATORS:
            say(f"{tag}: building the estimator, sampling by Langevin and measuring…", progress)
            row, samples, view = build_estimator(name, train, test, QualityProbe(test, truth), base, sample_steps)
        else:
            cfg = config(name)
            say(f"{tag}: training ({cfg.steps} steps)…", progress)
            if images and cfg.objective == "esm" and cfg.model == "conv":
                say(f"{tag}: warning: the exact trace costs {train[0].numel()} backward passes per image and step",
                    True)
            probe = QualityProbe(test, truth, view=lambda m, c=cfg: at_smallest_sigma(m, c))
            row, samples, view, history = train_objective(cfg, out / "runs" / name, train, test, probe, sample_steps,
                                                         eval_seconds, say=lambda m, t=tag: say(f"{t}: {m}", progress),
                                                         names=header, ladder=ladder)
            histories[name] = history
        if samples is not None and box is not None and row.get("model") == "energy" and view is not None:
            row.update(density_quality(view, samples, test, truth, box, regions))
        if samples is not None and not images:
            row.update(true_weights(samples, truth))
        row["verdict"] = verdict(row, quality_target if truth is not None else None)
        row["seconds_to_target"] = seconds_to(row["quality_curve"], quality_target) if truth is not None else None
        rows.append(row)
        if samples is not None and data in IMAGE_SETS:
            row["digits"] = (digit_quality(samples.float(), seed=seed).to_dict() if torch.isfinite(samples).all()
                             else None)
        if samples is not None and images:
            q = row.get("digits")
            grids[name if q is None else f"{name} (Fréchet {q['frechet']:.1f})"] = samples
            say(objective_line(tag, row) + ("" if q is None else f"  digits: Fréchet {q['frechet']:.2f}, "
                                            f"{q['covered']} classes ≥ 5%, confidence {q['confidence']:.3f}"), progress)
        if samples is not None and not images:
            note = f"MMD² {fmt(row['mmd2'], '.1e')} · C2ST {fmt(row['c2st'], '.2f')}"
            if "kl_grid" in row:
                note = f"KL {row['kl_grid']:.2f} · " + note
            note += f" · {row['sampler']} " + ("✓" if row["sampler_trusted"] else "✗ cannot be normalised"
                                               if row.get("normalisable") is False else "✗ not converged"
                                               if row.get("sampler_warnings") else "unchecked")
            if row.get("modes_agree") is False:
                note += " · samples ≠ density"
            if "weights_tv" in row:
                note += f" · weights TV {row['weights_tv']:.2f}"
            columns[name] = ColumnSpec(model=view if box else None, samples=samples, note=note, dtype=torch.float64)
            say(objective_line(tag, row), progress)
        for w in row.get("sampler_warnings", []):
            say(f"{tag}: warning: {w}", progress)
    if truth is None:  # the held-out Hyvärinen loss: report the excess over the best any method reached
        best = min((q for r in rows for _, q in r["quality_curve"] if q is not None and math.isfinite(q)),
                   default=0.0)
        for r in rows:
            r["quality_curve"] = [[t, q - best + 1e-3 * max(1.0, abs(best))] for t, q in r["quality_curve"]]
    reference = {"mmd2": float(mmd2(train[: test.shape[0]], test)),
                 "c2st": float(c2st(train[: test.shape[0]], test, generator=torch.Generator().manual_seed(0)))}
    if data in IMAGE_SETS:
        refs = digit_references(min(test.shape[0], 360), size=test.shape[-1], seed=seed)
        reference["digits"] = {k: v.to_dict() for k, v in refs.items()}
        reference["digit_classifier_accuracy"] = digit_classifier().test_accuracy
    budget = f"{steps} steps" if steps is not None else "its own steps"
    say("drawing the figures…", progress)
    if images and grids:
        image_grids({"test images": test, **grids}, value_range=(float(train.min()), float(train.max())),
                    title=f"{data}: {budget} per method", path=out / "comparison.png")
    if box is not None and columns:
        comparison_grid(columns, train, box=box, truth=truth, log=log, title=f"{data}: {budget} per objective",
                        path=out / "comparison.png")
    if histories:
        loss_curves(histories, path=out / "losses.png")
    quality_curves({r["objective"]: r["quality_curve"] for r in rows},
                   ylabel="relative Fisher divergence (held-out)" if truth is not None else
                   "held-out Hyvärinen loss − best reached", target=quality_target if truth is not None else None,
                   diverged={r["objective"]: 0.0 for r in rows if r.get("diverged")},
                   title=f"{data}: quality against training time", path=out / "quality.png")
    report = {"data": data, "steps": steps, "model": model or default_model(tuple(train.shape[1:])).name, "seed": seed,
              "settings": dict(base.options),
              "n_test": int(test.shape[0]),
              "quality_target": quality_target if truth is not None else None, "reference": reference,
              "objectives": rows}
    atomic_write(out / "report.json", json.dumps(report, indent=2) + "\n")
    atomic_write(out / "report.md", markdown(data, steps, report["model"], seed, rows, reference, truth is not None,
                                              int(test.shape[0]), bool(grids) or (box is not None and bool(columns)),
                                              quality_target, bool(histories)))
    return out / "report.md"

