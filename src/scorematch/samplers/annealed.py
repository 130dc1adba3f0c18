r"""Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1) for noise-conditional models.

For each level of a descending ladder :math:`\sigma_1 > \dots > \sigma_L`, ``steps_per_level`` Langevin moves
(convention of :mod:`~scorematch.samplers.langevin`) with the score at that level and step size

.. math::

    \alpha_i = \varepsilon\, \sigma_i^2 / \sigma_L^2 ,

so that the signal-to-noise ratio of a move is the same at every level. With ``final_denoise`` the last
positions get one Tweedie step :math:`x \leftarrow x + \sigma_L^2\, s(x, \sigma_L)` (the posterior mean of the
clean point; Jolicoeur-Martineau et al. 2020, Song & Ermon 2020), which removes the σ_L noise left in samples.
The model is called as ``model.score(x, sigma)`` with ``sigma`` of shape ``(B,)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .._infra.checks import check_count, check_positive
from .driver import sample
from .langevin import langevin_step
from .state import Info, Kernel, State, evaluate

__all__ = ["AnnealedState", "annealed_langevin", "annealed_langevin_kernel"]


class AnnealedState(NamedTuple):
    """Positions ``x``, the score there at the current level's σ, no energy, and the steps taken so far
    (the level is ``steps // steps_per_level``)."""

    x: Tensor
    score: Tensor
    energy: Tensor | None
    steps: int


def _ladder(sigmas: Tensor | Sequence[float], like: Tensor) -> Tensor:
    ladder = torch.as_tensor(sigmas, dtype=like.dtype, device=like.device).reshape(-1)
    if ladder.numel() == 0 or not (torch.isfinite(ladder).all() and (ladder > 0).all()):
        raise ValueError(f"sigmas must be a non-empty ladder of finite values > 0; got {ladder.tolist()}")
    if (ladder[1:] > ladder[:-1]).any():
        raise ValueError(f"sigmas must be in descending order (σ₁ > … > σ_L); got {ladder.tolist()}")
    return ladder


def annealed_langevin_kernel(model: Any, sigmas: Tensor | Sequence[float], *, step_size: float,
                             steps_per_level: int = 100) -> Kernel:
    r"""Annealed Langevin dynamics as a :class:`~scorematch.samplers.state.Kernel` over a σ ladder: step ``t``
    is a Langevin move :math:`x + (\alpha_i/2)\,s(x, \sigma_i) + \sqrt{\alpha_i}\,z` at level
    :math:`i = \lfloor t / T \rfloor` (``T = steps_per_level``), :math:`\alpha_i = \varepsilon\,\sigma_i^2/\sigma_L^2`;
    steps past the last level stay at σ_L. So :func:`~scorematch.samplers.sample`,
    :func:`~scorematch.samplers.trajectory` and :func:`~scorematch.samplers.diagnose` run it like any kernel;
    :func:`annealed_langevin` is ``sample`` for ``L·T`` steps plus the final denoising step.

    >>> import torch
    >>> from scorematch import Score
    >>> from scorematch.samplers import trajectory
    >>> model = Score(lambda x, sigma: -x / (1 + sigma[:, None] ** 2))
    >>> path = trajectory(annealed_langevin_kernel(model, [3.0, 1.0], step_size=0.05, steps_per_level=5),
    ...                   torch.zeros(4, 2), 10)
    >>> path.shape
    torch.Size([11, 4, 2])
    """
    eps = check_positive("step_size", step_size)
    check_count("steps_per_level", steps_per_level)
    ladders: dict[tuple[torch.dtype, torch.device], Tensor] = {}

    def ladder_for(x: Tensor) -> Tensor:
        key = (x.dtype, x.device)
        if key not in ladders:
            ladders[key] = _ladder(sigmas, x)
        return ladders[key]

    def init(x: Tensor) -> AnnealedState:
        ladder = ladder_for(x)
        st = evaluate(model, x, (ladder[0].expand(x.shape[0]),))
        return AnnealedState(st.x, st.score, None, 0)

    def step(state: AnnealedState, generator: torch.Generator | None) -> tuple[AnnealedState, Info]:
        ladder = ladder_for(state.x)
        level = min(state.steps // steps_per_level, ladder.numel() - 1)
        sigma = ladder[level]
        cond = (sigma.expand(state.x.shape[0]),)
        here = State(state.x, state.score)
        if 0 < state.steps and state.steps % steps_per_level == 0 and state.steps // steps_per_level == level:
            here = evaluate(model, state.x, cond)  # a new level: the score at its σ
        new, info = langevin_step(here, model, eps * float(sigma / ladder[-1]) ** 2, cond=cond, generator=generator)
        return AnnealedState(new.x, new.score, None, state.steps + 1), info

    return Kernel(init, step)


def annealed_langevin(
    model: Any,
    x0: Tensor,
    sigmas: Tensor | Sequence[float],
    *,
    step_size: float,
    steps_per_level: int = 100,
    final_denoise: bool = True,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> Tensor:
    r"""Sample a noise-conditional model by annealed Langevin dynamics; returns positions of shape ``x0.shape``.

    Args:
        model: noise-conditional ``Score(net)`` / ``Energy(net)`` (``net(x, sigma)``) or anything with
            ``score(x, sigma)``.
        x0: initial positions ``(B, *event)``, e.g. uniform noise.
        sigmas: descending noise levels σ₁ > … > σ_L (e.g. :func:`scorematch.schedules.geometric_sigmas`).
        step_size: ε, the step at the last level; level i uses ε σ_i²/σ_L².
        steps_per_level: Langevin moves per level (T).
        final_denoise: finish with :math:`x + \sigma_L^2 s(x, \sigma_L)`.
        generator: source of randomness.
        progress: show a progress bar (the driver's).

    >>> import torch
    >>> from scorematch import Score
    >>> model = Score(lambda x, sigma: -x / (1 + sigma[:, None] ** 2))  # N(0, I) data smoothed at σ
    >>> x = annealed_langevin(model, 8 * torch.rand(1000, 2) - 4, [3.0, 1.0, 0.3], step_size=0.05,
    ...                       generator=torch.Generator().manual_seed(0))
    >>> bool(abs(x.var() - 1) < 0.15)
    True
    """
    ladder = _ladder(sigmas, x0)
    kernel = annealed_langevin_kernel(model, ladder, step_size=step_size, steps_per_level=steps_per_level)
    x = sample(kernel, x0.detach(), ladder.numel() * steps_per_level, generator=generator, progress=progress)
    if final_denoise:
        last = ladder[-1]
        x = x + last**2 * evaluate(model, x, (last.expand(x0.shape[0]),)).score
    return x
