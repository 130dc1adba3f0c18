r"""The held-out score-matching criterion: how well a model fits, measured without the truth.

On points :math:`x_1..x_n` drawn from the data distribution :math:`p` but not trained on, the Hyvärinen loss

.. math::

    J(\theta) = \frac1n\sum_{i=1}^n \Big[\tfrac12\lVert s_\theta(x_i)\rVert^2 + \operatorname{tr}\nabla_x s_\theta(x_i)\Big]
    \;\approx\; \tfrac12 E_p\lVert s_\theta - \nabla\log p\rVert^2 - \tfrac12 E_p\lVert\nabla\log p\rVert^2

is the Fisher divergence to the data's score up to a constant that does not depend on the model (Hyvärinen
2005, integration by parts), so its minimum over training time is the best fit, whatever objective trained it.
On the training points the same quantity can fall without bound while the fit worsens (a flexible energy drives
the trace down at the points it sees); on held-out points it cannot.

The trace is exact where that is affordable — energy MLPs (the forward Laplacian of :mod:`scorematch.sweeps`)
or event sizes up to ``max_exact_dim`` (``D`` vector-Jacobian products) — and otherwise Hutchinson's estimate
with Rademacher probes drawn **once**, so that the curve over training time moves only with the model. A
noise-conditional model is judged through ``view`` (e.g. the model at its smallest σ).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from .._infra.checks import check_count
from ..derivatives import draw_probes
from ..fields import Energy, Field
from ..losses import explicit, properties_of, sliced
from ..protocol import as_model

__all__ = ["HeldOutCriterion", "HeldOutObjective", "hyvarinen_loss"]


def hyvarinen_loss(model: Field, x: Tensor, *, probes: Tensor | None = None) -> Tensor:
    r"""Per-sample :math:`\tfrac12\lVert s(x)\rVert^2 + \operatorname{tr}\nabla_x s(x)`, shape ``(B,)``: the exact
    trace without ``probes``, Hutchinson's estimate :math:`\frac1M\sum_m v_m^\top\nabla_x s\, v_m` with them
    (shape ``(M, *x.shape)``).

    >>> from scorematch import Score
    >>> hyvarinen_loss(Score(lambda z: -z), torch.tensor([[1.0, 2.0]]))  # ½·5 − 2
    tensor([0.5000])
    """
    if probes is None:
        return explicit(model, x)
    return sliced(model, x, probes=probes, variance_reduction=True)


class HeldOutCriterion:
    r"""``criterion(model) -> {"val_hyvarinen": J, ["val_loss": objective]}`` on fixed held-out points.

    Args:
        x: held-out points ``(n, *event)``, in the units the model is trained in; at most ``max_points`` of them
            (a fixed subset) are used.
        objective: the training objective ``objective(model, x, generator=g) -> (B,)``; if given, its mean on the
            held-out points is reported as ``val_loss``, with its noise or probes fixed by ``seed`` (not for an
            objective that declares its held-out value meaningless, ``properties_of(objective).heldout``: MCMC losses).
        view: maps the trained model to the field whose Hyvärinen loss is measured (default: the model itself;
            for a noise-conditional model, the model at its smallest σ).
        max_exact_dim: event sizes up to this get an exact trace even without the analytic sweeps.
        n_probes: Rademacher probes per point for Hutchinson's estimate when the trace is not exact.
        max_points, chunk_size, seed: the subset size, points per evaluation chunk, and the seed of the subset,
            the probes and the objective's noise.

    ``exact`` says whether the trace is exact for a model (decided on first use and then fixed).

    >>> from scorematch import Score
    >>> crit = HeldOutCriterion(torch.randn(1000, 2, generator=torch.Generator().manual_seed(0)))
    >>> round(crit(Score(lambda z: -z))["val_hyvarinen"], 2)   # N(0, I): −½E‖x‖² = −1, up to sampling error
    -0.96
    """

    key = "val_hyvarinen"

    def __init__(self, x: Tensor, *, objective: Callable[..., Tensor] | None = None,
                 view: Callable[[object], object] | None = None, max_exact_dim: int = 32, n_probes: int = 4,
                 max_points: int = 4096, chunk_size: int = 1024, seed: int = 0):
        if x.ndim < 2 or x.shape[0] < 1:
            raise ValueError(f"held-out data must have shape (n, *event) with n >= 1; got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("held-out data contain NaN or infinite values")
        check_count("max_points", max_points)
        g = torch.Generator().manual_seed(seed)
        if x.shape[0] > max_points:
            x = x[torch.randperm(x.shape[0], generator=g)[:max_points].to(x.device)]
        if objective is not None and not properties_of(objective).heldout:
            objective = None
        self.x, self.objective, self.view, self.seed = x.detach(), objective, view, seed
        self.max_exact_dim, self.chunk_size = max_exact_dim, check_count("chunk_size", chunk_size)
        self.dim = math.prod(x.shape[1:])
        self._probes = draw_probes(self.x.cpu(), check_count("n_probes", n_probes), "rademacher",
                                   generator=g).to(self.x.device)
        self.exact: bool | None = None

    def __call__(self, model: object) -> dict[str, float]:
        field = as_model(model if self.view is None else self.view(model), who="the criterion's model")
        if self.exact is None:
            self.exact = (isinstance(field, Energy) and field.uses_sweeps) or self.dim <= self.max_exact_dim
        x = _points(model, self.x)
        total = 0.0
        with torch.enable_grad():
            for start in range(0, x.shape[0], self.chunk_size):
                chunk = x[start : start + self.chunk_size]
                probes = None if self.exact else self._probes[:, start : start + self.chunk_size].to(chunk)
                total += float(hyvarinen_loss(field, chunk, probes=probes).detach().sum())
        values = {self.key: total / x.shape[0]}
        if self.objective is not None:
            values["val_loss"] = _objective_mean(self.objective, model, x, self.chunk_size, self.seed)
        return values


def _points(model: object, x: Tensor) -> Tensor:
    """The held-out points on the model's device and in its dtype."""
    param = next(iter(model.parameters()), None) if isinstance(model, nn.Module) else None
    return x if param is None else x.to(device=param.device, dtype=param.dtype)


