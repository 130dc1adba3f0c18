r"""``fit``: training any model on any score-matching objective, in one call. It checks the settings, holds out
points for the criterion, builds the optimizer and the EMA, resumes (:mod:`~scorematch.training.resume`) and runs the
loop (:mod:`~scorematch.training.loop`):

.. math::

    \theta \leftarrow \mathrm{opt}\Big(\theta,\ \nabla_\theta \tfrac1B \textstyle\sum_{b} \ell(\theta; x_b)\Big),

with optional gradient-norm clipping and an exponential moving average (EMA) of the weights,
:math:`\bar\theta \leftarrow d\,\bar\theta + (1-d)\,\theta`. All randomness (mini-batches and the objective's
noise/probes/chains) comes from one ``torch.Generator`` whose state is checkpointed — with the state of an objective
that keeps one (``objective.state_dict()``, e.g. a persistent-CD replay buffer) — so a run resumed from a checkpoint
continues bit for bit as if it had never stopped (on one machine, with tensor data).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from .._infra.checkpoint import atomic_write
from .._infra.checks import check_choice, check_count, check_positive
from .._infra.defaults import DEFAULTS
from .._infra.distributed import world
from ..losses import properties_of
from .curvature import check_objective_fits
from .loop import Training, TrainingDiverged, batches, run
from .monitor import build_monitor, hold_out
from .optimizer import default_optimizer, training_step
from .resume import restore

__all__ = ["FitResult", "TrainingDiverged", "default_optimizer", "fit", "training_step"]

Objective = Callable[..., Tensor]


@dataclass
class FitResult:
    """``history``: one record per logged step ``{"step", "loss", "seconds", ...eval}``; ``steps``: steps done;
    ``seconds``: training time, the time spent in evaluations (criterion, ``eval_fn``) left out.

    With a held-out criterion: ``best_step`` / ``best_value`` (the weights the model ends with), ``stop_reason``
    (``"steps"``: the budget ran out; ``"patience"``: no new best for ``patience`` steps) and ``overfit_step``
    (the evaluation at which overfitting was first seen, else ``None``).
    """

    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    best_step: int | None = None
    best_value: float | None = None
    stop_reason: str = "steps"
    overfit_step: int | None = None


def _write_metrics(path: Path, history: list[dict[str, float]]) -> None:
    atomic_write(path, "".join(json.dumps(r) + "\n" for r in history))


def fit(
    model: nn.Module,
    data: Tensor | Iterable,
    objective: Objective,
    *,
    steps: int = DEFAULTS.steps,
    batch_size: int = DEFAULTS.batch_size,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = DEFAULTS.lr,
    lr_schedule: str = DEFAULTS.lr_schedule,
    schedule_steps: int | None = None,
    weight_decay: float = DEFAULTS.weight_decay,
    clip_grad_norm: float | None = DEFAULTS.clip_grad_norm,
    ema_decay: float | None = DEFAULTS.ema_decay,
    generator: torch.Generator | None = None,
    progress: bool | None = None,
    log_every: int = 10,
    val_data: Tensor | None = None,
    val_fraction: float | None = DEFAULTS.val_fraction,
    criterion: Callable[[nn.Module], dict[str, float]] | None = None,
    patience: int | None = DEFAULTS.patience,
    overfit_tolerance: float | None = None,
    eval_fn: Callable[[nn.Module], dict[str, float]] | None = None,
    eval_every: int | None = None,
    eval_seconds: float | None = None,
    out_dir: str | Path | None = None,
    checkpoint_every: int = 500,
    resume: bool = False,
) -> FitResult:
    r"""Train ``model`` (an ``Energy(net)`` / ``Score(net)``) on ``data`` by minimising ``objective``.

    Args:
        model: the wrapped network; any ``nn.Module`` the objective accepts.
        data: a tensor ``(n, *event)`` (mini-batches drawn with replacement from ``generator``; under a process
            group each rank takes its share of every batch), or any re-iterable of batches such as a ``DataLoader``
            (cycled; a ``(x, ...)`` tuple uses ``x``; under a process group give each rank its own shard, e.g. with
            ``torch.utils.data.DistributedSampler``).
        objective: ``objective(model, x, generator=g) -> (B,)`` per-sample values, e.g.
            ``functools.partial(scorematch.losses.denoising, sigma=0.1)``.
        steps: total optimizer steps (a resumed run continues up to this number).
        batch_size: samples per step (tensor data).
        optimizer: any ``torch.optim`` optimizer over ``model``'s parameters; by default
            :func:`default_optimizer` (Adam with ``lr``, AdamW when ``weight_decay`` > 0).
        lr_schedule: ``"constant"``, or ``"cosine"``: step ``t = 1..T`` uses
            :math:`\mathrm{lr}\cdot\tfrac12(1 + \cos(\pi (t-1)/T))`, decaying towards 0 (set on every parameter
            group of any optimizer, from the step alone, so a resumed run follows the same schedule).
        schedule_steps: the ``T`` of the schedule (default ``steps``; a run trained in stages gives its total).
        weight_decay: decoupled weight decay of the default optimizer (0: none).
        clip_grad_norm: clip the global gradient norm to this value (``None``: no clipping).
        ema_decay: keep an EMA of the weights with this decay in (0, 1) and load it into ``model`` at the end;
            step ``t`` uses ``min(ema_decay, t/(t + 10))``, so that short runs do not keep the initial weights.
            ``None``: no EMA.
        generator: the source of all randomness (a CPU generator keeps a run resumable on any device); by
            default one seeded from torch's global RNG. The objective's noise on another device, or under a process
            group, comes from :func:`scorematch._infra.distributed.noise_generator`.
        progress: show a tqdm bar with the running loss; by default only when stderr is a terminal.
        log_every: record ``{"step", "loss", "seconds"}`` in the history every this many steps.
        val_data: held-out points ``(m, *event)``: every ``eval_every`` steps (default 100) the held-out
            Hyvärinen loss (:class:`~scorematch.metrics.HeldOutCriterion`, the Fisher divergence up to a constant)
            and the objective's own held-out loss (fixed noise) are added to the record, the weights with the
            lowest held-out Hyvärinen loss are kept and loaded into ``model`` at the end
            (:mod:`scorematch.training.monitor`).
        val_fraction: when ``data`` is a tensor and neither ``val_data`` nor ``criterion`` is given, hold out this
            fraction of its rows (a fixed random subset, the same at every call) as ``val_data``; ``None`` or 0: no
            hold-out, no early stopping (the EMA weights, if any, are kept at the end).
        criterion: instead of ``val_data``, any ``criterion(model) -> {"val_hyvarinen": value, ...}`` to minimise.
        patience: with a criterion, stop after this many steps without a new best (``None``: run all steps).
        overfit_tolerance: the smallest rise of the criterion over its best, while the training loss falls, that
            triggers one :class:`~scorematch.training.monitor.OverfittingWarning` (the margin is the larger of this and 5% of
            the best value, see :mod:`scorematch.training.monitor`); by default ``0.01·D`` for ``D`` numbers per sample
            with ``val_data``, 0.01 with a custom ``criterion``.
        eval_fn, eval_every: call ``eval_fn(model)`` every ``eval_every`` steps and add its dict to the record.
        eval_seconds: also call ``eval_fn`` when the training time first passes each multiple of this interval
            (and 0.1, 0.2, 0.4, … s before the first), so that methods of different cost per step are seen at the
            same times. The record's ``seconds`` is training time: evaluations are not counted (checkpoint writes
            are; on a GPU the clock is read without synchronizing, so queued work may land in either).
        out_dir: if given, write ``metrics.jsonl`` and ``checkpoint/`` there (see :mod:`scorematch._infra.checkpoint`).
        checkpoint_every: steps between checkpoints (and a final one at the end).
        resume: continue from the latest checkpoint in ``out_dir`` (weights, optimizer, EMA, RNG, history,
            the monitor's best weights and state); with the default optimizer, ``lr`` replaces the saved
            learning rate.

    Returns:
        A :class:`FitResult`.

    Raises:
        TrainingDiverged: the objective became non-finite; nothing is saved from that step, so the last
            checkpoint stays the last good one.
        ValueError: a bad option, or a second-order objective (explicit, sliced, finite-difference sliced) asked
            of an energy with piecewise-linear activations (:func:`scorematch.training.curvature.check_curvature`).

    >>> import functools, torch
    >>> from scorematch import Energy, losses
    >>> from scorematch.models import EnergyMLP
    >>> model = Energy(EnergyMLP(2, hidden=16))
    >>> result = fit(model, torch.randn(500, 2), functools.partial(losses.denoising, sigma=0.3), steps=20,
    ...              val_data=torch.randn(100, 2), eval_every=10, generator=torch.Generator().manual_seed(0))
    >>> result.steps, len(result.history), sorted(result.history[-1])
    (20, 2, ['loss', 'seconds', 'step', 'val_hyvarinen', 'val_loss'])
    """
    check_count("steps", steps)
    check_count("batch_size", batch_size)
    check_count("log_every", log_every)
    check_count("checkpoint_every", checkpoint_every)
    check_choice("lr_schedule", lr_schedule, ("constant", "cosine"))
    if clip_grad_norm is not None:
        check_positive("clip_grad_norm", clip_grad_norm)
    if ema_decay is not None and not 0.0 < ema_decay < 1.0:
        raise ValueError(f"ema_decay must lie in (0, 1), got {ema_decay!r}")
    if resume and out_dir is None:
        raise ValueError("resume=True needs out_dir, the folder holding the checkpoint")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    check_objective_fits(model, objective)
    conditional = properties_of(objective).conditional
    if val_data is not None and conditional:
        raise ValueError("val_data: a noise-conditional model is judged at one σ; pass criterion=HeldOutCriterion("
                         "x_val, view=...) with a view that binds the model to its smallest σ")
    if val_data is None and criterion is None and isinstance(data, Tensor) and val_fraction and not conditional:
        data, val_data = hold_out(data, val_fraction)
    stateful = callable(getattr(objective, "state_dict", None)) and callable(getattr(objective, "load_state_dict", None))
    # an objective with state (a replay buffer) must not be run on held-out points: that would change its state
    monitor = build_monitor(None if stateful else objective, val_data, criterion, patience, overfit_tolerance)
    if monitor is not None and eval_every is None:
        eval_every = DEFAULTS.eval_every
    if eval_every is not None:
        check_count("eval_every", eval_every)
    if eval_seconds is not None:
        check_positive("eval_seconds", eval_seconds)
        if eval_fn is None:
            raise ValueError("eval_seconds needs eval_fn")
    if generator is None:
        generator = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,)).item()))
    own_optimizer = optimizer is None
    if optimizer is None:
        optimizer = default_optimizer(params, lr, weight_decay)
    training = Training(
        model, objective, optimizer, generator,
        ema={k: v.detach().clone() for k, v in model.state_dict().items()} if ema_decay is not None else None,
        monitor=monitor, out=Path(out_dir) if out_dir is not None else None, stateful=stateful, steps=steps,
        schedule_steps=schedule_steps, lr_schedule=lr_schedule, clip_grad_norm=clip_grad_norm, ema_decay=ema_decay,
        log_every=log_every, eval_every=eval_every, eval_fn=eval_fn, eval_seconds=eval_seconds,
        checkpoint_every=checkpoint_every)
    start = 0
    if resume and (training.out / "checkpoint" / "latest.json").is_file():
        start, stopped = restore(training, lr=lr, own_optimizer=own_optimizer)
        if stopped:
            training.steps = start  # it stopped for good: resuming changes nothing
    if world()[0] != 0:
        training.out = None  # under a process group only rank 0 writes (metrics, checkpoints); every rank reads
    if training.out is not None:
        _write_metrics(training.out / "metrics.jsonl", training.history)  # drop lines past the checkpoint
    if progress is None:
        progress = sys.stderr.isatty()
    seconds = training.history[-1]["seconds"] if training.history else 0.0
    step, seconds = run(training, batches(data, batch_size, generator), start=start, seconds=seconds,
                        progress=progress and world()[0] == 0)  # one bar under a process group
    result = FitResult(history=training.history, steps=step, seconds=seconds)
    if monitor is not None:
        result.stop_reason, result.overfit_step = monitor.stop_reason or "steps", monitor.overfit_step
    if monitor is not None and monitor.best_weights is not None:
        model.load_state_dict(monitor.best_weights)
        result.best_step, result.best_value = monitor.best_step, monitor.best_value
    elif training.ema is not None:
        model.load_state_dict(training.ema)
    model.eval()
    return result
