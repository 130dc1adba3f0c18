r"""The Metropolis–Hastings accept/reject step shared by MALA, HMC and parallel tempering's moves.

Each chain accepts its proposal :math:`x'` with probability :math:`\min(1, e^{\log\alpha})`, where the kernel
supplies :math:`\log\alpha` (for MALA :math:`E(x) - E(x') + \log q(x \mid x') - \log q(x' \mid x)`; for HMC the
change of the Hamiltonian). A non-finite :math:`\log\alpha` (NaN from an overflowing proposal) is a rejection.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .._infra.shapes import per_sample_view
from .state import Info, State

__all__ = ["metropolis_select"]


def metropolis_select(state: State, proposal: State, log_alpha: Tensor,
                      generator: torch.Generator | None) -> tuple[State, Info]:
    """Accept each chain's ``proposal`` with probability ``min(1, exp(log_alpha))`` (one uniform per chain, drawn
    from ``generator``); returns the new state and the :class:`Info` (α per chain, accepted or not).

    >>> import torch
    >>> here = State(torch.zeros(2, 1), torch.zeros(2, 1), torch.zeros(2))
    >>> there = State(torch.ones(2, 1), torch.ones(2, 1), torch.ones(2))
    >>> new, info = metropolis_select(here, there, torch.tensor([0.0, -float("inf")]), None)
    >>> new.x.flatten().tolist(), info.accepted.tolist()
    ([1.0, 0.0], [True, False])
    """
    x = state.x
    u = torch.rand(x.shape[0], dtype=x.dtype, device=x.device, generator=generator)
    log_alpha = torch.nan_to_num(log_alpha, nan=-math.inf)  # a non-finite proposal is rejected
    accepted = u.log() < log_alpha
    keep = per_sample_view(accepted, x).bool()
    new = State(torch.where(keep, proposal.x, x), torch.where(keep, proposal.score, state.score),
                torch.where(accepted, proposal.energy, state.energy))
    return new, Info(log_alpha.clamp(max=0).exp(), accepted)
