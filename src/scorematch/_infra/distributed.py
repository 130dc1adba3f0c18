r"""Data-parallel training under a ``torch.distributed`` process group (``torchrun``; gloo on CPUs, nccl on GPUs).

:func:`scorematch.fit` uses these when a process group is initialised: every rank draws the same global batch of
``batch_size`` indices (the generators agree, being seeded alike), trains on its contiguous shard of
``batch_size / world_size`` points, and the gradients are averaged over the ranks with one all-reduce, so that

.. math::

    \nabla \frac{1}{B}\sum_{i=1}^{B} \ell_i = \frac{1}{W}\sum_{r=1}^{W} \nabla \frac{1}{B/W}\sum_{i \in r} \ell_i ,

the single-process step on the global batch, up to round-off. The reported loss is averaged the same way, so every
rank takes the same decisions (a non-finite loss stops all of them). The noise of a stochastic objective (denoising,
sliced) is each rank's own (:func:`noise_generator`), drawn without advancing the shared generator, so the shared
stream, and hence a deterministic objective's result, is the same for any number of processes (a run resumes on
another). The averaging is done on the gradients directly rather than by wrapping the model in
``DistributedDataParallel``, whose hooks do not support the second-order gradients of explicit and sliced score
matching (double backward through DDP is not supported: pytorch/pytorch#47562, #63812). Rank 0's held-out values
are every rank's (:func:`agree`), and :func:`gather` joins sharded samples.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

__all__ = [
    "agree",
    "average",
    "average_gradients",
    "gather",
    "noise_generator",
    "portion",
    "shard",
    "start_from_environment",
    "stop",
    "world",
]


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


def start_from_environment(device: str | torch.device | None = None, *, join: bool = True) -> torch.device:
    """Join the process group a launcher describes (``torchrun``, ``srun`` with ``torch.distributed.run``, …: the
    variables ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``), with nccl when ``device``
    is a CUDA device and gloo otherwise; returns this process's device (``cuda:LOCAL_RANK`` for ``cuda``). Without
    those variables (or with ``WORLD_SIZE=1``, or ``join`` false) nothing is started and ``device`` (default CPU)
    is returned, checked: a CUDA device that torch cannot see is a ``ValueError``."""
    import os

    dev = torch.device(device or "cpu")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: this machine has no CUDA device available to torch")
    size = int(os.environ.get("WORLD_SIZE", "1") or 1) if join else 1
    if size > 1 and dev.type == "cuda":
        if dev.index is not None:
            raise ValueError(f"--device {dev}: under torchrun give --device cuda; each process takes the GPU of its "
                             "LOCAL_RANK")
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0") or 0))
    if dev.type == "cuda" and dev.index is not None:
        if dev.index >= torch.cuda.device_count():
            raise ValueError(f"--device {dev}: there are {torch.cuda.device_count()} CUDA devices")
        torch.cuda.set_device(dev)
    if size > 1 and not torch.distributed.is_initialized():
        if not torch.distributed.is_available():
            raise ValueError("WORLD_SIZE > 1 but this build of torch has no torch.distributed")
        torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return dev


def stop(ok: bool = True) -> None:
    """Leave the process group :func:`start_from_environment` joined (nothing without one). ``ok``: this process
    succeeded, so it waits for the others first; a failed one leaves at once, so that its exit ends the job (the
    launcher stops the other processes) rather than waiting for peers that wait for it."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    try:
        if ok:
            torch.distributed.barrier()  # no rank leaves while another still talks to it
    finally:
        try:
            torch.distributed.destroy_process_group()
        except Exception:
            if ok:
                raise


def portion(n: int) -> slice:
    """This rank's contiguous slice of ``n`` items: ``n // W`` of them, one more on the first ``n mod W`` ranks."""
    rank, size = world()
    start = rank * (n // size) + min(rank, n % size)
    return slice(start, start + n // size + (rank < n % size))


def noise_generator(generator: torch.Generator, device: torch.device | str, count: int = 0) -> torch.Generator:
    """The generator an objective draws its noise from on ``device`` for one step: ``generator`` itself in one
    process when it lives on ``device``; otherwise one derived from ``generator``'s state, this rank and ``count``
    (the step) without advancing ``generator``. Ranks that share a generator, as they share the batch indices, so
    draw independent noise for their shards; the shared stream (a CPU generator in :func:`scorematch.fit`) goes on
    the same for any number of processes and any device, so a run resumes on another of either."""
    rank, size = world()
    device = torch.device(device)
    if size == 1 and generator.device.type == device.type and (device.index is None
                                                                or generator.device.index in (None, device.index)):
        return generator
    import hashlib

    key = generator.get_state().numpy().tobytes() + rank.to_bytes(4, "little") + count.to_bytes(8, "little")
    seed = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") >> 1
    return torch.Generator(device).manual_seed(seed)


def gather(x: Tensor) -> Tensor:
    """Every rank's ``x`` (the first axis may differ between ranks) concatenated in rank order, on every rank."""
    size = world()[1]
    if size == 1:
        return x
    n = torch.tensor([x.shape[0]], device=x.device)
    counts = [torch.zeros_like(n) for _ in range(size)]
    torch.distributed.all_gather(counts, n)
    sizes = [int(c) for c in counts]
    padded = torch.zeros((max(sizes), *x.shape[1:]), dtype=x.dtype, device=x.device)
    padded[: x.shape[0]] = x
    parts = [torch.empty_like(padded) for _ in range(size)]
    torch.distributed.all_gather(parts, padded.contiguous())
    return torch.cat([p[:k] for p, k in zip(parts, sizes, strict=True)])


def agree(values: dict[str, float]) -> dict[str, float]:
    """Rank 0's ``values`` on every rank (``values`` itself in one process): held-out evaluations, from which every
    rank decides alike on the best weights and on stopping, even where round-off differs between devices."""
    size = world()[1]
    if size == 1 or not values:
        return values
    nccl = torch.distributed.get_backend() == "nccl"
    device = torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")
    numbers = torch.tensor(list(values.values()), dtype=torch.float64, device=device)
    torch.distributed.broadcast(numbers, 0)
    return dict(zip(values, numbers.tolist(), strict=True))
