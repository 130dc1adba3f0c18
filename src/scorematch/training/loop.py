r"""The training loop: each step draws a mini-batch, evaluates the per-sample objective and takes an optimizer step
on its mean,

.. math::

    \theta \leftarrow \mathrm{opt}\Big(\theta,\ \nabla_\theta \tfrac1B \textstyle\sum_{b} \ell(\theta; x_b)\Big),

with the learning-rate schedule, the EMA of the weights :math:`\bar\theta \leftarrow d\,\bar\theta + (1-d)\,\theta`,
the records, the evaluations and the checkpoints on their steps. :func:`~scorematch.training.fit` assembles a
:class:`Training` and calls :func:`run`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .._infra.distributed import agree, shard
from .evaluation import evaluate, next_mark
from .optimizer import training_step
from .resume import diverged_message, save

__all__ = ["Training", "TrainingDiverged", "batches", "run"]


class TrainingDiverged(RuntimeError):
    """The objective became NaN or infinite; the message says at which step and what was kept. ``step`` and
    ``seconds`` (training time) say when."""

    def __init__(self, message: str, step: int | None = None, seconds: float | None = None):
        super().__init__(message)
        self.step, self.seconds = step, seconds


@dataclass
class Training:
    """One call of :func:`~scorematch.training.fit`: what it trains and with what (``model``, ``objective``,
    ``optimizer``, ``generator``, the ``ema`` weights, the held-out ``monitor``), where it writes (``out``, ``None``:
    nowhere), the records so far (``history``) and the settings of its loop (those of ``fit``)."""

    model: nn.Module
    objective: Callable[..., Tensor]
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    ema: dict[str, Tensor] | None
    monitor: Any
    out: Path | None
    stateful: bool
    steps: int
    schedule_steps: int | None
    lr_schedule: str
    clip_grad_norm: float | None
    ema_decay: float | None
    log_every: int
    eval_every: int | None
    eval_fn: Callable[[nn.Module], dict[str, float]] | None
    eval_seconds: float | None
    checkpoint_every: int
    history: list[dict[str, float]] = field(default_factory=list)


def batches(data: Tensor | Iterable, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    """Mini-batches without end: from a tensor, ``batch_size`` rows drawn with replacement by ``generator`` (under a
    process group, this rank's share of the global batch); from a re-iterable (a ``DataLoader``), its batches epoch
    after epoch (``(x, ...)`` gives ``x``)."""
    if isinstance(data, Tensor):
        if data.ndim < 2 or data.shape[0] < 1:
            raise ValueError(f"data must have shape (n, *event) with n >= 1; got {tuple(data.shape)}")
        while True:
            idx = torch.randint(0, data.shape[0], (batch_size,), generator=generator, device=generator.device)
            yield data[shard(idx).to(data.device)]
    while True:  # iterate afresh each epoch (reshuffles, no cache)
        for batch in data:
            yield batch[0] if isinstance(batch, (tuple, list)) else batch


def _ema_update(ema: dict[str, Tensor], model: nn.Module, decay: float) -> None:
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if p.dtype.is_floating_point:
                ema[name].lerp_(p, 1 - decay)
            else:
                ema[name].copy_(p)


def run(t: Training, data: Iterator[Tensor], *, start: int, seconds: float, progress: bool) -> tuple[int, float]:
    """Steps ``start + 1 … t.steps`` (fewer if the monitor stops them) on the batches ``data``; returns the last step
    and the training time, evaluations left out (``seconds``: the time already trained)."""
    from tqdm.auto import tqdm

    model, optimizer, generator, monitor, ema = t.model, t.optimizer, t.generator, t.monitor, t.ema
    take_step = training_step(model, t.objective, optimizer, clip_grad_norm=t.clip_grad_norm)
    base_lrs = [group.setdefault("initial_lr", group["lr"]) for group in optimizer.param_groups]
    model.train()
    t0, seconds0 = time.perf_counter(), seconds
    paused = 0.0  # seconds spent evaluating since t0, left out of the training time

    def clock() -> float:
        return seconds0 + time.perf_counter() - t0 - paused

    mark = next_mark(t.eval_seconds, seconds0)
    step, steps = start, t.steps
    with tqdm(total=steps, initial=start, disable=not progress, desc="training", dynamic_ncols=True) as bar:
        for step in range(start + 1, steps + 1):
            if t.lr_schedule == "cosine":
                factor = 0.5 * (1 + math.cos(math.pi * (step - 1) / (t.schedule_steps or steps)))
                for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
                    group["lr"] = base * factor
            loss, grad_norm = take_step(next(data), generator)
            if not torch.isfinite(loss):
                raise TrainingDiverged(diverged_message(f"the objective became {loss.item()}", step, t.out), step,
                                       clock())
            if not torch.isfinite(grad_norm):
                raise TrainingDiverged(diverged_message(f"the gradient norm became {grad_norm.item()}", step, t.out),
                                       step, clock())
            if ema is not None:
                _ema_update(ema, model, min(t.ema_decay, step / (step + 10)))
            bar.update(1)
            evaluating = t.eval_every is not None and (step % t.eval_every == 0 or step == steps)
            now = clock()
            timed = mark is not None and agree({"due": float(now >= mark)})["due"] > 0  # rank 0's clock decides
            if timed:
                mark = next_mark(t.eval_seconds, now)
            stop = False
            if step % t.log_every == 0 or step == steps or evaluating or timed:
                record = {"step": step, "loss": loss.item(), "seconds": now}
                t_eval = time.perf_counter()
                if (evaluating or timed) and t.eval_fn is not None:
                    record.update(evaluate(model, ema, t.eval_fn))
                if evaluating and monitor is not None:
                    record.update(evaluate(model, ema, monitor.criterion))
                paused += time.perf_counter() - t_eval
                t.history.append(record)
                if evaluating and monitor is not None:
                    stop = monitor.update(step, record, t.history, ema if ema is not None else model.state_dict())
                bar.set_postfix(loss=f"{record['loss']:.4g}")
                if t.out is not None:
                    with open(t.out / "metrics.jsonl", "a") as f:
                        f.write(json.dumps(record) + "\n")
            if step % t.checkpoint_every == 0 or step == steps or stop:
                save(t, step)
            if stop:
                break
    return step, clock()
