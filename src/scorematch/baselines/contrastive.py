r"""Contrastive divergence (Hinton 2002): maximum likelihood with the model's expectation taken on MCMC samples.

The gradient of the negative log-likelihood of :math:`p_\theta \propto e^{-E_\theta}` is
:math:`\nabla_\theta E_\theta(x^+) - E_{p_\theta}[\nabla_\theta E_\theta(x^-)]`. Contrastive divergence replaces
the expectation under the model by a few MCMC steps, so the per-sample loss is

.. math::

    \ell(x^+) = E_\theta(x^+) - E_\theta(\operatorname{sg}[x^-])
                + \alpha\,\big(E_\theta(x^+)^2 + E_\theta(\operatorname{sg}[x^-])^2\big),

with the negatives :math:`x^-` detached (sg) and the energy-magnitude regularizer α of Du & Mordatch (2019,
"Implicit generation and generalization in energy-based models", NeurIPS), which keeps the energies near 0
(the loss alone is blind to a constant shift and lets the two energies run apart).

Negatives come from ``steps`` moves of the Langevin step of :mod:`scorematch.samplers.langevin`, with the
noise scale η free:

.. math::

    x \leftarrow x + \tfrac{\varepsilon}{2}\, s_\theta(x) + \eta\, z, \qquad z \sim N(0, I),

(``sampler="mala"`` adds the Metropolis test of this proposal, :math:`q(x'\mid x) = N(x + \tfrac\varepsilon2
s(x), \eta^2 I)`, which keeps :math:`p_\theta` exactly invariant for any η). ``noise_scale=None`` is
:math:`\eta = \sqrt\varepsilon`, the Langevin diffusion's own noise (whose only bias is the :math:`O(\varepsilon)`
of the unadjusted step). Any other η — practice often takes a large step and little noise — makes the unadjusted
sampler follow :math:`p^{\varepsilon/\eta^2}` in the small-step limit, a tempered law: with ``sampler="langevin"`` the
decoupled sampler is biased and so is the CD gradient it feeds.

* **CD-k** (:func:`contrastive_divergence`): the chains start at the data batch (short-run CD).
* **Persistent CD** (:class:`PersistentContrastiveDivergence`, Tieleman 2008, with the replay buffer of Du &
  Mordatch 2019): the chains start from a bounded buffer of earlier negatives; a fraction restarts from noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .._infra.checks import check_choice, check_count, check_positive
from .._infra.shapes import sum_event
from ..losses.properties import declare
from ..protocol import as_model
from ..samplers.metropolis import metropolis_select
from ..samplers.state import evaluate

__all__ = ["MCMC_SAMPLERS", "PersistentContrastiveDivergence", "contrastive_divergence", "contrastive_loss",
           "mcmc_negatives", "standard_normal_restart"]

MCMC_SAMPLERS = ("langevin", "mala")


def mcmc_negatives(model: Any, x0: Tensor, *, steps: int, step_size: float, noise_scale: float | None = None,
                   sampler: str = "langevin", generator: torch.Generator | None = None) -> Tensor:
    r"""``steps`` moves :math:`x + \frac\varepsilon2 s(x) + \eta z` from ``x0`` (Metropolis-tested with
    ``sampler="mala"``); returns the detached end points. Nothing of the model keeps a gradient.

    >>> from scorematch import Energy
    >>> x = mcmc_negatives(Energy(lambda z: 0.5 * (z**2).sum(-1)), torch.zeros(3, 2), steps=5, step_size=0.1,
    ...                    generator=torch.Generator().manual_seed(0))
    >>> x.shape
    torch.Size([3, 2])
    """
    check_count("steps", steps)
    eps = check_positive("step_size", step_size)
    eta = eps**0.5 if noise_scale is None else check_positive("noise_scale", noise_scale)
    check_choice("sampler", sampler, MCMC_SAMPLERS)
    model = as_model(model, kind="energy", who="contrastive divergence's model")
    need_energy = sampler == "mala"
    state = evaluate(model, x0, need_energy=need_energy)
    for _ in range(steps):
        z = torch.randn(state.x.shape, dtype=state.x.dtype, device=state.x.device, generator=generator)
        mean = state.x + 0.5 * eps * state.score
        proposal = evaluate(model, mean + eta * z, need_energy=need_energy)
        if sampler == "langevin":
            state = proposal
            continue
        log_q_forward = -0.5 * sum_event(z.square())
        log_q_backward = -sum_event((state.x - proposal.x - 0.5 * eps * proposal.score).square()) / (2 * eta**2)
        state, _ = metropolis_select(state, proposal, state.energy - proposal.energy + log_q_backward
                                     - log_q_forward, generator)
    return state.x.detach()


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    return float(alpha)


def contrastive_loss(model: Any, x: Tensor, negatives: Tensor, alpha: float) -> Tensor:
    r"""Per-sample :math:`E(x^+) - E(x^-) + \alpha(E(x^+)^2 + E(x^-)^2)`, shape ``(B,)``; ``negatives`` are
    detached."""
    alpha = _check_alpha(alpha)
    model = as_model(model, kind="energy", who="contrastive divergence's model")
    e_pos, e_neg = model.energy(x), model.energy(negatives.detach())
    return e_pos - e_neg + alpha * (e_pos.square() + e_neg.square())


@declare(order=0, heldout=False, needs_energy=True)
def contrastive_divergence(model: Any, x: Tensor, *, steps: int = 10, step_size: float = 0.01,
                           noise_scale: float | None = None, sampler: str = "langevin", alpha: float = 0.001,
                           generator: torch.Generator | None = None) -> Tensor:
    r"""CD-k: per-sample :func:`contrastive_loss` with negatives from ``steps`` MCMC moves started at ``x``
    (see the module docstring for the step and the bias of a decoupled ``noise_scale``).

    >>> from scorematch import Energy
    >>> from scorematch.models import EnergyMLP
    >>> loss = contrastive_divergence(Energy(EnergyMLP(2, hidden=8)), torch.randn(4, 2), steps=3,
    ...                               generator=torch.Generator().manual_seed(0))
    >>> loss.shape
    torch.Size([4])
    """
    negatives = mcmc_negatives(model, x, steps=steps, step_size=step_size, noise_scale=noise_scale,
                               sampler=sampler, generator=generator)
    return contrastive_loss(model, x, negatives, alpha)


def standard_normal_restart(n: int, like: Tensor, generator: torch.Generator | None) -> Tensor:
    """``n`` fresh chain starts from N(0, I) in ``like``'s event shape, dtype and device (for standardized data:
    the data's own first two moments)."""
    return torch.randn((n, *like.shape[1:]), dtype=like.dtype, device=like.device, generator=generator)


