r"""``fit``: the training loop for any score-matching objective.

Each step draws a mini-batch, evaluates the per-sample objective, and takes an optimizer step on its mean:

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
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ._checks import check_choice, check_count, check_positive
from .checkpoint import CheckpointError, atomic_write, load_checkpoint, save_checkpoint
from .curvature import check_objective_fits
from .defaults import DEFAULTS
from .distributed import agree, shard, world
from .losses import properties_of
from .monitor import build_monitor, hold_out
from .optimizer import default_optimizer, training_step

__all__ = ["FitResult", "TrainingDiverged", "default_optimizer", "fit", "training_step"]

Objective = Callable[..., Tensor]


class TrainingDiverged(RuntimeError):
    """The objective became NaN or infinite; the message says at which step and what was kept. ``step`` and
    ``seconds`` (training time) say when."""

    def __init__(self, message: str, step: int | None = None, seconds: float | None = None):
        super().__init__(message)
        self.step, self.seconds = step, seconds


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


def _batches(data: Tensor | Iterable, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    if isinstance(data, Tensor):
        if data.ndim < 2 or data.shape[0] < 1:
            raise ValueError(f"data must have shape (n, *event) with n >= 1; got {tuple(data.shape)}")
        while True:
            idx = torch.randint(0, data.shape[0], (batch_size,), generator=generator, device=generator.device)
            yield data[shard(idx).to(data.device)]  # under a process group: this rank's share of the global batch
    while True:  # a DataLoader or any re-iterable of batches: iterate afresh each epoch (reshuffles, no cache)
        for batch in data:
            yield batch[0] if isinstance(batch, (tuple, list)) else batch


def _ema_update(ema: dict[str, Tensor], model: nn.Module, decay: float) -> None:
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if p.dtype.is_floating_point:
                ema[name].lerp_(p, 1 - decay)
            else:
                ema[name].copy_(p)


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
            group, comes from :func:`scorematch.distributed.noise_generator`.
        progress: show a tqdm bar with the running loss; by default only when stderr is a terminal.
        log_every: record ``{"step", "loss", "seconds"}`` in the history every this many steps.
        val_data: held-out points ``(m, *event)``: every ``eval_every`` steps (default 100) the held-out
            Hyvärinen loss (:class:`~scorematch.metrics.HeldOutCriterion`, the Fisher divergence up to a constant)
            and the objective's own held-out loss (fixed noise) are added to the record, the weights with the
            lowest held-out Hyvärinen loss are kept and loaded into ``model`` at the end (:mod:`scorematch.monitor`).
        val_fraction: when ``data`` is a tensor and neither ``val_data`` nor ``criterion`` is given, hold out this
            fraction of its rows (a fixed random subset, the same at every call) as ``val_data``; ``None`` or 0: no
            hold-out, no early stopping (the EMA weights, if any, are kept at the end).
        criterion: instead of ``val_data``, any ``criterion(model) -> {"val_hyvarinen": value, ...}`` to minimise.
        patience: with a criterion, stop after this many steps without a new best (``None``: run all steps).
        overfit_tolerance: the smallest rise of the criterion over its best, while the training loss falls, that
            triggers one :class:`~scorematch.monitor.OverfittingWarning` (the margin is the larger of this and 5% of
            the best value, see :mod:`scorematch.monitor`); by default ``0.01·D`` for ``D`` numbers per sample
            with ``val_data``, 0.01 with a custom ``criterion``.
        eval_fn, eval_every: call ``eval_fn(model)`` every ``eval_every`` steps and add its dict to the record.
        eval_seconds: also call ``eval_fn`` when the training time first passes each multiple of this interval
            (and 0.1, 0.2, 0.4, … s before the first), so that methods of different cost per step are seen at the
            same times. The record's ``seconds`` is training time: evaluations are not counted (checkpoint writes
            are; on a GPU the clock is read without synchronizing, so queued work may land in either).
        out_dir: if given, write ``metrics.jsonl`` and ``checkpoint/`` there (see :mod:`scorematch.checkpoint`).
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
            of an energy with piecewise-linear activations (:func:`scorematch.curvature.check_curvature`).

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
    ema = {k: v.detach().clone() for k, v in model.state_dict().items()} if ema_decay is not None else None
    out = Path(out_dir) if out_dir is not None else None
    result, start = FitResult(), 0
    if resume and out is not None and (out / "checkpoint" / "latest.json").is_file():
        ck = load_checkpoint(out / "checkpoint", device=params[0].device)
        try:
            model.load_state_dict(ck.model)
            optimizer.load_state_dict(ck.optimizer)
        except (RuntimeError, ValueError, KeyError) as e:  # weights of another network, a foreign optimizer state
            raise CheckpointError(f"{out / 'checkpoint'}: does not match the model "
                                  f"({str(e).splitlines()[0][:160]})") from None
        if own_optimizer:  # the lr asked for now wins over the saved one (same value: nothing changes)
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] = lr
        generator.set_state(ck.rng_state)
        if stateful and ck.objective is not None:
            objective.load_state_dict(ck.objective)
        if ema is not None:
            if ck.ema is None:
                raise ValueError(f"{out}: the checkpoint has no EMA weights but ema_decay was given")
            ema = ck.ema
        if monitor is not None and ck.monitor is not None:
            monitor.load_state(ck.monitor, ck.best)
            if monitor.stop_reason == "patience" and monitor.patience is not None \
                    and ck.step - monitor.best_step >= monitor.patience:
                steps = ck.step  # it stopped for good: resuming changes nothing
        start, result.history = ck.step, ck.history
        result.seconds = result.history[-1]["seconds"] if result.history else 0.0
    if world()[0] != 0:
        out = None  # under a process group only rank 0 writes (metrics, checkpoints); every rank reads to resume
    if out is not None:
        _write_metrics(out / "metrics.jsonl", result.history)  # drop lines past the checkpoint after a kill
    if progress is None:
        progress = sys.stderr.isatty()
    progress = progress and world()[0] == 0  # one bar under a process group

    def checkpoint(step: int) -> None:
        if out is not None:
            save_checkpoint(out / "checkpoint", step=step, model=model.state_dict(), optimizer=optimizer.state_dict(),
                            rng_state=generator.get_state(), history=result.history, ema=ema,
                            best=monitor.best_weights if monitor is not None else None,
                            monitor=monitor.state() if monitor is not None else None,
                            objective=objective.state_dict() if stateful else None)

    from tqdm.auto import tqdm

    batches = _batches(data, batch_size, generator)
    take_step = training_step(model, objective, optimizer, clip_grad_norm=clip_grad_norm)
    base_lrs = [group.setdefault("initial_lr", group["lr"]) for group in optimizer.param_groups]
    model.train()
    t0, seconds0 = time.perf_counter(), result.seconds
    paused = 0.0  # seconds spent evaluating since t0, left out of the training time

    def clock() -> float:
        return seconds0 + time.perf_counter() - t0 - paused

    mark = _next_mark(eval_seconds, seconds0)
    step = start
    with tqdm(total=steps, initial=start, disable=not progress, desc="training", dynamic_ncols=True) as bar:
        for step in range(start + 1, steps + 1):
            if lr_schedule == "cosine":
                factor = 0.5 * (1 + math.cos(math.pi * (step - 1) / (schedule_steps or steps)))
                for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
                    group["lr"] = base * factor
            loss, grad_norm = take_step(next(batches), generator)
            if not torch.isfinite(loss):
                raise TrainingDiverged(_diverged(f"the objective became {loss.item()}", step, out), step, clock())
            if not torch.isfinite(grad_norm):
                raise TrainingDiverged(_diverged(f"the gradient norm became {grad_norm.item()}", step, out), step,
                                       clock())
            if ema is not None:
                _ema_update(ema, model, min(ema_decay, step / (step + 10)))
            bar.update(1)
            evaluate = eval_every is not None and (step % eval_every == 0 or step == steps)
            now = clock()
            timed = mark is not None and agree({"due": float(now >= mark)})["due"] > 0  # rank 0's clock decides
            if timed:
                mark = _next_mark(eval_seconds, now)
            stop = False
            if step % log_every == 0 or step == steps or evaluate or timed:
                record = {"step": step, "loss": loss.item(), "seconds": now}
                t_eval = time.perf_counter()
                if (evaluate or timed) and eval_fn is not None:
                    record.update(_evaluate(model, ema, eval_fn))
                if evaluate and monitor is not None:
                    record.update(_evaluate(model, ema, monitor.criterion))
                paused += time.perf_counter() - t_eval
                result.history.append(record)
                if evaluate and monitor is not None:
                    stop = monitor.update(step, record, result.history, ema if ema is not None else model.state_dict())
                bar.set_postfix(loss=f"{record['loss']:.4g}")
                if out is not None:
                    with open(out / "metrics.jsonl", "a") as f:
                        f.write(json.dumps(record) + "\n")
            if step % checkpoint_every == 0 or step == steps or stop:
                checkpoint(step)
            if stop:
                break
    result.steps = step
    result.seconds = clock()
    if monitor is not None:
        result.stop_reason, result.overfit_step = monitor.stop_reason or "steps", monitor.overfit_step
    if monitor is not None and monitor.best_weights is not None:
        model.load_state_dict(monitor.best_weights)
        result.best_step, result.best_value = monitor.best_step, monitor.best_value
    elif ema is not None:
        model.load_state_dict(ema)
    model.eval()
    return result


def _next_mark(interval: float | None, now: float) -> float | None:
    """The next training time after ``now`` at which ``eval_seconds`` evaluates: 0.1·2ᵏ s below ``interval``,
    then every ``interval`` s."""
    if interval is None:
        return None
    if now < interval:
        mark = 0.1
        while mark <= now:
            mark *= 2
        if mark < interval:
            return mark
    return interval * (math.floor(now / interval) + 1)


def _diverged(what: str, step: int, out: Path | None) -> str:
    from .checkpoint import latest_step

    last = latest_step(out / "checkpoint") if out is not None else None
    kept = (f"; the last good checkpoint (step {last}) is intact" if last is not None
            else "; no checkpoint had been written yet")
    return (f"{what} at step {step}: training stopped{kept}; try a smaller learning rate, gradient clipping, "
            "or a larger noise level")


def _evaluate(model: nn.Module, ema: dict[str, Tensor] | None, eval_fn: Callable[[nn.Module], dict[str, Any]]
              ) -> dict[str, float]:
    """Evaluate with the EMA weights when there are any, then put the raw weights back."""
    raw = {k: v.detach().clone() for k, v in model.state_dict().items()} if ema is not None else None
    if ema is not None:
        model.load_state_dict(ema)
    try:
        model.eval()
        values = {k: float(v.detach() if isinstance(v, Tensor) else v) for k, v in eval_fn(model).items()}
    finally:
        if raw is not None:
            model.load_state_dict(raw)
        model.train()
    if any(not math.isfinite(v) for v in values.values()):
        values = {k: (v if math.isfinite(v) else float("nan")) for k, v in values.items()}
    return agree(values)  # under a process group every rank keeps and stops alike
