r"""Train an energy network with a peer library's *own* trainer, as that library ships it.

``bench/peers.py`` adapts the peers' loss objects (driven by a plain loop); this module instead hands the whole
run to the trainer class each peer provides, with that trainer's defaults, so that a benchmark can time and score
what a user of the peer gets from its training API. Peers are imported lazily (this module imports without them),
through ``peers._import`` so that importing a peer cannot change torch's float32 matmul precision.

One public function, :func:`train_peer`. The loss objects are built exactly as in ``bench/peers.py`` (same
classes and arguments per objective, see its table), so the objectives are the ones ``bench/check_peers.py``
verifies; only the loop around them is the peer's.

Peers and the trainer used (both installed as pinned in ``bench/requirements.txt``):

* **torchebm 0.8.9**: ``torchebm.core.base_trainer.BaseTrainer(model, optimizer, loss_fn, device, dtype)`` and
  ``trainer.train(dataloader, num_epochs)``, the library's generic EBM trainer (``train`` → ``train_epoch`` →
  ``train_step``). It is not re-exported from ``torchebm.core`` (its ``Trainer`` export is commented out) and the
  README's score-matching examples write the loop by hand; it is nevertheless the training loop torchebm itself
  ships (``ContrastiveDivergenceTrainer`` subclasses it), so it is used here rather than the plain-loop fallback.
  Its defaults: no default optimizer (one must be passed: ``torch.optim.Adam(params, lr)`` here, torch's defaults
  betas=(0.9, 0.999), eps=1e-8, weight_decay=0, the same optimizer its ``ContrastiveDivergenceTrainer`` builds);
  no gradient clipping (no option for it); no EMA (``torchebm.utils.update_ema`` exists but the trainer does not
  call it); no LR schedule; ``grad_accum_steps=1``; ``use_mixed_precision=False``;
  ``zero_grad(set_to_none=True)``; ``model.train()`` at each epoch start; one ``.item()`` host sync per epoch
  (per-step losses stay on the device). The losses keep their own defaults: ``regularization_strength=0.0`` and
  no ``custom_regularization`` (no score-norm regulariser). Importing ``torchebm.core.base_trainer`` sets
  ``torch.set_float32_matmul_precision("high")``; the import here restores the previous value.

  *Epochs*: the trainer iterates a ``DataLoader`` for ``num_epochs`` passes. To get exactly ``steps`` optimizer
  steps of ``batch_size`` samples for any ``n``, the run is **one** trainer epoch over a
  ``DataLoader(TensorDataset(data), batch_size, sampler=RandomSampler(data, num_samples=steps * batch_size))``:
  ``RandomSampler`` without replacement yields consecutive random permutations of the ``n`` points (the last one
  cut), i.e. shuffled passes over the data as with ``shuffle=True``, but batches may straddle a pass boundary and
  the last pass may be partial. The ``DataLoader`` collates each batch from single-sample ``TensorDataset``
  indexing (``num_workers=0``); that cost is part of the timed run, as it is of the peer's intended use (about
  0.5 ms a step at batch 256, d = 2, one CPU thread: ~1.7 ms against ~1.1 ms for the plain loop of
  ``peers.training_step`` on DSM).

* **ebmkit 0.16.0**: ``ebm.Trainer(ebm.EnergyModel(net), loss_fn, lr=lr, device=...)`` and
  ``trainer.fit(data, steps=steps, batch_size=batch_size, verbose=False)``, the trainer its README shows.
  It counts optimizer steps, so ``steps`` is passed through. Its defaults: ``Adam(lr)`` over the energy's (and
  the loss's, none here) parameters with torch's defaults (betas=(0.9, 0.999), eps=1e-8, weight_decay=0);
  ``grad_clip_norm=None`` (no clipping); ``ema_decay=None`` (no EMA); no LR schedule; no regulariser.
  Batches are drawn i.i.d. **with replacement** (``data[torch.randint(n, (batch_size,))]``, global RNG), not
  in epochs. Each step appends ``{"step", **metrics}`` to ``trainer.history`` (the loss already calls
  ``loss.item()``: a host sync per step). ``fit`` calls ``energy.train()`` first and leaves the energy in
  ``eval()`` mode; see below.

Common to both: the trainer is given the device and dtype of ``net``'s parameters (left alone, both peers would
pick CUDA when available, and torchebm would cast the model to float32); torch's global RNG is seeded with
``seed`` (both peers draw batches and noise / probes from it: torchebm's trainer passes no ``generator``).
``net``'s training/eval flag is restored after the run (ebmkit leaves it in eval mode, torchebm in train mode);
nothing else of the peers' behaviour is changed. The peers' progress output is silenced: ebmkit's prints via
``verbose=False``, torchebm's per-epoch ``logger.info`` by raising the ``torchebm`` logger to WARNING for the
duration of the call. Warnings are left alone.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator
from typing import Any

import peers
import torch
from torch import Tensor, nn

__all__ = ["TRAINERS", "train_peer"]

# Short description of the API each peer's run goes through (the "trainer" entry of train_peer's result).
TRAINERS = {
    "torchebm": "torchebm.core.base_trainer.BaseTrainer(model, Adam, loss).train(DataLoader, num_epochs=1)",
    "ebmkit": "ebm.Trainer(EnergyModel(net), loss, lr).fit(data, steps, batch_size, verbose=False)",
}


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(max(logging.WARNING, level))
    try:
        yield
    finally:
        logger.setLevel(level)


def _torchebm_base_trainer() -> type:
    """``torchebm.core.base_trainer.BaseTrainer``, imported without letting it change the matmul precision."""
    peers._import("torchebm")
    precision = torch.get_float32_matmul_precision()
    try:
        from torchebm.core.base_trainer import BaseTrainer
    finally:
        torch.set_float32_matmul_precision(precision)
    return BaseTrainer


def _adam_steps(optimizer: torch.optim.Optimizer) -> int:
    """Optimizer steps taken, read from Adam's per-parameter step counter."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p)
            if state and "step" in state:
                return int(state["step"])
    return 0


