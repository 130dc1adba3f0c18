"""Run a kernel over many independent chains and say whether they converged: acceptance, split R̂ and ESS.

Every ``thin = max(1, steps // n_draws)`` steps each chain's position is summarised by at most
``MAX_COORDINATES`` coordinates (of the flattened event) and the squared norm :math:`\\lVert x\\rVert^2`; R̂ is the
largest and the ESS the smallest over those quantities (:mod:`~scorematch.samplers.diagnostics`). Chains that
started in different places and stayed there (a chain per mode) give R̂ well above 1.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from .diagnostics import effective_sample_size, split_rhat
from .driver import _chain, _positions
from .state import Kernel

__all__ = ["MAX_COORDINATES", "ChainSummary", "run_chains", "summaries"]

MAX_COORDINATES = 8


class ChainSummary(NamedTuple):
    """Final positions ``x``, the final state, the mean acceptance probability over chains and steps, the largest
    split R̂ and smallest bulk ESS over the recorded quantities (NaN with fewer than 4 draws), and the draws per
    chain recorded."""

    x: Tensor
    state: Any
    accept_prob: float
    rhat: float
    ess: float
    n_draws: int


def summaries(x: Tensor) -> Tensor:
    """The recorded quantities of positions ``(B, *event)``: ``(B, k)``, k ≤ ``MAX_COORDINATES`` + 1."""
    flat = x.detach().flatten(1).double()
    return torch.cat([flat[:, :MAX_COORDINATES], flat.square().sum(1, keepdim=True)], 1).cpu()


def run_chains(kernel: Kernel, start: Tensor | Any, steps: int, *, n_draws: int = 100,
               generator: torch.Generator | None = None, progress: bool = False) -> ChainSummary:
    """Run ``steps`` transitions from ``start`` (positions or a warmed-up state), recording ``n_draws`` summaries
    per chain, and report convergence.

    >>> from scorematch import Energy
    >>> from scorematch.samplers import mala
    >>> out = run_chains(mala(Energy(lambda x: 0.5 * (x**2).sum(-1)), 0.8), torch.randn(64, 2), 400,
    ...                  generator=torch.Generator().manual_seed(0))
    >>> bool(out.rhat < 1.05), bool(out.ess > 500)
    (True, True)
    """
    thin = max(1, steps // max(1, n_draws))
    draws, prob, state = [], 0.0, None
    for t, (state, info) in enumerate(_chain(kernel, start, steps, generator, progress), start=1):
        prob += info.accept_prob.double().mean().item()
        if t % thin == 0:
            draws.append(summaries(state.x))
    x = _positions(start) if state is None else state.x
    rhat = ess = float("nan")
    if len(draws) >= 4:
        d = torch.stack(draws)
        finite = torch.isfinite(d).all()
        rhat = split_rhat(d).max().item() if finite else float("inf")
        ess = effective_sample_size(d).min().item() if finite else 0.0
    return ChainSummary(x, state, prob / max(steps, 1), rhat, ess, len(draws))
