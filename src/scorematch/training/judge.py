r"""The global judge of an energy model: its held-out log-likelihood, with log Z by sequential Monte Carlo.

The held-out Hyvärinen loss judges locally — it rewards a spike at a repeated value and cannot see the mass between
separated modes. The log-likelihood of points not trained on sees both. For an energy :math:`E` (standardized units,
:math:`z = (x - m)/s`) and held-out points :math:`x_1 \dots x_n`,

.. math::

    \bar\ell = \frac1n\sum_i \log p(x_i) = -\frac1n\sum_i E(z_i) - \log\hat Z - \sum_j \log s_j,\qquad
    \operatorname{se}(\bar\ell)^2 = \frac{\operatorname{var}_i \log p(x_i)}{n} + \operatorname{se}(\log\hat Z)^2,

in nats per point in data units. :math:`\log\hat Z` and its error come from
:func:`scorematch.samplers.smc.smc` through the ``smc`` sampler's report, and the same report says whether the
model can be normalised at all (:func:`scorematch.samplers.named.normalisation_problems`): a model that cannot gets no
number.

:class:`Snapshots` keeps the weights of every held-out evaluation during training, and :func:`choose` evaluates a
few of them (a quarter, half, three quarters of the way, the end, and the best by the held-out Hyvärinen loss) and
keeps the one of highest held-out log-likelihood among those that can be normalised.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..samplers.named import describe, draw

__all__ = ["HeldOut", "Snapshots", "choose", "heldout_log_likelihood", "mean_and_error", "normalise"]


@dataclass(frozen=True)
class HeldOut:
    """A held-out log-likelihood: ``mean`` nats per point (data units) and its standard error ``se`` (points and
    log Z together), ``per_column`` = mean/d, log Z with its error, the number of points, the SMC draw's one-line
    description, the problems that make the numbers unusable (``mean`` and ``se`` are NaN then), and seconds."""

    mean: float
    se: float
    per_column: float
    log_z: float
    log_z_se: float
    n: int
    smc: str
    problems: tuple[str, ...]
    seconds: float

    @property
    def normalisable(self) -> bool:
        """Whether SMC could normalise the model (no problems)."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN as ``None``)."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in {**asdict(self), "problems": list(self.problems)}.items()}

    def describe(self) -> str:
        """``"held-out log-likelihood -4.258 ± 0.127 nats per point (-1.065 per column), log Z 0.936 ± 0.012"``."""
        if not self.normalisable:
            return "the model cannot be normalised: " + "; ".join(self.problems)
        return (f"held-out log-likelihood {self.mean:.4g} ± {self.se:.2g} nats per point ({self.per_column:.4g} per "
                f"column) on {self.n} points, log Z {self.log_z:.4g} ± {self.log_z_se:.2g}")


def mean_and_error(log_p: Tensor, log_z_se: float) -> tuple[float, float]:
    """The mean of per-point log-likelihoods that share one log Z, and its standard error
    :math:`\\sqrt{\\operatorname{var}_i \\log p(x_i)/n + \\operatorname{se}(\\log\\hat Z)^2}`."""
    log_p = torch.as_tensor(log_p, dtype=torch.float64)
    n = log_p.numel()
    spread = float(log_p.var()) / n if n > 1 else 0.0
    return float(log_p.mean()), math.sqrt(spread + log_z_se**2)


def normalise(field: Any, event_shape: tuple[int, ...], *, n_particles: int = 1024, seed: int = 0,
              device: Any = None, progress: bool = False) -> tuple[float, float, dict[str, Any], list[str]]:
    """``(log Z, se, report, problems)`` of an energy ``field`` (standardized units) by the ``smc`` sampler: the
    draw's report (temperatures, weights, far samples) and why the model cannot be normalised (``[]``: it can)."""
    _, report = draw("smc", field, n_particles, tuple(event_shape), seed=seed, progress=progress, device=device)
    return report["smc"]["log_z"], report["smc"]["log_z_se"], report, report["normalisation_problems"]


