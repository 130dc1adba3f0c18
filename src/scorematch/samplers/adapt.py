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
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from .._checks import check_count, check_positive
from .state import Kernel, State

__all__ = ["AdaptResult", "DualAveraging", "adapt_step_size", "dual_averaging_init", "dual_averaging_update"]


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
    """Where warm-up left the chains, the frozen step size, and the mean acceptance probability per warm-up step."""

    state: State
    step_size: float
    accept_prob: Tensor


def adapt_step_size(make_kernel: Callable[[float], Kernel], x0: Tensor, n_warmup: int, *, step_size: float = 0.01,
                    target_accept: float = 0.57, generator: torch.Generator | None = None) -> AdaptResult:
    r"""Warm up chains from ``x0`` while adapting one step size shared by all chains; see the module docstring.

    Args:
        make_kernel: ``step_size -> Kernel`` (e.g. ``lambda eps: mala(model, eps)``).
        x0: starting points ``(B, *event)``.
        n_warmup: warm-up steps (≥ 1).
        step_size: the initial guess ε₀.
        target_accept: the mean acceptance probability aimed at, in (0, 1).
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
    da = dual_averaging_init(step_size)
    state = make_kernel(step_size).init(x0.detach())
    probs = []
    for _ in range(n_warmup):
        state, info = make_kernel(math.exp(da.log_step)).step(state, generator)
        mean = float(info.accept_prob.mean())
        probs.append(mean)
        da = dual_averaging_update(da, mean, target_accept)
    return AdaptResult(state, math.exp(da.log_step_avg), torch.tensor(probs))