def _objective_mean(objective: Callable[..., Tensor], model: object, x: Tensor, chunk_size: int, seed: int) -> float:
    """The objective's mean over ``x``, chunk ``i``'s noise drawn from a generator seeded ``seed + 1 + i``."""
    total = 0.0
    with torch.enable_grad():
        for i, start in enumerate(range(0, x.shape[0], chunk_size)):
            chunk = x[start : start + chunk_size]
            g = torch.Generator(device=chunk.device).manual_seed(seed + 1 + i)
            total += float(objective(model, chunk, generator=g).detach().sum())
    return total / x.shape[0]


class HeldOutObjective:
    """``criterion(model) -> {"val_loss": L}``: the training objective's mean on fixed held-out points, its noise
    fixed by ``seed`` — the criterion of an objective whose own loss is the measure of fit (a diffusion model's
    continuous-time loss weighs every noise level; the Hyvärinen loss of the model at one σ sees only that one).

    >>> import functools
    >>> from scorematch import Score, losses
    >>> crit = HeldOutObjective(torch.zeros(3, 2), functools.partial(losses.denoising, sigma=0.1))
    >>> round(crit(Score(lambda z: -z / 0.1**2))["val_loss"], 8)   # the optimal score of N(0, σ²I), data at 0
    0.0
    """

    key = "val_loss"

    def __init__(self, x: Tensor, objective: Callable[..., Tensor], *, max_points: int = 4096,
                 chunk_size: int = 1024, seed: int = 0):
        if x.ndim < 2 or x.shape[0] < 1:
            raise ValueError(f"held-out data must have shape (n, *event) with n >= 1; got {tuple(x.shape)}")
        g = torch.Generator().manual_seed(seed)
        if x.shape[0] > check_count("max_points", max_points):
            x = x[torch.randperm(x.shape[0], generator=g)[:max_points].to(x.device)]
        self.x, self.objective, self.seed = x.detach(), objective, seed
        self.chunk_size, self.dim = check_count("chunk_size", chunk_size), math.prod(x.shape[1:])

    def __call__(self, model: object) -> dict[str, float]:
        return {self.key: _objective_mean(self.objective, model, _points(model, self.x), self.chunk_size, self.seed)}
