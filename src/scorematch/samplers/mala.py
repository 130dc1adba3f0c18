r"""Metropolis-adjusted Langevin algorithm (MALA; Roberts & Tweedie 1996).

The Langevin proposal of :mod:`~scorematch.samplers.langevin`,
:math:`x' = x + \frac{\varepsilon}{2} s(x) + \sqrt{\varepsilon} z`, accepted with probability

.. math::

    \alpha = \min\Big(1,\ \exp\big(E(x) - E(x') + \log q(x \mid x') - \log q(x' \mid x)\big)\Big),
    \qquad \log q(x' \mid x) = -\frac{\lVert x' - x - \frac{\varepsilon}{2} s(x)\rVert^2}{2\varepsilon},

so that :math:`p \propto e^{-E}` is exactly invariant at any step size. Needs an energy.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from .._infra.checks import check_positive
from .._infra.shapes import sum_event
from .metropolis import metropolis_select
from .state import Info, Kernel, State, evaluate

__all__ = ["mala", "mala_init", "mala_step"]


def mala_init(x: Tensor, model: Any, cond: tuple[Tensor, ...] = ()) -> State:
    """The state at ``x``: positions, score and energy."""
    return evaluate(model, x, cond, need_energy=True)


def mala_step(
    state: State, model: Any, step_size: float, *, cond: tuple[Tensor, ...] = (),
    generator: torch.Generator | None = None,
) -> tuple[State, Info]:
    """One MALA move; ``info.accept_prob`` is α per chain. Draws z, then the uniform of the accept test.

    >>> import torch
    >>> from scorematch import Energy
    >>> model = Energy(lambda x: 0.5 * (x**2).sum(-1))
    >>> state = mala_init(torch.zeros(4, 2), model)
    >>> state, info = mala_step(state, model, 0.5, generator=torch.Generator().manual_seed(0))
    >>> info.accept_prob.shape
    torch.Size([4])
    """
    eps = check_positive("step_size", step_size)
    x = state.x
    z = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
    proposal = evaluate(model, x + 0.5 * eps * state.score + math.sqrt(eps) * z, cond, need_energy=True)
    log_q_forward = -0.5 * sum_event(z.square())
    log_q_backward = -sum_event((x - proposal.x - 0.5 * eps * proposal.score).square()) / (2 * eps)
    log_alpha = state.energy - proposal.energy + log_q_backward - log_q_forward
    return metropolis_select(state, proposal, log_alpha, generator)


def mala(model: Any, step_size: float, *, cond: tuple[Tensor, ...] = ()) -> Kernel:
    """MALA as a :class:`~scorematch.samplers.state.Kernel` for :func:`~scorematch.samplers.sample`."""
    check_positive("step_size", step_size)
    return Kernel(
        init=lambda x: mala_init(x, model, cond),
        step=lambda state, generator: mala_step(state, model, step_size, cond=cond, generator=generator),
    )
