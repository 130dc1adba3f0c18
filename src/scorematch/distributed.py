r"""Data-parallel training under a ``torch.distributed`` process group (``torchrun``; gloo on CPUs, nccl on GPUs).

:func:`scorematch.fit` uses these when a process group is initialised: every rank draws the same global batch of
``batch_size`` indices (the generators agree, being seeded alike), trains on its contiguous shard of
``batch_size / world_size`` points, and the gradients are averaged over the ranks with one all-reduce, so that

.. math::

    \nabla \frac{1}{B}\sum_{i=1}^{B} \ell_i = \frac{1}{W}\sum_{r=1}^{W} \nabla \frac{1}{B/W}\sum_{i \in r} \ell_i ,

the single-process step on the global batch, up to round-off. The reported loss is averaged the same way, so every
rank takes the same decisions (a non-finite loss stops all of them). The averaging is done on the gradients
directly rather than by wrapping the model in ``DistributedDataParallel``, whose hooks do not support the
second-order gradients of explicit and sliced score matching.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

__all__ = ["average", "average_gradients", "shard", "world"]


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised process group, ``(0, 1)`` without one."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def shard(batch: Tensor) -> Tensor:
    """This rank's contiguous share of a global ``batch`` (all of it in one process)."""
    rank, size = world()
    if size == 1:
        return batch
    if batch.shape[0] % size:
        raise ValueError(f"the batch of {batch.shape[0]} does not split over {size} processes: choose a batch size "
                         f"divisible by {size}")
    return batch.chunk(size)[rank]


def average(value: Tensor) -> Tensor:
    """The mean of ``value`` over the ranks (``value`` itself in one process)."""
    size = world()[1]
    if size == 1:
        return value
    out = value.detach().clone()
    torch.distributed.all_reduce(out)
    return out / size


def average_gradients(params: Iterable[Tensor]) -> None:
    """Replace every gradient by its mean over the ranks, in one all-reduce of the flattened gradients."""
    size = world()[1]
    if size == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    torch.distributed.all_reduce(flat)
    flat /= size
    for g, part in zip(grads, flat.split([g.numel() for g in grads]), strict=True):
        g.copy_(part.view_as(g))
