r"""Hamiltonian Monte Carlo with leapfrog integration (Duane et al. 1987; Neal 2011).

Momentum :math:`p \sim N(0, I)`, Hamiltonian :math:`H(x, p) = E(x) + \tfrac12\lVert p\rVert^2`, and ``L`` leapfrog
steps of size :math:`h` (note: a *time* step, not the Langevin ε; one leapfrog step is MALA with
:math:`\varepsilon = h^2`):

.. math::

    p \leftarrow p + \tfrac h2 s(x),\quad x \leftarrow x + h p,\quad p \leftarrow p + \tfrac h2 s(x)
    \qquad (s = -\nabla E),

then the end point is accepted with probability :math:`\min(1, e^{H(x,p) - H(x',p')})`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .._infra.checks import check_count, check_positive
from .._infra.shapes import sum_event
from .mala import mala_init
from .metropolis import metropolis_select
from .state import Info, Kernel, State, evaluate

__all__ = ["hmc", "hmc_init", "hmc_step"]

hmc_init = mala_init


def hmc_step(
    state: State, model: Any, step_size: float, n_leapfrog: int = 10, *, cond: tuple[Tensor, ...] = (),
    generator: torch.Generator | None = None,
) -> tuple[State, Info]:
    """One HMC transition: fresh momentum, ``n_leapfrog`` leapfrog steps of size ``step_size``, MH test.

    >>> import torch
    >>> from scorematch import Energy
    >>> model = Energy(lambda x: 0.5 * (x**2).sum(-1))
    >>> state = hmc_init(torch.zeros(4, 2), model)
    >>> state, info = hmc_step(state, model, 0.2, 5, generator=torch.Generator().manual_seed(0))
    >>> bool((info.accept_prob > 0.9).all())       # leapfrog nearly conserves H on a Gaussian
    True
    """
    h = check_positive("step_size", step_size)
    check_count("n_leapfrog", n_leapfrog)
    x = state.x
    p0 = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
    p = p0 + 0.5 * h * state.score
    current = state
    for i in range(n_leapfrog):
        current = evaluate(model, current.x + h * p, cond, need_energy=i == n_leapfrog - 1)
        p = p + (h if i < n_leapfrog - 1 else 0.5 * h) * current.score
    log_alpha = state.energy + 0.5 * sum_event(p0.square()) - current.energy - 0.5 * sum_event(p.square())
    return metropolis_select(state, current, log_alpha, generator)


def hmc(model: Any, step_size: float, n_leapfrog: int = 10, *, cond: tuple[Tensor, ...] = ()) -> Kernel:
    """HMC as a :class:`~scorematch.samplers.state.Kernel` for :func:`~scorematch.samplers.sample`."""
    check_positive("step_size", step_size)
    check_count("n_leapfrog", n_leapfrog)
    return Kernel(
        init=lambda x: hmc_init(x, model, cond),
        step=lambda state, generator: hmc_step(state, model, step_size, n_leapfrog, cond=cond, generator=generator),
    )