def heldout_log_likelihood(field: Any, z: Tensor, *, log_scale: float = 0.0, n_particles: int = 1024,
                           seed: int = 0, progress: bool = False) -> tuple[HeldOut, Tensor]:
    """The module docstring's :math:`\\bar\\ell` of ``field`` at the standardized points ``z`` ``(n, *event)`` and
    the per-point log-likelihoods (data units; ``log_scale`` = :math:`\\sum_j\\log s_j`).

    >>> from scorematch import Energy
    >>> z = torch.randn(2000, 2, generator=torch.Generator().manual_seed(0))
    >>> held, _ = heldout_log_likelihood(Energy(lambda x: 0.5 * x.square().sum(-1)), z)   # N(0, I): −log 2π − 1
    >>> abs(held.mean - (-math.log(2 * math.pi) - 1)) < 3 * held.se
    True
    """
    t0 = time.perf_counter()
    param = next(iter(field.parameters()), None) if isinstance(field, nn.Module) else None
    device = param.device if param is not None else z.device
    log_z, log_z_se, report, problems = normalise(field, tuple(z.shape[1:]), n_particles=n_particles, seed=seed,
                                                  device=device, progress=progress)
    with torch.no_grad():
        energy = torch.cat([field.energy(c.to(device)).detach().double().cpu() for c in z.split(4096)])
    log_p = -energy - log_z - log_scale
    n = z.shape[0]
    if not torch.isfinite(log_p).all():
        problems = [*problems, f"{int((~torch.isfinite(log_p)).sum())} of {n} held-out points have a non-finite energy"]
    mean, se = mean_and_error(log_p, log_z_se) if not problems else (math.nan, math.nan)
    d = math.prod(z.shape[1:])
    return HeldOut(mean, se, mean / d, log_z, log_z_se, n, describe(report), tuple(problems),
                   time.perf_counter() - t0), log_p


class Snapshots:
    """A held-out criterion that also keeps a copy of the weights it was called with (the EMA weights at each
    evaluation of :func:`scorematch.fit`), in call order: ``weights[k]`` is the k-th evaluation's."""

    def __init__(self, criterion: Callable[[nn.Module], dict[str, float]]):
        self.criterion = criterion
        self.weights: list[dict[str, Tensor]] = []

    def __getattr__(self, name: str) -> Any:  # the wrapped criterion's attributes (e.g. ``exact``)
        return getattr(self.criterion, name)

    def __call__(self, model: nn.Module) -> dict[str, float]:
        self.weights.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return self.criterion(model)


def choose(model: nn.Module, snapshots: list[dict[str, Tensor]], steps: list[int], best_step: int | None,
           judge: Callable[[nn.Module], HeldOut]) -> tuple[int | None, HeldOut, list[dict[str, Any]]]:
    """Judge the model as it is (the weights training kept, at ``best_step``) and the snapshots at a quarter, half
    and three quarters of the evaluations and the last (``steps[k]`` is snapshot k's step); load the weights of
    the highest held-out log-likelihood among those that can be normalised (the kept ones when none can) and
    return their step, their judgement and every candidate's record."""
    kept = {k: v.detach().clone() for k, v in model.state_dict().items()}
    picks = sorted({min(len(snapshots) - 1, max(0, round(f * len(snapshots)) - 1)) for f in (0.25, 0.5, 0.75, 1.0)}
                   ) if snapshots else []
    candidates: list[tuple[int | None, dict[str, Tensor]]] = [(best_step, kept)]
    candidates += [(steps[k], snapshots[k]) for k in picks if steps[k] != best_step]
    judged = []
    for step, weights in candidates:
        model.load_state_dict(weights)
        judged.append((step, weights, judge(model)))
    ok = [j for j in judged if j[2].normalisable]
    step, weights, held = max(ok, key=lambda j: j[2].mean) if ok else judged[0]
    model.load_state_dict(weights)
    records = [{"step": s, **{k: v for k, v in h.to_dict().items() if k in ("mean", "se", "problems")}}
               for s, _, h in judged]
    return step, held, records
