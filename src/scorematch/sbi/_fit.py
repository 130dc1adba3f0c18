"""The training loop the inference networks share: Adam on random minibatches of the training simulations, an
optional exponential average of the weights, and early stopping on a held-out loss."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn


def fit_early_stopped(net: nn.Module, train_loss: Callable[[nn.Module, Tensor], Tensor],
                      held_loss: Callable[[nn.Module], float], train_rows: Tensor, *, steps: int, batch_size: int,
                      lr: float, eval_every: int, patience: int | None, generator: torch.Generator,
                      progress: Callable[[int, float], None] | None = None,
                      ema: float | None = None, cosine: bool = False) -> tuple[int, list[tuple[int, float, float]]]:
    """Minimise ``train_loss(net, rows)`` over minibatches of ``train_rows``; every ``eval_every`` steps judge the
    weights (their exponential average of decay ``min(ema, (1 + k)/(10 + k))`` at step k when ``ema`` is given, so
    early steps are not averaged with the initial weights) by ``held_loss``, keep the best, and stop ``patience``
    steps after it; with ``cosine`` the rate follows a cosine from ``lr`` to ``lr/100`` over ``steps``. The best
    weights end in ``net``; returns their step and rows ``(step, train loss, held-out loss)``."""
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 100) if cosine else None
    judged = copy.deepcopy(net).requires_grad_(False) if ema else net
    best, best_state, best_step, history, since = math.inf, copy.deepcopy(judged.state_dict()), 0, [], 0
    for step in range(1, steps + 1):
        idx = train_rows[torch.randint(0, len(train_rows), (min(batch_size, len(train_rows)),), generator=generator)]
        loss = train_loss(net, idx)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()
        if sched is not None:
            sched.step()
        if ema:
            with torch.no_grad():
                decay = min(ema, (1 + step) / (10 + step))
                for a, w in zip(judged.parameters(), net.parameters(), strict=True):
                    a.lerp_(w, 1 - decay)
        if step % eval_every == 0 or step == steps:
            held = held_loss(judged)
            history.append((step, float(loss.detach()), held))
            if progress is not None:
                progress(step, held)
            if held < best:
                best, best_state, best_step, since = held, copy.deepcopy(judged.state_dict()), step, 0
            else:
                since += eval_every
                if patience is not None and since >= patience:
                    break
    net.load_state_dict(best_state)
    return best_step, history
