r"""Parallel tempering (replica exchange; Swendsen & Wang 1986, Geyer 1991) along the tempering path.

Each of ``B`` chains carries ``K`` replicas at inverse temperatures :math:`0 \le \beta_1 < \dots < \beta_K = 1` of
:math:`\pi_\beta \propto \pi_0^{1-\beta}e^{-\beta E}` (:mod:`~scorematch.samplers.tempered`, :math:`E_\beta = E_0 +
\beta U`). One step moves every replica by one MALA step at its own step size, then proposes to swap the positions
of neighbouring replicas :math:`k, k+1` — the even pairs on even steps, the odd pairs on odd steps (the
deterministic even–odd scheme of Okabe et al. 2001; Syed et al. 2022) — accepted with probability

.. math::

    \min\Big(1,\ \exp\big((\beta_{k+1} - \beta_k)\,(U(x_{k+1}) - U(x_k))\big)\Big),

which leaves the product :math:`\prod_k \pi_{\beta_k}` invariant. The hot replicas cross between modes and hand
their positions down; the :math:`\beta = 1` replica is a chain on :math:`e^{-E}/Z` that carries the mode weights.
The state's ``x`` is that replica, so the drivers (:func:`~scorematch.samplers.sample`, …) run this kernel like any
other. Step sizes: one per temperature, set by :func:`adapt_tempering` during warm-up. A state keeps the *model's*
energy and score at each replica, so a swap costs no evaluation and each step one per replica.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .._infra.checks import check_count
from .._infra.shapes import per_sample_view, sum_event
from .metropolis import metropolis_select
from .state import Info, Kernel, State, evaluate
from .tempered import Base

__all__ = ["TemperingState", "adapt_tempering", "default_betas", "parallel_tempering", "tempering_init",
           "tempering_step"]


class TemperingState(NamedTuple):
    """Replicas ``(K·B, *event)``, temperature-major, as a :class:`~scorematch.samplers.state.State` holding the
    *model's* energy and score there (the tempered ones follow from β and the base); the step count; per
    neighbouring pair the swaps tried and accepted; and the last move's acceptance probability per replica.
    ``x`` is the β = 1 replica ``(B, *event)``."""

    replicas: State
    steps: int
    swaps_tried: Tensor
    swaps_accepted: Tensor
    accept_prob: Tensor
    k: int

    @property
    def x(self) -> Tensor:
        return self.replicas.x.view(self.k, -1, *self.replicas.x.shape[1:])[-1]

    @property
    def swap_rate(self) -> Tensor:
        """Accepted / tried swaps per neighbouring pair, ``(K - 1,)``."""
        return self.swaps_accepted / self.swaps_tried.clamp(min=1)


def default_betas(n_temperatures: int = 12, beta_min: float = 1e-3) -> Tensor:
    """``n_temperatures`` inverse temperatures: 0, then geometric from ``beta_min`` to 1.

    >>> default_betas(4, 0.01)
    tensor([0.0000, 0.0100, 0.1000, 1.0000], dtype=torch.float64)
    """
    check_count("n_temperatures", n_temperatures)
    if n_temperatures < 2:
        raise ValueError(f"parallel tempering needs at least 2 temperatures, got {n_temperatures}")
    return torch.cat([torch.zeros(1, dtype=torch.float64),
                      torch.logspace(math.log10(beta_min), 0.0, n_temperatures - 1, dtype=torch.float64)])


def _check_betas(betas: Tensor) -> Tensor:
    betas = torch.as_tensor(betas, dtype=torch.float64)
    if betas.ndim != 1 or len(betas) < 2 or betas[-1] != 1 or betas[0] < 0 or (betas.diff() <= 0).any():
        raise ValueError(f"betas must increase strictly from >= 0 to 1, got {betas.tolist()}")
    return betas


def _tempered(st: State, base: Base, beta: Tensor) -> tuple[Tensor, Tensor]:
    """E_β and s_β from the model's energy and score in ``st``; ``beta`` per row."""
    b = per_sample_view(beta, st.x)
    return base.energy(st.x) + beta * (st.energy - base.energy(st.x)), (1 - b) * base.score(st.x) + b * st.score


def tempering_init(x: Tensor, model: Any, base: Base, betas: Tensor, cond: tuple[Tensor, ...] = ()) -> TemperingState:
    """Every replica of chain ``b`` starts at ``x[b]``."""
    k = len(betas)
    flat = x.detach().repeat(k, *([1] * (x.ndim - 1)))
    zeros = torch.zeros(k - 1, dtype=torch.float64)
    ones = torch.ones(flat.shape[0], dtype=flat.dtype, device=flat.device)
    return TemperingState(evaluate(model, flat, cond, need_energy=True), 0, zeros, zeros.clone(), ones, k)


