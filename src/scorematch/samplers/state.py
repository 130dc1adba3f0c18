"""The state, the per-step diagnostics and the kernel type shared by every sampler.

A *model* for a sampler is a :class:`~scorematch.protocol.ScoreModel` — ``Score(net)``, ``Energy(net)``, an
analytic target of :mod:`scorematch.models.analytic` — and, for the Metropolis-adjusted samplers (MALA, HMC), an
:class:`~scorematch.protocol.EnergyModel`; :func:`~scorematch.protocol.as_model` reads it. An ``Energy`` wrapper
gets its energy and score from one forward and one backward pass (:meth:`~scorematch.Energy.energy_and_score`; for
an MLP, the analytic reverse sweep with no autograd at all). Samplers never keep an autograd graph across steps:
every quantity in a state is computed under ``no_grad``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

from ..protocol import as_model

__all__ = ["Info", "Kernel", "State", "evaluate"]


class State(NamedTuple):
    """Positions ``x`` ``(B, *event)``, the score there, and the energy there ``(B,)`` when it is needed."""

    x: Tensor
    score: Tensor
    energy: Tensor | None = None


class Info(NamedTuple):
    """What one step did, per chain: the acceptance probability and whether the move was accepted
    (all ones / all ``True`` for the unadjusted samplers)."""

    accept_prob: Tensor
    accepted: Tensor


class Kernel(NamedTuple):
    """A transition kernel with its target and settings bound: ``init(x) -> State`` and
    ``step(state, generator) -> (State, Info)``."""

    init: Callable[[Tensor], State]
    step: Callable[[State, torch.Generator | None], tuple[State, Info]]


def evaluate(model: Any, x: Tensor, cond: tuple[Tensor, ...] = (), *, need_energy: bool = False) -> State:
    """The :class:`State` at ``x``: score always, energy when ``need_energy``; no autograd graph kept."""
    x = x.detach()
    model = as_model(model, kind="energy" if need_energy else None, who="this sampler's model")
    with torch.no_grad():
        if need_energy:
            e, s = model.energy_and_score(x, *cond)
            return State(x, s, e)
        return State(x, model.score(x, *cond), None)


def always_accepted(x: Tensor) -> Info:
    """The :class:`Info` of an unadjusted move: probability one, accepted, for every chain."""
    ones = torch.ones(x.shape[0], dtype=x.dtype, device=x.device)
    return Info(ones, ones.bool())
