"""Training a run folder: the data it names, the held-out split, the σ ladder, and what ``train`` writes (the layout
and reading a finished run: :mod:`scorematch.runs.folder`)."""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .._infra.checkpoint import atomic_write, latest_step, save_tensors
from .._infra.checks import check_memory
from .._infra.distributed import world
from ..data import DATASETS, IMAGE_SETS, Standardizer, image_set, load_table, make_dataset
from ..data.digits import GREY_CELL
from ..data.outputs import save_array
from ..data.ties import ColumnTies, find_ties, spread_ties
from ..fields import Energy, Score
from ..metrics import HeldOutCriterion, HeldOutObjective
from ..schedules import VPChoice, ladder_from_data, vp_from_data
from ..training.curvature import check_objective_fits
from ..training.fit import FitResult, TrainingDiverged, fit
from ..training.judge import HeldOut, Snapshots, choose, heldout_log_likelihood
from .config import TrainConfig
from .folder import Run, RunError, architecture_header, column_names, load_run, read_object
from .registry import MODELS, OBJECTIVES, SAMPLERS, at_smallest_sigma, build_model, build_objective

__all__ = ["Run", "RunError", "load_run", "prepare_data", "prepare_table", "read_object", "save_array", "split_data",
           "train_run"]


def prepare_table(cfg: TrainConfig, n_extra: int = 0) -> tuple[Tensor, list[str] | None]:
    """The run's data in float64, ``(n, d)`` or images ``(n, c, h, w)`` (standardized in float64, then cast for the
    model) and its column names (a file's header; ``None`` otherwise): ``n_data`` (+ ``n_extra``) points of a
    built-in 2-D set drawn with ``seed``, the training split of a built-in image set (dequantized with ``seed``), or
    the whole file (its ``columns``, read with its ``key`` and ``delimiter``)."""
    if cfg.data in IMAGE_SETS:
        return image_set(cfg.data, "train", generator=torch.Generator().manual_seed(cfg.seed), dtype=torch.float64), None
    if cfg.data in DATASETS:
        n = cfg.n_data + n_extra  # float64 points and the generator's temporaries, about 4 copies
        check_memory(f"{n} points of {cfg.data}", 32.0 * n * 2, "choose a smaller n_data")
        return make_dataset(cfg.data, cfg.n_data + n_extra, generator=torch.Generator().manual_seed(cfg.seed),
                            dtype=torch.float64), None
    x, names = load_table(cfg.data, key=cfg.key, columns=cfg.columns, delimiter=cfg.delimiter, dtype=torch.float64)
    if x.shape[0] < 2:
        raise RunError(f"{cfg.data}: at least 2 rows are needed to train, got {x.shape[0]}")
    return x, names


def prepare_data(cfg: TrainConfig, n_extra: int = 0) -> Tensor:
    """The array of :func:`prepare_table`."""
    return prepare_table(cfg, n_extra)[0]


def _write_json(path: Path, value: object) -> None:
    atomic_write(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def split_data(x: Tensor, val_fraction: float | None, seed: int) -> tuple[Tensor, Tensor | None]:
    """``(train, val)``: a random ``val_fraction`` of the rows (fixed by ``seed``) held out; ``val`` is ``None``
    when the fraction is 0 or the data have fewer than 3 rows. At least two rows stay for training."""
    if not val_fraction:
        return x, None
    n_val = min(max(1, round(val_fraction * x.shape[0])), x.shape[0] - 2)  # standardizing needs 2 training rows
    if n_val < 1:
        return x, None
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed + 7919))
    return x[perm[n_val:]], x[perm[:n_val]]


def _criterion(cfg: TrainConfig, objective: Any, z_val: Tensor | None) -> HeldOutCriterion | HeldOutObjective | None:
    if z_val is None:
        return None
    if OBJECTIVES[cfg.objective].sde is not None:  # a diffusion model: its own loss weighs every noise level
        return HeldOutObjective(z_val, objective, seed=cfg.seed)
    return HeldOutCriterion(z_val, objective=objective, view=lambda m: at_smallest_sigma(m, cfg), seed=cfg.seed)


def _fit(cfg: TrainConfig, model: Energy | Score, z: Tensor, z_val: Tensor | None, *, out: Path | None,
         resume: bool = False, progress: bool | None = None, eval_fn: Any = None, schedule_steps: int | None = None,
         eval_seconds: float | None = None, snapshots: bool = False) -> tuple[FitResult, Any]:
    objective = build_objective(cfg, z)
    criterion = _criterion(cfg, objective, z_val)
    if snapshots and criterion is not None:
        criterion = Snapshots(criterion)
    result = fit(model, z, objective, **cfg.fit_arguments(), schedule_steps=schedule_steps,
                 generator=torch.Generator().manual_seed(cfg.seed), progress=progress, out_dir=out, val_fraction=None,
                 criterion=criterion, resume=resume, eval_fn=eval_fn, eval_seconds=eval_seconds)
    return result, criterion