def tempering_step(state: TemperingState, model: Any, base: Base, betas: Tensor, step_sizes: Tensor, *,
                   cond: tuple[Tensor, ...] = (), generator: torch.Generator | None = None
                   ) -> tuple[TemperingState, Info]:
    """One MALA move of every replica (``step_sizes[k]`` at ``betas[k]``), then the even or odd swaps.
    ``info`` is the β = 1 replica's MALA acceptance."""
    k, cur = state.k, state.replicas
    b = cur.x.shape[0] // k
    beta = betas.to(cur.x).repeat_interleave(b)
    eps = step_sizes.to(cur.x).repeat_interleave(b)
    e_x, s_x = _tempered(cur, base, beta)
    z = torch.randn(cur.x.shape, dtype=cur.x.dtype, device=cur.x.device, generator=generator)
    ev = per_sample_view(eps, cur.x)
    proposal = evaluate(model, cur.x + 0.5 * ev * s_x + ev.sqrt() * z, cond, need_energy=True)
    e_y, s_y = _tempered(proposal, base, beta)
    log_q_back = -sum_event((cur.x - proposal.x - 0.5 * ev * s_y).square()) / (2 * eps)
    log_alpha = e_x - e_y + log_q_back + 0.5 * sum_event(z.square())
    moved, info = metropolis_select(cur, proposal, log_alpha, generator)

    pairs = torch.arange(state.steps % 2, k - 1, 2)
    tried, accepted = state.swaps_tried.clone(), state.swaps_accepted.clone()
    perm = torch.arange(k).unsqueeze(1).repeat(1, b)          # slot (k, b) takes replica perm[k, b] of chain b
    if len(pairs):
        u = (moved.energy - base.energy(moved.x)).view(k, b)
        d_beta = (betas[pairs + 1] - betas[pairs]).to(u).unsqueeze(1)
        log_a = torch.nan_to_num(d_beta * (u[pairs + 1] - u[pairs]), nan=-math.inf)
        swap = torch.rand(log_a.shape, dtype=u.dtype, device=u.device, generator=generator).log() < log_a
        perm[pairs] = torch.where(swap.cpu(), pairs.unsqueeze(1) + 1, pairs.unsqueeze(1))
        perm[pairs + 1] = torch.where(swap.cpu(), pairs.unsqueeze(1), pairs.unsqueeze(1) + 1)
        tried[pairs] += b
        accepted[pairs] += swap.double().sum(1).cpu()
    idx = (perm * b + torch.arange(b)).reshape(-1).to(cur.x.device)
    swapped = State(moved.x[idx], moved.score[idx], moved.energy[idx])
    cold = slice((k - 1) * b, k * b)
    new = TemperingState(swapped, state.steps + 1, tried, accepted, info.accept_prob, k)
    return new, Info(info.accept_prob[cold], info.accepted[cold])


def parallel_tempering(model: Any, base: Base, step_sizes: Tensor | float, betas: Tensor | None = None, *,
                       cond: tuple[Tensor, ...] = ()) -> Kernel:
    """Parallel tempering as a :class:`~scorematch.samplers.state.Kernel` (``betas`` default
    :func:`default_betas`): ``init(x)`` starts every replica of chain ``b`` at ``x[b]``; ``state.x`` is the β = 1
    replica.

    >>> from scorematch import Energy
    >>> model = Energy(lambda x: 0.5 * (x**2).sum(-1))
    >>> kernel = parallel_tempering(model, Base((2,), std=2.0), 0.3, default_betas(4))
    >>> state, info = kernel.step(kernel.init(torch.zeros(8, 2)), torch.Generator().manual_seed(0))
    >>> state.x.shape, info.accept_prob.shape
    (torch.Size([8, 2]), torch.Size([8]))
    """
    betas = _check_betas(default_betas() if betas is None else betas)
    steps = torch.as_tensor(step_sizes, dtype=torch.float64).expand(len(betas)).clone()
    if not (torch.isfinite(steps).all() and (steps > 0).all()):
        raise ValueError(f"step_sizes must be finite and > 0, got {steps.tolist()}")
    return Kernel(init=lambda x: tempering_init(x, model, base, betas, cond),
                  step=lambda st, g: tempering_step(st, model, base, betas, steps, cond=cond, generator=g))


def adapt_tempering(model: Any, base: Base, x0: Tensor, n_warmup: int, betas: Tensor | None = None, *,
                    target_accept: float = 0.57, cond: tuple[Tensor, ...] = (),
                    generator: torch.Generator | None = None) -> tuple[TemperingState, Tensor]:
    r"""Warm up from ``x0`` while each temperature's step size follows
    :math:`\log\varepsilon_k \mathrel{+}= \frac{2}{\sqrt t}\,(\bar\alpha_k - \alpha^*)` (:math:`\bar\alpha_k`: its
    replicas' mean MALA acceptance at warm-up step ``t``); returns the state and the step sizes, to be frozen."""
    check_count("n_warmup", n_warmup)
    betas = _check_betas(default_betas() if betas is None else betas)
    k = len(betas)
    log_eps = torch.log(0.5 * base.std**2 / (1 + 20 * betas))   # hotter replicas start with larger steps
    state = tempering_init(x0, model, base, betas, cond)
    for t in range(1, n_warmup + 1):
        state, _ = tempering_step(state, model, base, betas, log_eps.exp(), cond=cond, generator=generator)
        acc = state.accept_prob.view(k, -1).double().mean(1).cpu()
        log_eps = log_eps + 2.0 / math.sqrt(t) * (acc - target_accept)
    return state, log_eps.exp()