@declare(order=0, heldout=False, needs_energy=True)
class PersistentContrastiveDivergence:
    r"""Persistent CD with a replay buffer: an objective ``pcd(model, x, generator=g) -> (B,)`` that keeps state.

    Each call picks ``B`` distinct buffer entries uniformly at random, replaces each by a fresh start from
    ``restart`` with probability ``restart_fraction``, runs ``steps`` MCMC moves from there and writes the end
    points back into the same entries; the loss is :func:`contrastive_loss` against them. The buffer is filled from
    ``restart`` on the first call and never grows: it holds exactly ``buffer_size`` points
    (``buffer_size · D`` numbers of the data's dtype). Every call draws the same random numbers in the same order,
    so with the buffer restored (:meth:`state_dict` / :meth:`load_state_dict`, which :func:`scorematch.fit`
    checkpoints) a resumed run continues bit for bit.

    Args:
        buffer_size: points kept. restart_fraction: the share of chains started afresh at every call.
        restart: ``restart(n, like, generator) -> (n, *event)`` fresh starts; default
            :func:`standard_normal_restart`, N(0, I).
        steps, step_size, noise_scale, sampler, alpha: as in :func:`contrastive_divergence`.
    """

    def __init__(self, *, buffer_size: int = 10000, restart_fraction: float = 0.05,
                 restart: Callable[[int, Tensor, torch.Generator | None], Tensor] = standard_normal_restart,
                 steps: int = 10, step_size: float = 0.01, noise_scale: float | None = None,
                 sampler: str = "langevin", alpha: float = 0.001):
        if not 0.0 <= restart_fraction <= 1.0:
            raise ValueError(f"restart_fraction must lie in [0, 1], got {restart_fraction!r}")
        self.buffer_size, self.restart_fraction, self.restart = check_count("buffer_size", buffer_size), \
            restart_fraction, restart
        self.mcmc = {"steps": check_count("steps", steps), "step_size": check_positive("step_size", step_size),
                     "noise_scale": None if noise_scale is None else check_positive("noise_scale", noise_scale),
                     "sampler": check_choice("sampler", sampler, MCMC_SAMPLERS)}
        self.alpha = _check_alpha(alpha)
        self.buffer: Tensor | None = None

    def __call__(self, model: Any, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        if self.buffer is None:
            self.buffer = self.restart(self.buffer_size, x.detach(), generator)
        if self.buffer.shape[1:] != x.shape[1:]:
            raise ValueError(f"the replay buffer holds points of shape {tuple(self.buffer.shape[1:])}, the batch "
                             f"{tuple(x.shape[1:])}")
        buffer = self.buffer.to(device=x.device, dtype=x.dtype)
        b = x.shape[0]
        if b > self.buffer_size:
            raise ValueError(f"buffer_size ({self.buffer_size}) must be at least the batch size ({b})")
        # distinct entries: each chain's end point is written back to its own slot (no duplicate-index writes)
        idx = torch.randperm(self.buffer_size, generator=generator,
                             device=generator.device if generator is not None else "cpu")[:b].to(x.device)
        fresh = torch.rand(b, generator=generator, device=x.device, dtype=x.dtype) < self.restart_fraction
        restarts = self.restart(b, x.detach(), generator)
        starts = torch.where(fresh.view(-1, *([1] * (x.ndim - 1))), restarts, buffer[idx])
        negatives = mcmc_negatives(model, starts, generator=generator, **self.mcmc)
        buffer[idx] = negatives
        self.buffer = buffer
        return contrastive_loss(model, x, negatives, self.alpha)

    def state_dict(self) -> dict[str, Tensor]:
        """The buffer (empty before the first call)."""
        return {} if self.buffer is None else {"buffer": self.buffer}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restore :meth:`state_dict`; the buffer must have ``buffer_size`` rows."""
        buffer = state.get("buffer")
        if buffer is not None and buffer.shape[0] != self.buffer_size:
            raise ValueError(f"the saved replay buffer has {buffer.shape[0]} points, buffer_size is {self.buffer_size}")
        self.buffer = None if buffer is None else buffer.clone()
