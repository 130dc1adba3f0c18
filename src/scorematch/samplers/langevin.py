r"""Unadjusted Langevin algorithm (ULA).

The one step-size convention of scorematch, for every Langevin-type sampler:

.. math::

    x_{t+1} = x_t + \frac{\varepsilon}{2}\, s(x_t) + \sqrt{\varepsilon}\, z_t, \qquad z_t \sim N(0, I),

where :math:`s = \nabla_x \log p` is the model's score. Its stationary law differs from ``p`` by
:math:`O(\varepsilon)` (for a Gaussian of precision λ the variance is :math:`1/(\lambda(1 - \varepsilon\lambda/4))`);
:mod:`~scorematch.samplers.mala` removes the bias with a Metropolis–Hastings correction.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from .._infra.checks import check_positive
from .state import Info, Kernel, State, always_accepted, evaluate

__all__ = ["langevin", "langevin_init", "langevin_step"]


def langevin_init(x: Tensor, model: Any, cond: tuple[Tensor, ...] = ()) -> State:
    """The state at ``x`` (positions and score)."""
    return evaluate(model, x, cond)


def langevin_step(
    state: State, model: Any, step_size: float, *, cond: tuple[Tensor, ...] = (),
    generator: torch.Generator | None = None,
) -> tuple[State, Info]:
    r"""One ULA move :math:`x + (\varepsilon/2)s(x) + \sqrt\varepsilon z`; returns the new state and its :class:`Info`.

    >>> import torch
    >>> from scorematch import Score
    >>> model = Score(lambda x: -x)                               # standard normal
    >>> state = langevin_init(torch.zeros(3, 2), model)
    >>> state, info = langevin_step(state, model, 0.1, generator=torch.Generator().manual_seed(0))
    >>> state.x.shape, bool(info.accepted.all())
    (torch.Size([3, 2]), True)
    """
    eps = check_positive("step_size", step_size)
    x = state.x
    z = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
    x_new = x + 0.5 * eps * state.score + math.sqrt(eps) * z
    return evaluate(model, x_new, cond), always_accepted(x)


def langevin(model: Any, step_size: float, *, cond: tuple[Tensor, ...] = ()) -> Kernel:
    """ULA as a :class:`~scorematch.samplers.state.Kernel` for :func:`~scorematch.samplers.sample`."""
    check_positive("step_size", step_size)
    return Kernel(
        init=lambda x: langevin_init(x, model, cond),
        step=lambda state, generator: langevin_step(state, model, step_size, cond=cond, generator=generator),
    )
