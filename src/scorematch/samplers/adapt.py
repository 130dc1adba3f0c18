r"""Step sizes adapted during warm-up by dual averaging (Nesterov 2009, as in NUTS: Hoffman & Gelman 2014, §3.2).

With the mean acceptance probability :math:`\bar\alpha_t` over the chains at warm-up step :math:`t` and a target
:math:`\delta`:

.. math::

    \bar H_t = \Big(1 - \frac1{t + t_0}\Big)\bar H_{t-1} + \frac{\delta - \bar\alpha_t}{t + t_0},\qquad
    \log\varepsilon_t = \mu - \frac{\sqrt t}{\gamma}\,\bar H_t,\qquad
    \log\bar\varepsilon_t = t^{-\kappa}\log\varepsilon_t + (1 - t^{-\kappa})\log\bar\varepsilon_{t-1},

:math:`\mu = \log(10\,\varepsilon_0)`, :math:`\gamma = 0.05`, :math:`t_0 = 10`, :math:`\kappa = 0.75`. Warm-up moves with
:math:`\varepsilon_t`; afterwards the step size is frozen at :math:`\bar\varepsilon` (so the chain that follows is
an exact MALA/HMC chain). Targets: about 0.57 for MALA (Roberts & Rosenthal 1998), 0.65–0.8 for HMC.

Stuck chains. Early warm-up steps, still too large, can throw a chain far into the tails, where the gradient is
large and every proposal of the adapted step overshoots: the chain would never move again. So every ``window``
warm-up steps (but not in the last window, so the chains handed on have diverged) a chain that accepted no move in
that window restarts at the position of a chain, drawn at random, that did, and the restarts are counted
(:attr:`AdaptResult.restarts`; the command line's sample report says how many). This only moves starting points
during warm-up; the chains that follow are exact. It also moves a chain out of a narrow mode where the adapted step
is never accepted: the count is the sign of that.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .._infra.checks import check_count, check_positive
from .state import Kernel, State

__all__ = ["AdaptResult", "DualAveraging", "adapt_step_size", "dual_averaging_init", "dual_averaging_update",
           "restart_stuck"]


class DualAveraging(NamedTuple):
    """The adaptation's state: current and averaged log step size, the averaged error, μ and the count t."""

    log_step: float
    log_step_avg: float
    error_avg: float
    mu: float
    t: int


def dual_averaging_init(step_size: float) -> DualAveraging:
    """The state before any warm-up step, from an initial guess ``step_size``."""
    eps = check_positive("step_size", step_size)
    return DualAveraging(math.log(eps), math.log(eps), 0.0, math.log(10 * eps), 0)


def dual_averaging_update(state: DualAveraging, accept_prob: float, target: float, *, gamma: float = 0.05,
                          t0: float = 10.0, kappa: float = 0.75) -> DualAveraging:
    """One update of the module docstring's recursion with the mean acceptance probability ``accept_prob``.

    >>> s = dual_averaging_init(0.1)
    >>> dual_averaging_update(s, accept_prob=1.0, target=0.57).log_step > math.log(0.1)  # too easy: larger steps
    True
    """
    t = state.t + 1
    w = 1.0 / (t + t0)
    alpha = accept_prob if math.isfinite(accept_prob) else 0.0
    error_avg = (1 - w) * state.error_avg + w * (target - alpha)
    log_step = state.mu - math.sqrt(t) / gamma * error_avg
    eta = t ** (-kappa)
    return DualAveraging(log_step, eta * log_step + (1 - eta) * state.log_step_avg, error_avg, state.mu, t)


class AdaptResult(NamedTuple):
    """Where warm-up left the chains, the frozen step size, the mean acceptance probability per warm-up step, and
    how many times a stuck chain was restarted."""

    state: State
    step_size: float
    accept_prob: Tensor
    restarts: int = 0


def restart_stuck(state: Any, moved: Tensor, generator: torch.Generator | None = None) -> tuple[Any, int]:
    """``state`` with each chain that has not ``moved`` replaced by a copy of one that has, drawn uniformly, and
    the number replaced. Only states whose fields are per-chain tensors are handled (:class:`State`, the annealed
    sampler's state); any other state, and a window where every chain or none moved, is returned unchanged."""
    from .annealed import AnnealedState

    stuck = ~moved
    if not isinstance(state, (State, AnnealedState)) or not stuck.any() or not moved.any():
        return state, 0
    donors = moved.nonzero().flatten()
    draw = torch.randint(len(donors), (int(stuck.sum()),), generator=generator,
                         device=generator.device if generator is not None else "cpu")
    index = torch.arange(len(moved), device=moved.device)
    index[stuck] = donors[draw.to(moved.device)]
    fields = {k: v[index] for k, v in zip(("x", "score", "energy"), state[:3], strict=True) if v is not None}
    return state._replace(**fields), int(stuck.sum())


def adapt_step_size(make_kernel: Callable[[float], Kernel], x0: Tensor, n_warmup: int, *, step_size: float = 0.01,
                    target_accept: float = 0.57, window: int | None = 50,
                    generator: torch.Generator | None = None) -> AdaptResult:
    r"""Warm up chains from ``x0`` while adapting one step size shared by all chains; see the module docstring.

    Args:
        make_kernel: ``step_size -> Kernel`` (e.g. ``lambda eps: mala(model, eps)``).
        x0: starting points ``(B, *event)``.
        n_warmup: warm-up steps (≥ 1).
        step_size: the initial guess ε₀.
        target_accept: the mean acceptance probability aimed at, in (0, 1).
        window: every ``window`` steps, chains that accepted nothing in them restart where a moving chain is
            (see the module docstring); ``None`` never.
        generator: source of randomness.

    Returns:
        An :class:`AdaptResult`; continue with ``sample(make_kernel(result.step_size), result.state.x, n)``.

    >>> from scorematch import Energy
    >>> from scorematch.samplers import mala
    >>> model = Energy(lambda x: 0.5 * (x**2).sum(-1))
    >>> r = adapt_step_size(lambda eps: mala(model, eps), torch.randn(256, 10), 300,
    ...                     generator=torch.Generator().manual_seed(0))
    >>> 0.5 < r.step_size < 2.0
    True
    """
    check_count("n_warmup", n_warmup)
    if not 0 < target_accept < 1:
        raise ValueError(f"target_accept must lie in (0, 1), got {target_accept!r}")
    if window is not None:
        check_count("window", window)
    da = dual_averaging_init(step_size)
    state = make_kernel(step_size).init(x0.detach())
    probs, restarts = [], 0
    moved = torch.zeros(x0.shape[0], dtype=torch.bool, device=x0.device)
    for t in range(1, n_warmup + 1):
        state, info = make_kernel(math.exp(da.log_step)).step(state, generator)
        mean = float(info.accept_prob.mean())
        probs.append(mean)
        da = dual_averaging_update(da, mean, target_accept)
        if window is not None:
            moved |= info.accepted.to(moved.device)
            if t % window == 0:
                if t + window <= n_warmup:  # never in the last window: the chains handed on must have diverged
                    state, k = restart_stuck(state, moved, generator)
                    restarts += k
                moved = torch.zeros_like(moved)
    return AdaptResult(state, math.exp(da.log_step_avg), torch.tensor(probs), restarts)
