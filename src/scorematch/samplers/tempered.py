r"""The tempering path shared by sequential Monte Carlo, annealed importance sampling and parallel tempering.

From a broad base :math:`\pi_0 = N(m, s^2 I)` with energy :math:`E_0(x) = \lVert x - m\rVert^2 / (2s^2)` to the model
:math:`e^{-E}`, the geometric path at inverse temperature :math:`\beta \in [0, 1]` has

.. math::

    E_\beta(x) = (1 - \beta)\,E_0(x) + \beta\,E(x) = E_0(x) + \beta\,U(x),\qquad U = E - E_0,\qquad
    s_\beta(x) = (1 - \beta)\,\frac{m - x}{s^2} + \beta\,s(x).

Every :math:`\pi_\beta` with :math:`\beta < 1` is a proper density even when :math:`e^{-E}` decays slowly, and
:math:`\log Z_0 = \frac D2 \log(2\pi s^2)`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from .._infra.checks import check_positive
from .._infra.shapes import sum_event
from ..protocol import as_model
from .state import evaluate

__all__ = ["Base", "Tempered", "target_energy"]


class Base:
    """The base :math:`N(m, s^2 I)` over events of ``shape``: its energy, score, log-normaliser and draws."""

    def __init__(self, shape: tuple[int, ...], mean: float | Tensor = 0.0, std: float = 1.0):
        self.shape = tuple(shape)
        self.std = check_positive("base_std", std)
        m = torch.as_tensor(mean, dtype=torch.float64)
        try:
            self.mean = m.expand(self.shape)
        except RuntimeError:
            raise ValueError(f"base_mean must be a float or a tensor of shape {self.shape}, "
                             f"got shape {tuple(m.shape)}") from None

    @property
    def log_z(self) -> float:
        """:math:`\\frac D2 \\log(2\\pi s^2)`."""
        return 0.5 * math.prod(self.shape) * math.log(2 * math.pi * self.std**2)

    def energy(self, x: Tensor) -> Tensor:
        return 0.5 * sum_event((x - self.mean.to(x)).square()) / self.std**2

    def score(self, x: Tensor) -> Tensor:
        return (self.mean.to(x) - x) / self.std**2

    def sample(self, n: int, generator: torch.Generator | None, dtype: torch.dtype, device: Any) -> Tensor:
        z = torch.randn((n, *self.shape), generator=generator, dtype=dtype, device=device)
        return self.mean.to(z) + self.std * z


def target_energy(model: Any, x: Tensor, cond: tuple[Tensor, ...] = ()) -> Tensor:
    """:math:`E(x)` of a model with ``energy(x, *cond)``, shape ``(B,)``, no autograd graph."""
    model = as_model(model, kind="energy", who="a tempered sampler's model")
    with torch.no_grad():
        return model.energy(x, *cond)


class Tempered:
    """:math:`\\pi_\\beta` as a model for the samplers' steps: ``energy``, ``score`` and ``energy_and_score``."""

    def __init__(self, model: Any, base: Base, beta: float, cond: tuple[Tensor, ...] = ()):
        self.model, self.base, self.beta, self.cond = model, base, float(beta), cond

    def energy_and_score(self, x: Tensor) -> tuple[Tensor, Tensor]:
        st = evaluate(self.model, x, self.cond, need_energy=True)
        b = self.beta
        if b == 1.0:
            return st.energy, st.score
        return (1 - b) * self.base.energy(x) + b * st.energy, (1 - b) * self.base.score(x) + b * st.score

    def energy(self, x: Tensor) -> Tensor:
        return self.energy_and_score(x)[0]

    def score(self, x: Tensor) -> Tensor:
        b = self.beta
        s = evaluate(self.model, x, self.cond).score
        return s if b == 1.0 else (1 - b) * self.base.score(x) + b * s
