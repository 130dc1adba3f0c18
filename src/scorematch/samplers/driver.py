"""Run a kernel for ``steps``: the final samples (:func:`sample`), a thinned trajectory (:func:`trajectory`), or
per-chain diagnostics (:func:`diagnose`). Each has one return type. Each starts from positions ``x0`` ``(B, *event)``
(through ``kernel.init``) or continues from a state a warm-up left (anything with ``.x``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import torch
from torch import Tensor

from .._infra.checks import check_count
from .state import Info, Kernel, State

__all__ = ["Diagnostics", "diagnose", "progress_bar", "sample", "trajectory"]


def progress_bar(total: int, enabled: bool, desc: str):
    """A tqdm bar (or a no-op object when ``enabled`` is false)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, leave=False)


def _positions(start: Tensor | State) -> Tensor:
    return (start if isinstance(start, Tensor) else start.x).detach()


def _chain(kernel: Kernel, x0: Tensor, steps: int, generator: torch.Generator | None,
           progress: bool) -> Iterator[tuple[State, Info]]:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    state = kernel.init(x0) if isinstance(x0, Tensor) else x0  # a state (e.g. after warm-up) continues as it is
    with progress_bar(steps, progress, "sampling") as bar:
        for _ in range(steps):
            state, info = kernel.step(state, generator)
            bar.update(1)
            yield state, info


def sample(kernel: Kernel, x0: Tensor, steps: int, *, generator: torch.Generator | None = None,
           progress: bool = False) -> Tensor:
    """Run ``steps`` transitions from ``x0`` ``(B, *event)``; return the final positions, shape ``x0.shape``.

    >>> import torch
    >>> from scorematch import Score
    >>> from scorematch.samplers import langevin
    >>> x = sample(langevin(Score(lambda x: -x), 0.1), torch.zeros(500, 2), 200,
    ...            generator=torch.Generator().manual_seed(0))
    >>> x.shape, bool(abs(x.var() - 1) < 0.15)
    (torch.Size([500, 2]), True)
    """
    x = _positions(x0)
    for state, _ in _chain(kernel, x0, steps, generator, progress):
        x = state.x
    return x


def trajectory(kernel: Kernel, x0: Tensor, steps: int, *, thin: int = 1, generator: torch.Generator | None = None,
               progress: bool = False) -> Tensor:
    """Positions every ``thin`` steps, ``x0`` first: shape ``(1 + steps // thin, *x0.shape)``."""
    check_count("thin", thin)
    xs = [_positions(x0)]
    for t, (state, _) in enumerate(_chain(kernel, x0, steps, generator, progress), start=1):
        if t % thin == 0:
            xs.append(state.x)
    return torch.stack(xs)


class Diagnostics(NamedTuple):
    """Final positions and, per chain, the mean acceptance probability and the fraction of accepted moves."""

    x: Tensor
    mean_accept_prob: Tensor
    acceptance_rate: Tensor


def diagnose(kernel: Kernel, x0: Tensor, steps: int, *, generator: torch.Generator | None = None,
             progress: bool = False) -> Diagnostics:
    """Run like :func:`sample` and also average each chain's :class:`~scorematch.samplers.state.Info`."""
    x = _positions(x0)
    prob_sum = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    acc_sum = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for state, info in _chain(kernel, x0, steps, generator, progress):
        x, prob_sum, acc_sum = state.x, prob_sum + info.accept_prob, acc_sum + info.accepted
    n = max(steps, 1)
    return Diagnostics(x, prob_sum / n, acc_sum / n)