def train_run(cfg: TrainConfig, out: str | Path, *, resume: bool = False, progress: bool | None = None,
              data: Tensor | None = None, eval_fn: Any = None, eval_seconds: float | None = None,
              names: list[str] | None = None, ladder: bool = False, allow_data_change: bool = False,
              device: str | torch.device | None = None) -> tuple[Run, FitResult]:
    """Train ``cfg`` into the folder ``out`` (or continue it with ``resume``); returns the run and its history.

    A random ``val_fraction`` of the data is held out: the held-out Hyvärinen loss (the Fisher divergence up to a
    constant) is logged every ``eval_every`` steps, the best weights are the ones saved, and training stops after
    ``patience`` steps without a new best. ``summary.json`` records the best step, why training stopped and
    whether overfitting was seen. With ``sigma = "auto"`` (denoising) σ is chosen by successive halving
    (:func:`scorematch.runs.autosigma.choose_sigma`, ``sigma_search.json``), the winner's run continues into ``out``,
    and ``config.json`` holds the σ chosen.
    ``data`` overrides the data the config names (used by ``compare`` to hold out a test split), with its column
    ``names``; ``ladder``: choose the σ ladder (``sigma``, ``sigma_max``, ``n_sigmas``) from the standardized
    training points by :func:`scorematch.schedules.ladder_from_data` and write it, with the reason for each number
    and the annealed sampler's step, to ``ladder.json`` (``sample`` then uses that step) — for a vp or subvp
    diffusion run instead β_max by :func:`scorematch.schedules.vp_from_data`, to ``sde.json``; ``allow_data_change``:
    resume although the data's fingerprint (``data_stats.json``) differs; ``device``: where the model, the data
    and the noise live (default CPU). Under a ``torch.distributed`` process group (``torchrun``) every rank trains
    its share of each global batch (:mod:`scorematch._infra.distributed`) and rank 0 alone writes. ``eval_fn``
    (``eval_fn(model, stats) -> dict``) adds its values to every held-out evaluation's record (used by
    ``make quality`` to follow the exact Fisher divergence); ``eval_seconds`` also calls it at regular training
    times (see :func:`scorematch.fit`; used by ``compare`` to draw quality against time).
    """
    out, continuing, device = Path(out), resume, torch.device(device or "cpu")
    rank, size = world()
    writer = rank == 0  # under a process group only rank 0 writes; every rank reads what it needs to resume
    if size > 1 and cfg.batch_size % size:
        raise RunError(f"--batch-size {cfg.batch_size} does not split over {size} processes: choose a multiple of "
                       f"{size}")
    if size > 1 and cfg.sigma == "auto":
        raise RunError("--sigma auto searches in one process: run it without torchrun, or give --sigma")
    x, names = prepare_table(cfg) if data is None else (data, names)
    x, ties = _spread_ties(cfg, x, names)
    train, val = split_data(x, cfg.val_fraction, cfg.seed)
    if resume:
        saved = read_object(out / "data_stats.json")
        stats = Standardizer.from_dict(saved["standardizer"])
        if saved.get("fingerprint") not in (None, _fingerprint(x)) and not allow_data_change:
            raise RunError(f"{cfg.data}: the data changed since the run {out} began (its fingerprint differs): start a "
                           "new run, or continue with the run's standardization by --allow-data-change")
        done = latest_step(out / "checkpoint")
        if done is not None and cfg.steps < done:
            raise RunError(f"{out}: the run has done {done} steps; --steps {cfg.steps} would go backwards")
    else:
        per = cfg.standardize if isinstance(cfg.standardize, str) else \
            ("whiten" if _file_table(cfg, x) else None)  # a file's table: decorrelated
        stats = Standardizer.fit(train, per) if cfg.standardize else Standardizer.identity(tuple(x.shape[1:]))
    z = stats.transform(train).float().to(device)
    z_val = stats.transform(val).float().to(device) if val is not None else None
    extra = None if eval_fn is None else (lambda m: eval_fn(m, stats))
    search, workspace, chosen = None, None, None
    if ladder and not resume and OBJECTIVES[cfg.objective].sde is not None and cfg.sde != "ve":
        chosen = vp_from_data(z.double().cpu(), beta_min=cfg.beta_min)  # the β range, as the ladder's σ₁
        cfg = cfg.replace(beta_max=chosen.beta_max)
    elif ladder and not resume:  # the σ ladder and the sampler's step from the standardized training points
        floor = {}
        if cfg.data in IMAGE_SETS:  # noise finer than a grey level's cell would model the dequantization noise
            floor = {"sigma_min": GREY_CELL / max(stats.std),
                     "sigma_min_reason": "the width of a grey level's dequantization cell, 1/17 of the pixel range"}
        chosen = ladder_from_data(z.double().cpu(), step_budget=SAMPLERS["annealed"].steps, **floor)
        cfg = cfg.replace(sigma=chosen.sigmas[-1], sigma_max=chosen.sigmas[0], n_sigmas=len(chosen.sigmas))
    if cfg.sigma == "auto":
        from .autosigma import choose_sigma

        def candidate(c: TrainConfig, folder: Path, again: bool) -> float | None:
            torch.manual_seed(c.seed)
            model = build_model(c, tuple(x.shape[1:])).to(device)
            return _fit(c, model, z, z_val, out=folder, resume=again, progress=False, eval_fn=extra,
                        schedule_steps=cfg.steps)[0].best_value

        workspace = tempfile.TemporaryDirectory(prefix="scorematch-sigma-")
        sigma, winner, search = choose_sigma(cfg, candidate, Path(workspace.name))
        cfg = cfg.replace(sigma=sigma)
        resume = True  # the run continues the winner from where the search left it
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, tuple(x.shape[1:])).to(device)  # refuses a network larger than the memory before building it
    _, width, layers = MODELS[cfg.model].size(cfg, tuple(x.shape[1:]))
    check_memory(f"a batch of {cfg.batch_size} samples through the network", 32.0 * cfg.batch_size
                 * max(z[0].numel(), width) * layers, "choose a smaller --batch-size")
    check_objective_fits(model, build_objective(cfg, z))  # before anything is written
    if writer:
        _write_start(out, workspace and (winner, workspace), None if continuing else cfg, chosen, search, {
            "standardizer": stats.to_dict(), "event_shape": list(x.shape[1:]), "columns": names,
            "fingerprint": _fingerprint(x), "range": [float(train.min()), float(train.max())] if x.ndim == 4 else None,
            "n": x.shape[0], "n_train": train.shape[0], "n_val": 0 if val is None else val.shape[0],
            "ties": [t.to_dict() for t in ties] or None})
    elif workspace is not None:
        workspace.cleanup()
    judging = (bool(cfg.judge) and isinstance(model, Energy) and z_val is not None and x.ndim == 2
               and OBJECTIVES[cfg.objective].sde is None)  # a diffusion energy's samples come from its whole path
    try:
        result, criterion = _fit(cfg, model, z, z_val, out=out, resume=resume, progress=progress, eval_fn=extra,
                                 eval_seconds=eval_seconds, snapshots=judging)
    except TrainingDiverged as e:
        if writer:
            _keep_last_good(out, model, cfg, e, tuple(x.shape[1:]))
        raise
    judged = _judge(cfg, model, z_val, stats, result, criterion) if judging else {}
    if writer:
        save_tensors(model.state_dict(), out / "model.safetensors", architecture_header(cfg, tuple(x.shape[1:])))
        _write_json(out / "config.json", cfg.to_dict())  # the run now goes to cfg.steps
        _write_json(out / "summary.json", {
            "steps_done": result.steps, "stop_reason": result.stop_reason, "best_step": result.best_step,
            f"best_{getattr(criterion, 'key', 'val_hyvarinen')}": result.best_value,  # a diffusion run's: val_loss
            "overfit_step": result.overfit_step,
            "criterion": None if criterion is None else criterion.key if not hasattr(criterion, "exact") else
            ("exact trace" if criterion.exact else "Hutchinson, fixed probes"),
            "kept_weights": "best held-out" if result.best_step is not None else ("EMA" if cfg.ema_decay else "last"),
            **judged,
        })
    if resume:
        names = column_names(read_object(out / "data_stats.json"))
    return Run(out, cfg, stats, model, names), result


