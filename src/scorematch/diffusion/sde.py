r"""Forward SDEs of score-based diffusion (Song et al. 2021, "Score-based generative modeling through stochastic
differential equations", ICLR), on :math:`t \in [0, 1]`:

.. math::

    dx = f(x, t)\,dt + g(t)\,dw, \qquad f(x, t) = a(t)\,x,

linear in x, so that the law of :math:`x_t` given :math:`x_0` is Gaussian,
:math:`x_t \mid x_0 \sim \mathcal N\big(m(t)\,x_0,\ \sigma(t)^2 I\big)` (the *perturbation kernel*), whose mean
coefficient and variance solve :math:`m' = a\,m` and :math:`(\sigma^2)' = 2a\,\sigma^2 + g^2` from
:math:`m(0) = 1, \sigma(0) = 0`.

=========  ======================================  =====================================  ==============================
SDE        :math:`a(t)`, :math:`g(t)^2`            :math:`m(t)`                           :math:`\sigma(t)`
=========  ======================================  =====================================  ==============================
VE         0, :math:`\tfrac{d}{dt}\varsigma(t)^2`  1                                      :math:`\sqrt{\varsigma(t)^2 -
                                                                                          \varsigma_{\min}^2}`
VP         :math:`-\tfrac12\beta`, :math:`\beta`   :math:`e^{-B/2}`                       :math:`\sqrt{1 - e^{-B}}`
sub-VP     :math:`-\tfrac12\beta`,                 :math:`e^{-B/2}`                       :math:`1 - e^{-B}`
           :math:`\beta(1 - e^{-2B})`
=========  ======================================  =====================================  ==============================

with the VE scale :math:`\varsigma(t) = \varsigma_{\min}(\varsigma_{\max}/\varsigma_{\min})^t` (so
:math:`g^2 = 2\varsigma^2\log(\varsigma_{\max}/\varsigma_{\min})`; the kernel's exact variance
:math:`\varsigma^2 - \varsigma_{\min}^2`, eq. 29 of the paper, where its code uses :math:`\varsigma(t)` itself), and
the VP schedule :math:`\beta(t) = \beta_{\min} + t(\beta_{\max} - \beta_{\min})`,
:math:`B(t) = \int_0^t\beta = \beta_{\min}t + \tfrac12 t^2(\beta_{\max} - \beta_{\min})`. The prior, the law
:math:`x_1` is close to, is :math:`\mathcal N(0, \varsigma_{\max}^2 I)` for VE and :math:`\mathcal N(0, I)` for VP and
sub-VP.

Times are tensors of shape ``(B,)`` (or scalars); every coefficient broadcasts over a batch of any event shape.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .._infra.checks import check_positive
from .._infra.shapes import per_sample_view

__all__ = ["SDE", "VE", "VP", "SubVP", "TimeScore"]

TimeScore = Callable[[Tensor, Tensor], Tensor]
"""``score(x, t)``: the score of the law of :math:`x_t`, ``t`` a 0-d tensor (one time for the batch)."""


class SDE(ABC):
    """A linear forward SDE: its coefficients :meth:`a`, :meth:`g2` (:math:`g^2`), the kernel's :meth:`mean_coef` and
    :meth:`std`, and its prior :meth:`prior_std`; the rest follows here."""

    @abstractmethod
    def a(self, t: Tensor) -> Tensor:
        """:math:`a(t)`, the drift's coefficient."""
        raise NotImplementedError

    @abstractmethod
    def g2(self, t: Tensor) -> Tensor:
        """:math:`g(t)^2`, the squared diffusion."""
        raise NotImplementedError

    @abstractmethod
    def mean_coef(self, t: Tensor) -> Tensor:
        """:math:`m(t)`, the kernel's mean coefficient."""
        raise NotImplementedError

    @abstractmethod
    def std(self, t: Tensor) -> Tensor:
        """:math:`\\sigma(t)`, the kernel's standard deviation."""
        raise NotImplementedError

    prior_std: float = 1.0
    """The prior's standard deviation: :math:`x_1` is close to :math:`\\mathcal N(0, \\text{prior\\_std}^2 I)`."""

    def drift(self, x: Tensor, t: Tensor) -> Tensor:
        """:math:`f(x, t) = a(t)\\,x`."""
        return per_sample_view(self.a(_times(t, x)), x) * x

    def diffusion(self, t: Tensor) -> Tensor:
        """:math:`g(t)`."""
        return self.g2(torch.as_tensor(t)).sqrt()

    def marginal(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """:math:`x_t = m(t)\\,x_0 + \\sigma(t)\\,z` for the standard normal ``noise`` z (shape of ``x0``)."""
        t = _times(t, x0)
        return per_sample_view(self.mean_coef(t), x0) * x0 + per_sample_view(self.std(t), x0) * noise

    def time_of_std(self, sigma: Tensor, *, iterations: int = 60) -> Tensor:
        """The time t in [0, 1] at which the kernel's :meth:`std` equals ``sigma`` (increasing in t for every SDE
        here), by bisection — 60 halvings reach float64's resolution of [0, 1]; values beyond the range give the
        nearest end."""
        lo, hi = torch.zeros_like(sigma), torch.ones_like(sigma)
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            below = self.std(mid) < sigma
            lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
        return 0.5 * (lo + hi)

    def prior_sample(self, shape: tuple[int, ...], *, generator: torch.Generator | None = None,
                     dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> Tensor:
        """``shape[0]`` draws of the prior :math:`\\mathcal N(0, \\text{prior\\_std}^2 I)`, shape ``shape``."""
        return self.prior_std * torch.randn(shape, generator=generator, dtype=dtype, device=device)

    def prior_log_prob(self, x: Tensor) -> Tensor:
        """:math:`\\log \\mathcal N(x; 0, \\text{prior\\_std}^2 I)` per sample, shape ``(B,)``."""
        d = x[0].numel()
        s = self.prior_std
        return -0.5 * x.flatten(1).square().sum(1) / s**2 - d * (math.log(s) + 0.5 * math.log(2 * math.pi))


def _times(t: Tensor | float, x: Tensor) -> Tensor:
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    return t.expand(x.shape[0]) if t.ndim == 0 else t


@dataclass(frozen=True)
class VE(SDE):
    """Variance exploding: no drift, the noise scale growing geometrically from ``sigma_min`` to ``sigma_max``.

    >>> sde = VE(0.01, 50.0)
    >>> float(sde.std(torch.tensor(1.0, dtype=torch.float64)) ** 2)  # ς_max² − ς_min²
    2499.9999
    """

    sigma_min: float = 0.01
    sigma_max: float = 50.0

    def __post_init__(self) -> None:
        check_positive("sigma_min", self.sigma_min)
        check_positive("sigma_max", self.sigma_max)
        if not self.sigma_max > self.sigma_min:
            raise ValueError(f"sigma_max ({self.sigma_max}) must exceed sigma_min ({self.sigma_min})")

    @property
    def prior_std(self) -> float:  # type: ignore[override]
        return self.sigma_max

    def scale(self, t: Tensor) -> Tensor:
        """:math:`\\varsigma(t) = \\varsigma_{\\min}(\\varsigma_{\\max}/\\varsigma_{\\min})^t`."""
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** torch.as_tensor(t)

    def a(self, t: Tensor) -> Tensor:
        return torch.zeros_like(torch.as_tensor(t))

    def g2(self, t: Tensor) -> Tensor:
        return 2 * self.scale(t) ** 2 * math.log(self.sigma_max / self.sigma_min)

    def mean_coef(self, t: Tensor) -> Tensor:
        return torch.ones_like(torch.as_tensor(t))

    def std(self, t: Tensor) -> Tensor:
        return (self.scale(t) ** 2 - self.sigma_min**2).clamp_min(0).sqrt()


@dataclass(frozen=True)
class VP(SDE):
    """Variance preserving (the continuous DDPM): :math:`\\beta(t)` linear from ``beta_min`` to ``beta_max``.

    >>> sde = VP()
    >>> t = torch.tensor(1.0, dtype=torch.float64)
    >>> round(float(sde.mean_coef(t) ** 2 + sde.std(t) ** 2), 12)
    1.0
    """

    beta_min: float = 0.1
    beta_max: float = 20.0

    def __post_init__(self) -> None:
        check_positive("beta_min", self.beta_min)
        if not self.beta_max >= self.beta_min:
            raise ValueError(f"beta_max ({self.beta_max}) must be at least beta_min ({self.beta_min})")

    def beta(self, t: Tensor) -> Tensor:
        """:math:`\\beta(t)`."""
        return self.beta_min + torch.as_tensor(t) * (self.beta_max - self.beta_min)

    def integral(self, t: Tensor) -> Tensor:
        """:math:`B(t) = \\int_0^t \\beta`."""
        t = torch.as_tensor(t)
        return self.beta_min * t + 0.5 * t**2 * (self.beta_max - self.beta_min)

    def a(self, t: Tensor) -> Tensor:
        return -0.5 * self.beta(t)

    def g2(self, t: Tensor) -> Tensor:
        return self.beta(t)

    def mean_coef(self, t: Tensor) -> Tensor:
        return torch.exp(-0.5 * self.integral(t))

    def std(self, t: Tensor) -> Tensor:
        return (-torch.expm1(-self.integral(t))).sqrt()


@dataclass(frozen=True)
class SubVP(VP):
    """Sub-variance preserving: the VP drift with the smaller diffusion :math:`\\beta(1 - e^{-2B})`, whose kernel's
    variance stays below VP's at every t."""

    def g2(self, t: Tensor) -> Tensor:
        return self.beta(t) * -torch.expm1(-2 * self.integral(t))

    def std(self, t: Tensor) -> Tensor:
        return -torch.expm1(-self.integral(t))
