r"""Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1) for noise-conditional models.

For each level of a descending ladder :math:`\sigma_1 > \dots > \sigma_L`, ``n_steps_each`` Langevin moves
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
from typing import Any

import torch
from torch import Tensor

from .._checks import check_count, check_positive
from .driver import progress_bar
from .langevin import langevin_init, langevin_step
from .state import evaluate

__all__ = ["annealed_langevin"]


def annealed_langevin(
    model: Any,
    x0: Tensor,
    sigmas: Tensor | Sequence[float],
    *,
    step_size: float,
    n_steps_each: int = 100,
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
        n_steps_each: Langevin moves per level (T).
        final_denoise: finish with :math:`x + \sigma_L^2 s(x, \sigma_L)`.
        generator: source of randomness.
        progress: show a progress bar.

    >>> import torch
    >>> from scorematch import Score
    >>> model = Score(lambda x, sigma: -x / (1 + sigma[:, None] ** 2))  # N(0, I) data smoothed at σ
    >>> x = annealed_langevin(model, 8 * torch.rand(1000, 2) - 4, [3.0, 1.0, 0.3], step_size=0.05,
    ...                       generator=torch.Generator().manual_seed(0))
    >>> bool(abs(x.var() - 1) < 0.15)
    True
    """
    ladder = torch.as_tensor(sigmas, dtype=x0.dtype, device=x0.device).reshape(-1)
    if ladder.numel() == 0 or not (torch.isfinite(ladder).all() and (ladder > 0).all()):
        raise ValueError(f"sigmas must be a non-empty ladder of finite values > 0; got {ladder.tolist()}")
    if (ladder[1:] > ladder[:-1]).any():
        raise ValueError(f"sigmas must be in descending order (σ₁ > … > σ_L); got {ladder.tolist()}")
    eps = check_positive("step_size", step_size)
    check_count("n_steps_each", n_steps_each)
    b, last = x0.shape[0], ladder[-1]
    x = x0.detach()
    with progress_bar(ladder.numel() * n_steps_each, progress, "annealed Langevin") as bar:
        for sigma in ladder:
            cond = (sigma.expand(b),)
            alpha = eps * float(sigma / last) ** 2
            state = langevin_init(x, model, cond)
            for _ in range(n_steps_each):
                state, _ = langevin_step(state, model, alpha, cond=cond, generator=generator)
                bar.update(1)
            x = state.x
    if final_denoise:
        x = x + last**2 * evaluate(model, x, (last.expand(b),)).score
    return x