def _judge(cfg: TrainConfig, model: Energy, z_val: Tensor, stats: Standardizer, result: FitResult,
           criterion: Any) -> dict[str, Any]:
    """The global judge (:mod:`scorematch.training.judge`): the held-out log-likelihood of the kept weights and of snapshots
    through training; the best that can be normalised is loaded into ``model``. What ``summary.json`` records."""
    evaluated = [r["step"] for r in result.history if getattr(criterion, "key", "val_hyvarinen") in r]
    snaps = criterion.weights if isinstance(criterion, Snapshots) else []
    field = at_smallest_sigma(model, cfg)

    def judge(_: Any) -> HeldOut:
        return heldout_log_likelihood(field, z_val, log_scale=stats.log_scale, seed=cfg.seed)[0]

    step, held, candidates = choose(model, snaps, evaluated[len(evaluated) - len(snaps):], result.best_step, judge)
    return {"heldout_loglik": held.to_dict(), "judged_step": step, "judged_candidates": candidates,
            "kept_weights": "best held-out log-likelihood" + (" (the model cannot be normalised)"
                                                               if not held.normalisable else "")}


def _file_table(cfg: TrainConfig, x: Tensor) -> bool:
    """Whether ``x`` is a table ``(n, d)`` of a user's data (a file, or data passed in), not a built-in 2-D set: such
    a table is whitened and has its ties spread."""
    return x.ndim == 2 and cfg.data not in DATASETS


