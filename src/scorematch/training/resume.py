"""Stopping and resuming a training: what a checkpoint holds (weights, optimizer, EMA, the generator's state,
history, the monitor's best weights and state, a stateful objective's state), reading it back so that a resumed run
continues bit for bit, and what a diverged run says about the last good one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._infra.checkpoint import CheckpointError, latest_step, load_checkpoint, save_checkpoint

__all__ = ["diverged_message", "restore", "save"]


def save(training: Any, step: int) -> None:
    """Write ``training``'s checkpoint at ``step`` into ``training.out / "checkpoint"`` (nothing without a folder)."""
    t = training
    if t.out is None:
        return
    save_checkpoint(t.out / "checkpoint", step=step, model=t.model.state_dict(), optimizer=t.optimizer.state_dict(),
                    rng_state=t.generator.get_state(), history=t.history, ema=t.ema,
                    best=t.monitor.best_weights if t.monitor is not None else None,
                    monitor=t.monitor.state() if t.monitor is not None else None,
                    objective=t.objective.state_dict() if t.stateful else None)


def restore(training: Any, *, lr: float, own_optimizer: bool) -> tuple[int, bool]:
    """Load the latest checkpoint of ``training.out`` into ``training`` (the model, optimizer, generator, objective,
    EMA, monitor and history); with the default optimizer (``own_optimizer``) ``lr`` replaces the saved learning
    rate. Returns the step it was written at and whether the run had stopped for good (patience ran out): resuming
    it changes nothing."""
    t = training
    device = next(p for p in t.model.parameters() if p.requires_grad).device
    ck = load_checkpoint(t.out / "checkpoint", device=device)
    try:
        t.model.load_state_dict(ck.model)
        t.optimizer.load_state_dict(ck.optimizer)
    except (RuntimeError, ValueError, KeyError) as e:  # weights of another network, a foreign optimizer state
        raise CheckpointError(f"{t.out / 'checkpoint'}: does not match the model "
                              f"({str(e).splitlines()[0][:160]})") from None
    if own_optimizer:  # the lr asked for now wins over the saved one (same value: nothing changes)
        for group in t.optimizer.param_groups:
            group["lr"] = group["initial_lr"] = lr
    t.generator.set_state(ck.rng_state)
    if t.stateful and ck.objective is not None:
        t.objective.load_state_dict(ck.objective)
    if t.ema is not None:
        if ck.ema is None:
            raise ValueError(f"{t.out}: the checkpoint has no EMA weights but ema_decay was given")
        t.ema = ck.ema
    stopped = False
    if t.monitor is not None and ck.monitor is not None:
        t.monitor.load_state(ck.monitor, ck.best)
        m = t.monitor
        stopped = m.stop_reason == "patience" and m.patience is not None and ck.step - m.best_step >= m.patience
    t.history[:] = ck.history
    return ck.step, stopped


def diverged_message(what: str, step: int, out: Path | None) -> str:
    """Why training stopped at ``step`` and what was kept: the last good checkpoint, if any was written."""
    last = latest_step(out / "checkpoint") if out is not None else None
    kept = (f"; the last good checkpoint (step {last}) is intact" if last is not None
            else "; no checkpoint had been written yet")
    return (f"{what} at step {step}: training stopped{kept}; try a smaller learning rate, gradient clipping, "
            "or a larger noise level")