def _train_torchebm(objective: str, net: nn.Module, data: Tensor, steps: int, batch_size: int, lr: float,
                    sigma: float, device: torch.device, dtype: torch.dtype) -> dict[str, Any] | None:
    from torch.utils.data import DataLoader, RandomSampler, TensorDataset

    base_trainer = _torchebm_base_trainer()
    model = peers._torchebm_model(net)
    loss = peers._torchebm_loss(objective, model, sigma)
    if loss is None:
        return None
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    trainer = base_trainer(model=model, optimizer=optimizer, loss_fn=loss, device=device, dtype=dtype)
    dataset = TensorDataset(data)
    loader = DataLoader(dataset, batch_size=batch_size,
                        sampler=RandomSampler(dataset, replacement=False, num_samples=steps * batch_size))
    assert len(loader) == steps
    with _quiet_logger("torchebm"):
        start = time.perf_counter()
        history = trainer.train(loader, num_epochs=1)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "steps": _adam_steps(optimizer), "mean_loss": float(history["loss"][-1])}


def _train_ebmkit(objective: str, net: nn.Module, data: Tensor, steps: int, batch_size: int, lr: float,
                  sigma: float, device: torch.device) -> dict[str, Any] | None:
    peers._import("ebmkit")
    import ebm

    loss = peers._ebmkit_loss(objective, sigma)
    if loss is None:
        return None
    trainer = ebm.Trainer(ebm.EnergyModel(net), loss, lr=lr, device=device)
    start = time.perf_counter()
    history = trainer.fit(data, steps=steps, batch_size=batch_size, verbose=False)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    losses = [h["loss"] for h in history]
    return {"seconds": seconds, "steps": trainer.step_count,
            "mean_loss": math.fsum(losses) / len(losses) if losses else math.nan}


def train_peer(peer: str, objective: str, net: nn.Module, data: Tensor, *, steps: int, batch_size: int, lr: float,
               sigma: float = 0.1, seed: int = 0) -> dict[str, Any] | None:
    r"""Train the energy ``net`` (``(B, d) -> (B,)`` or ``(B, 1)``, :math:`p \propto e^{-E}`) in place on ``data``
    (``(n, d)``) with ``peer``'s own trainer and its ``objective``, for exactly ``steps`` Adam(``lr``) steps of
    ``batch_size`` samples, everything else at the peer trainer's defaults (see the module docstring: no
    clipping, no EMA, no weight decay, no regulariser for both peers; ebmkit draws batches with replacement,
    torchebm in shuffled passes run as a single trainer epoch).

    ``objective`` is a name from ``peers.OBJECTIVES`` with the loss configuration of ``bench/peers.py``
    (``sigma`` is the DSM noise level). Torch's global RNG is seeded with ``seed`` first (both peers draw their
    batches and noise from it). Returns ``None`` where the peer lacks the objective (torchebm: ``ssm-vr``,
    ``ncsn``; ebmkit: ``fd-ssm``, ``ncsn``); ``("torchebm", "fd-ssm")`` runs a different objective, see
    ``peers.MISMATCHED``. Raises ``ValueError`` for an unknown peer or objective or bad sizes, ``ImportError``
    if the peer is not installed.

    Otherwise returns ``{"seconds": wall time of the trainer's train/fit call, "steps": optimizer steps taken,
    "trainer": the API used, "peer", "objective", "mean_loss": mean training loss over the run}``.
    """
    peers._check_objective(objective)
    if peer not in peers.PEER_VERSIONS:
        raise ValueError(f"unknown peer {peer!r}; choose from {sorted(peers.PEER_VERSIONS)}")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"need steps >= 1 and batch_size >= 1, got steps={steps}, batch_size={batch_size}")
    if data.dim() != 2 or data.shape[0] < 1:
        raise ValueError(f"data must be a non-empty (n, d) tensor, got shape {tuple(data.shape)}")
    param = next(net.parameters())
    device, dtype = param.device, param.dtype
    was_training = net.training

    torch.manual_seed(seed)
    try:
        if peer == "torchebm":
            out = _train_torchebm(objective, net, data, steps, batch_size, lr, sigma, device, dtype)
        else:
            out = _train_ebmkit(objective, net, data, steps, batch_size, lr, sigma, device)
    finally:
        net.train(was_training)
    if out is None:
        return None
    return {"peer": peer, "objective": objective, "trainer": TRAINERS[peer], **out}
