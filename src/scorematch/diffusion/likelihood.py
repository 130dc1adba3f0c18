r"""The exact log-likelihood of a score model through the probability-flow ODE (Song et al. 2021, section 4.3;
the instantaneous change of variables of Chen et al. 2018).

The ODE :math:`\dot x = \tilde f(x, t) = f(x, t) - \tfrac12 g(t)^2\, s(x, t)` carries the law of :math:`x_{t_0}`
to that of :math:`x_1` through the same marginals as the SDE when :math:`s` is their score, and along a path

.. math::

    \log p_{t_0}(x_{t_0}) = \log p_1(x_1) + \int_{t_0}^1 \nabla\cdot\tilde f(x_t, t)\,dt,
    \qquad \nabla\cdot\tilde f = a(t)\,D - \tfrac12 g(t)^2\,\nabla\cdot s .

:func:`log_likelihood` integrates :math:`(x, \int\nabla\cdot\tilde f)` from :math:`t_0` to 1 with torchdiffeq's
adaptive Dormand–Prince solver and ends at the prior's log-density (or any terminal law given). The divergence is
exact (``"exact"``: D vector–Jacobian products per evaluation, :func:`scorematch.derivatives.value_and_divergence`;
affordable up to a few hundred dimensions) or Hutchinson's estimate (``"hutchinson"``, :math:`v^\top\nabla s\,v` with
``n_probes`` Rademacher probes fixed along the path, each integrated on its own, so that the result comes with the
standard error of their mean).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from .._infra.checks import check_choice, check_count, check_positive
from ..derivatives import value_and_divergence
from ..protocol import as_model
from .sde import SDE, TimeScore

__all__ = ["LogLikelihood", "beyond_prior", "log_likelihood", "sigma_conditioned"]


@dataclass(frozen=True)
class LogLikelihood:
    """``log_prob`` ``(B,)`` at the points (the mean over probes with Hutchinson), its standard error ``se`` (zeros
    when exact, NaN with one Hutchinson probe, which has no spread to estimate it from), the end points ``x1`` and
    the number of score evaluations ``nfe``."""

    log_prob: Tensor
    se: Tensor
    x1: Tensor
    nfe: int


def sigma_conditioned(model: object, sde: SDE) -> TimeScore:
    """``score(x, t)`` of a noise-conditional model trained on the kernel's σ(t)
    (:func:`~scorematch.losses.continuous_denoising`): ``model.score(x, σ(t))``."""
    field = as_model(model, who="the model")

    def score(x: Tensor, t: Tensor) -> Tensor:
        return field.score(x, sde.std(t).expand(x.shape[0]).to(x))

    return score


def log_likelihood(score: TimeScore, x: Tensor, sde: SDE, *, t0: float = 1e-5,
                   divergence: Literal["exact", "hutchinson"] = "exact", n_probes: int = 4,
                   terminal_log_prob: Callable[[Tensor], Tensor] | None = None, rtol: float = 1e-5,
                   atol: float = 1e-5, generator: torch.Generator | None = None) -> LogLikelihood:
    r""":math:`\log p_{t_0}(x)` per point by the probability-flow ODE of ``sde`` with the time score
    ``score(x, t)`` (:func:`sigma_conditioned` for a trained model), as in the module docstring.

    Args:
        score: ``score(x, t) -> (B, *event)``, ``t`` a 0-d tensor.
        x: points ``(B, *event)`` at time ``t0``.
        sde: the forward SDE.
        t0: where the path starts (the data's time; the kernel is degenerate at 0).
        divergence: ``"exact"`` or ``"hutchinson"`` (``n_probes`` Rademacher probes from ``generator``).
        terminal_log_prob: the log-density of :math:`x_1` (default the prior's, :meth:`SDE.prior_log_prob`).
        rtol, atol: the solver's tolerances.

    >>> from scorematch.diffusion import VP
    >>> sde = VP()
    >>> normal = lambda x, t: -x   # N(0, I) stays N(0, I) under VP: its score at every t
    >>> out = log_likelihood(normal, torch.zeros(1, 2, dtype=torch.float64), sde)
    >>> round(float(out.log_prob), 4), round(-math.log(2 * math.pi), 4)
    (-1.8379, -1.8379)
    """
    from torchdiffeq import odeint

    check_choice("divergence", divergence, ("exact", "hutchinson"))
    check_positive("t0", t0)
    if not t0 < 1:
        raise ValueError(f"t0 must be below 1, got {t0!r}")
    exact = divergence == "exact"
    k = 1 if exact else check_count("n_probes", n_probes)
    d = x[0].numel()
    probes = None if exact else (torch.randint(0, 2, (k, *x.shape), generator=generator, dtype=x.dtype,
                                               device=x.device) * 2 - 1)
    calls = [0]

    def field(t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        t = t.clamp(t0, 1.0)  # dopri5's last stages may fall past the end
        z = state[0].detach()
        calls[0] += 1
        with torch.enable_grad():
            z.requires_grad_(True)
            if exact:
                s, div = value_and_divergence(lambda u: score(u, t), z)
                div = div[:, None]
            else:
                s, vjp = torch.func.vjp(lambda u: score(u, t), z)
                div = torch.stack([(vjp(v)[0] * v).flatten(1).sum(1) for v in probes], 1)
        a, g2 = sde.a(t), sde.g2(t)
        velocity = a * z - 0.5 * g2 * s
        return velocity.detach(), (a * d - 0.5 * g2 * div).detach()

    times = torch.tensor([t0, 1.0], dtype=x.dtype, device=x.device)
    start = (x.detach(), torch.zeros(x.shape[0], k, dtype=x.dtype, device=x.device))
    path_x, path_div = odeint(field, start, times, rtol=rtol, atol=atol, method="dopri5")
    x1, integral = path_x[-1], path_div[-1]
    end = (terminal_log_prob or sde.prior_log_prob)(x1)
    per_probe = end[:, None] + integral
    se = (per_probe.std(1) / math.sqrt(k) if k > 1 else torch.zeros_like(end) if exact
          else torch.full_like(end, math.nan))  # one probe: no spread to estimate the error from
    return LogLikelihood(per_probe.mean(1), se, x1, calls[0])


def beyond_prior(x1: Tensor, sde: SDE) -> Tensor:
    r"""Which end points ``x1`` ``(B, *event)`` of the probability-flow ODE lie where the prior has no mass,
    ``(B,)`` bool: :math:`\|x_1\|^2/\varsigma^2 > D + 10\sqrt{2D} + 50`, ς the prior's standard deviation. Under
    the prior :math:`\|x_1\|^2/\varsigma^2 \sim \chi^2_D` (mean D, sd √(2D)), so no prior draw gets there (its
    chance is below 1e-12 for every D). A point carried there was pushed by a score the network extrapolates far
    from its data (small noise, off the training points): its log p is dominated by the prior's log-density at an
    impossible place, a number of the solver, not a density the model supports.

    >>> from scorematch.diffusion import VP
    >>> beyond_prior(torch.tensor([[0.5, -1.0], [300.0, 0.0]]), VP()).tolist()
    [False, True]
    """
    d = x1[0].numel()
    r2 = x1.flatten(1).square().sum(1) / sde.prior_std**2
    return r2 > d + 10 * math.sqrt(2 * d) + 50

