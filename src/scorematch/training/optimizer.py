"""The optimizer step of :func:`scorematch.fit`: the default optimizer and one guarded step (no NaN ever reaches the
weights)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from .._infra.checks import check_positive
from .._infra.distributed import average, average_gradients, noise_generator

__all__ = ["default_optimizer", "training_step"]

Objective = Callable[..., Tensor]


def default_optimizer(params: Iterable[Tensor], lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam with learning rate ``lr`` (AdamW, decoupled weight decay, when ``weight_decay`` > 0); its fused
    kernel (one op for all parameters, the same update to round-off) where every parameter is a floating tensor on
    a CPU or CUDA device, the multi-op implementation otherwise."""
    params = list(params)
    fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    if weight_decay > 0:
        return torch.optim.AdamW(params, lr=check_positive("lr", lr), weight_decay=weight_decay, fused=fused or None)
    return torch.optim.Adam(params, lr=check_positive("lr", lr), fused=fused or None)


def training_step(model: nn.Module, objective: Objective, optimizer: torch.optim.Optimizer, *,
                  clip_grad_norm: float | None = None) -> Callable[[Tensor, torch.Generator | None], tuple[Tensor, Tensor]]:
    """The step :func:`fit` takes, as ``step(x, generator) -> (loss, grad_norm)``.

    It evaluates ``objective(model, x, generator=generator).mean()``, back-propagates, clips the global gradient
    norm to ``clip_grad_norm`` (if given) and steps ``optimizer`` — but only when both the loss and the
    gradient norm are finite: otherwise the weights are left untouched and the caller sees the non-finite value
    (``grad_norm`` is NaN when the loss already was). Under a process group the loss and the gradients are
    averaged over the ranks, and each rank draws the objective's noise for its shard from its own generator
    (:func:`scorematch._infra.distributed.noise_generator`; also where ``generator`` is on another device than ``x``).
    """
    params = [p for g in optimizer.param_groups for p in g["params"]]
    limit = math.inf if clip_grad_norm is None else check_positive("clip_grad_norm", clip_grad_norm)

    count = 0

    def step(x: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        nonlocal count
        count += 1  # a rank's own noise for its shard, on the data's device, new at every step
        noise = generator if generator is None else noise_generator(generator, x.device, count)
        local = objective(model, x, generator=noise).mean()
        loss = average(local.detach())  # under a process group: the global batch's loss, the same on every rank
        if not torch.isfinite(loss):
            return loss, torch.full((), math.nan)
        optimizer.zero_grad(set_to_none=True)
        local.backward()
        average_gradients(params)
        grad_norm = torch.nn.utils.clip_grad_norm_(params, limit)
        if torch.isfinite(grad_norm):  # checked before the step: no NaN ever reaches the weights
            optimizer.step()
        return loss, grad_norm

    return step