class TiesNotice(UserWarning):
    """A table's repeated values were spread before training (:mod:`scorematch.data.ties`)."""


def _spread_ties(cfg: TrainConfig, x: Tensor, names: list[str] | None) -> tuple[Tensor, list[ColumnTies]]:
    """A file's table with its repeated values spread (``cfg.ties``; built-in sets and images are left alone), the
    columns that had ties, and one line saying so."""
    if not cfg.ties or not _file_table(cfg, x):
        return x, []
    ties = find_ties(x, names)
    if not ties:
        return x, []
    more = len(ties) - 3
    listed = ", ".join(t.describe() for t in ties[:3]) + (f" and {more} more column{'s' * (more > 1)}" if more > 0 else "")
    warnings.warn(f"repeated values spread before training (--ties off keeps them; data_stats.json lists them): "
                  f"{listed}", TiesNotice, stacklevel=3)
    return spread_ties(x, torch.Generator().manual_seed(cfg.seed + 104729)), ties


def _write_start(out: Path, searched: Any, new: TrainConfig | None, chosen: Any, search: Any,
                 data_stats: dict[str, Any]) -> None:
    """What a run folder holds before its first step: ``config.json`` of a new run (a resumed run's changes only
    once it has succeeded), the σ search's winner (its checkpoint) and report, the data ladder and
    ``data_stats.json`` (kept from the start on resume). A new run that fails before its first checkpoint loses them
    again (``train`` empties the folder)."""
    out.mkdir(parents=True, exist_ok=True)
    if searched:
        winner, workspace = searched
        shutil.copytree(winner / "checkpoint", out / "checkpoint")
        workspace.cleanup()
    if new is not None:
        _write_json(out / "config.json", new.to_dict())
    if isinstance(chosen, VPChoice):
        _write_json(out / "sde.json", {**chosen.to_dict(), "units": "standardized"})
    elif chosen is not None:
        _write_json(out / "ladder.json", {**chosen.to_dict(), "units": "standardized"})
    if not (out / "data_stats.json").is_file():
        _write_json(out / "data_stats.json", data_stats)
    if search is not None:
        _write_json(out / "sigma_search.json", search)


def _fingerprint(x: Tensor) -> str:
    """SHA-256 of the data (float64) and its shape: ``--resume`` checks that the data did not change."""
    import hashlib

    raw = x.detach().double().contiguous().numpy().tobytes()
    return hashlib.sha256(str(tuple(x.shape)).encode() + raw).hexdigest()


def _keep_last_good(out: Path, model: Energy | Score, cfg: TrainConfig, error: TrainingDiverged,
                    event_shape: tuple[int, ...]) -> None:
    """A diverged run stays usable: the weights of its last checkpoint (the best held-out ones, else the EMA, else
    the raw ones) become ``model.safetensors`` and ``summary.json`` says what happened; with no checkpoint, nothing
    is kept (``train`` removes a new run folder)."""
    from .._infra.checkpoint import load_checkpoint

    if not (out / "checkpoint" / "latest.json").is_file():
        return
    ck = load_checkpoint(out / "checkpoint")
    model.load_state_dict(ck.best or ck.ema or ck.model)
    save_tensors(model.state_dict(), out / "model.safetensors", architecture_header(cfg, event_shape))
    _write_json(out / "config.json", cfg.replace(steps=max(1, ck.step)).to_dict())  # the steps its weights saw
    _write_json(out / "summary.json", {"steps_done": ck.step, "stop_reason": "diverged",
                                       "diverged": str(error).splitlines()[0], "diverged_step": error.step,
                                       "kept_weights": "best held-out" if ck.best else ("EMA" if ck.ema else "last"),
                                       "kept_from_step": ck.step})
