r"""Harder targets with an exact density: heavy tails, funnels, curved and non-Gaussian densities, any dimension.

They complete :mod:`~scorematch.models.analytic` (Gaussians, mixtures, rings) with the shapes on which a
score-matching fit fails first, and share its interface: ``log_prob(x) -> (B,)``, ``score(x) -> (B, d)`` in
closed form (not by autograd), ``energy``, exact ``sample(n, generator)``, ``dim``, ``mean`` and ``cov``.

==========================  =====================================================================================
:class:`StudentT`           multivariate Student-t with ν degrees of freedom: polynomial tails
:class:`Funnel`             Neal's funnel: :math:`v \sim N(0, a^2)`, :math:`x_i \mid v \sim N(0, e^{v})`
:class:`Banana`             a twisted Gaussian (Haario et al. 1999): :math:`y_2 = x_2 + b(x_1^2 - a^2)`
:class:`LogisticICA`        :math:`x = A s` with independent standard logistic sources (Hyvärinen 2005, §4)
==========================  =====================================================================================
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from .._infra.checks import check_count, check_positive
from .analytic import AnalyticTarget, _floats

__all__ = ["Banana", "Funnel", "LogisticICA", "StudentT"]


def _numpy_rng(generator: torch.Generator | None) -> np.random.Generator:
    """A numpy generator seeded from ``generator`` (for the gamma draws torch cannot take a generator for)."""
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))


class StudentT(AnalyticTarget):
    r"""The multivariate Student-t :math:`t_\nu(\mu, \Sigma)` in ``d`` dimensions. With
    :math:`q = (x-\mu)^\top\Sigma^{-1}(x-\mu)`:

    .. math::

        \log p(x) = \log\Gamma\big(\tfrac{\nu+d}2\big) - \log\Gamma\big(\tfrac\nu2\big) - \tfrac d2\log(\nu\pi)
        - \tfrac12\log\lvert\Sigma\rvert - \tfrac{\nu+d}2\log\big(1 + q/\nu\big),
        \qquad \nabla\log p(x) = -\frac{\nu+d}{\nu+q}\,\Sigma^{-1}(x-\mu).

    Draws are :math:`\mu + L z\sqrt{\nu/g}`, :math:`z \sim N(0, I)`, :math:`g \sim \chi^2_\nu`; the covariance is
    :math:`\tfrac{\nu}{\nu-2}\Sigma` for ν > 2.

    >>> t = StudentT([0.0], [[1.0]], df=3.0)
    >>> t.score(torch.tensor([[1.0]]))   # −(3+1)/(3+1)·1
    tensor([[-1.]])
    """

    def __init__(self, loc: object, scale: object, df: float):
        p = _floats(loc=loc, scale=scale)
        loc, scale = p["loc"], p["scale"]
        if loc.ndim != 1 or loc.numel() == 0:
            raise ValueError(f"loc must be a vector of shape (d,); got shape {tuple(loc.shape)}")
        d = loc.numel()
        chol, info = torch.linalg.cholesky_ex(scale) if scale.shape == (d, d) else (None, 1)
        if info != 0 or not torch.allclose(scale, scale.mT):
            raise ValueError(f"scale must be a symmetric positive definite ({d}, {d}) matrix")
        self.loc, self.scale, self.df, self.dim = loc, scale, check_positive("df", df), d
        self._chol, self._prec = chol, torch.cholesky_inverse(chol)
        self._log_norm = (math.lgamma((df + d) / 2) - math.lgamma(df / 2) - d / 2 * math.log(df * math.pi)
                          - chol.diagonal().log().sum())

    def _params(self) -> dict[str, Tensor]:
        return {"loc": self.loc, "scale": self.scale}

    def to(self, *args: object, **kwargs: object) -> StudentT:
        return StudentT(self.loc.to(*args, **kwargs), self.scale.to(*args, **kwargs), self.df)

    def _parts(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x)
        r = x - self.loc.to(x)
        pr = r @ self._prec.to(x)                          # Σ⁻¹(x − μ)
        return (r * pr).sum(-1), pr

    def log_prob(self, x: Tensor) -> Tensor:
        q, _ = self._parts(x)
        return self._log_norm.to(x) - (self.df + self.dim) / 2 * torch.log1p(q / self.df)

    def score(self, x: Tensor) -> Tensor:
        q, pr = self._parts(x)
        return -((self.df + self.dim) / (self.df + q)).unsqueeze(-1) * pr

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        check_count("n", n)
        opts = dict(dtype=self.loc.dtype, device=self.loc.device)
        z = torch.randn(n, self.dim, generator=generator, **opts) @ self._chol.mT
        g = torch.as_tensor(_numpy_rng(generator).chisquare(self.df, n), **opts)
        return self.loc + z * (self.df / g).sqrt().unsqueeze(-1)

    @property
    def mean(self) -> Tensor:
        """:math:`\\mu` (defined for ν > 1)."""
        return self.loc

    @property
    def cov(self) -> Tensor:
        """:math:`\\tfrac{\\nu}{\\nu-2}\\Sigma` for ν > 2 (infinite otherwise)."""
        return self.scale * (self.df / (self.df - 2) if self.df > 2 else math.inf)


class _ScalarParameters(AnalyticTarget):
    """A target whose parameters are Python numbers: nothing to move, so ``to`` returns it unchanged and
    computations follow the dtype and device of ``x``."""

    def _params(self) -> dict[str, Tensor]:
        return {}

    def to(self, *args: object, **kwargs: object) -> AnalyticTarget:
        return self


class Funnel(_ScalarParameters):
    r"""Neal's funnel in ``dim`` dimensions: :math:`v = x_0 \sim N(0, a^2)` and, given it, each of
    :math:`x_1..x_{d-1} \sim N(0, e^{v})`:

    .. math::

        \log p = -\frac{v^2}{2a^2} - \tfrac12\log(2\pi a^2) - \sum_{i\ge1}\Big(\frac{x_i^2 e^{-v}}2 + \frac v2
        + \tfrac12\log 2\pi\Big),\quad
        \partial_v\log p = -\frac v{a^2} - \frac{d-1}2 + \frac{e^{-v}}2\sum_{i\ge1}x_i^2,\quad
        \partial_{x_i}\log p = -x_i e^{-v}.

    The neck narrows exponentially in :math:`v`: the scale changes by :math:`e^{a}` across one standard
    deviation of :math:`v` (Neal 2003 uses :math:`a = 3`).

    >>> Funnel(2, scale=1.0).score(torch.tensor([[0.0, 1.0]]))
    tensor([[ 0., -1.]])
    """

    def __init__(self, dim: int, scale: float = 1.0):
        self.dim = check_count("dim", dim)
        if dim < 2:
            raise ValueError(f"a funnel needs dim >= 2, got {dim}")
        self.scale = check_positive("scale", scale)

    def log_prob(self, x: Tensor) -> Tensor:
        self._check(x)
        v, rest = x[..., 0], x[..., 1:]
        k, a = self.dim - 1, self.scale
        return (-v.square() / (2 * a * a) - 0.5 * math.log(2 * math.pi * a * a)
                - 0.5 * rest.square().sum(-1) * torch.exp(-v) - k * v / 2 - k / 2 * math.log(2 * math.pi))

    def score(self, x: Tensor) -> Tensor:
        self._check(x)
        v, rest = x[..., :1], x[..., 1:]
        inv = torch.exp(-v)
        sv = -v / self.scale**2 - (self.dim - 1) / 2 + 0.5 * inv * rest.square().sum(-1, keepdim=True)
        return torch.cat([sv, -rest * inv], -1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        check_count("n", n)
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.get_default_dtype())
        v = self.scale * z[:, :1]
        return torch.cat([v, z[:, 1:] * torch.exp(v / 2)], -1)

    @property
    def mean(self) -> Tensor:
        return torch.zeros(self.dim)

    @property
    def cov(self) -> Tensor:
        """:math:`\\mathrm{diag}(a^2, e^{a^2/2}, …)`: :math:`E[e^{v}] = e^{a^2/2}`."""
        return torch.diag(torch.tensor([self.scale**2] + [math.exp(self.scale**2 / 2)] * (self.dim - 1)))


class Banana(_ScalarParameters):
    r"""A twisted Gaussian: :math:`x \sim N(0, \mathrm{diag}(a^2, 1, …, 1))` bent by
    :math:`y_2 = x_2 + b(x_1^2 - a^2)`, other coordinates unchanged (volume-preserving). With
    :math:`u = y_2 - b(y_1^2 - a^2)`:

    .. math::

        \log p(y) = -\frac{y_1^2}{2a^2} - \frac{u^2}2 - \sum_{i\ge3}\frac{y_i^2}2 - \tfrac d2\log 2\pi - \log a,
        \qquad \nabla\log p = \big(-y_1/a^2 + 2b\,y_1 u,\ -u,\ -y_3, …\big).

    Mean 0; covariance :math:`\mathrm{diag}(a^2,\ 1 + 2b^2a^4,\ 1, …)`.

    >>> Banana(2, curvature=1.0, scale=1.0).score(torch.tensor([[1.0, 0.0]]))   # u = 0
    tensor([[-1., -0.]])
    """

    def __init__(self, dim: int = 2, curvature: float = 1.0, scale: float = 1.0):
        self.dim = check_count("dim", dim)
        if dim < 2:
            raise ValueError(f"a banana needs dim >= 2, got {dim}")
        self.curvature, self.scale = float(curvature), check_positive("scale", scale)

    def _u(self, y: Tensor) -> Tensor:
        self._check(y)
        return y[..., 1] - self.curvature * (y[..., 0].square() - self.scale**2)

    def log_prob(self, x: Tensor) -> Tensor:
        u = self._u(x)
        return (-x[..., 0].square() / (2 * self.scale**2) - u.square() / 2 - x[..., 2:].square().sum(-1) / 2
                - self.dim / 2 * math.log(2 * math.pi) - math.log(self.scale))

    def score(self, x: Tensor) -> Tensor:
        u = self._u(x)
        s1 = -x[..., 0] / self.scale**2 + 2 * self.curvature * x[..., 0] * u
        return torch.cat([s1.unsqueeze(-1), -u.unsqueeze(-1), -x[..., 2:]], -1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        check_count("n", n)
        x = torch.randn(n, self.dim, generator=generator, dtype=torch.get_default_dtype())
        x[:, 0] *= self.scale
        x[:, 1] += self.curvature * (x[:, 0].square() - self.scale**2)
        return x

    @property
    def mean(self) -> Tensor:
        return torch.zeros(self.dim)

    @property
    def cov(self) -> Tensor:
        a, b = self.scale, self.curvature
        return torch.diag(torch.tensor([a * a, 1 + 2 * b * b * a**4] + [1.0] * (self.dim - 2)))


class LogisticICA(AnalyticTarget):
    r"""Independent component analysis: :math:`x = A s` with independent standard logistic sources
    :math:`f(s) = e^{-s}/(1+e^{-s})^2`. With :math:`W = A^{-1}` and rows :math:`w_i`:

    .. math::

        \log p(x) = \sum_i \log f(w_i^\top x) + \log\lvert\det W\rvert,\qquad
        \nabla\log p(x) = -W^\top \tanh\big(\tfrac12 W x\big),

    since :math:`(\log f)'(s) = -\tanh(s/2)`. Mean 0; covariance :math:`\tfrac{\pi^2}3 A A^\top`.

    >>> LogisticICA(torch.eye(2)).score(torch.tensor([[2.0, -2.0]]))   # −tanh(±1)
    tensor([[-0.7616,  0.7616]])
    """

    def __init__(self, mixing: object):
        a = _floats(mixing=mixing)["mixing"]
        if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
            raise ValueError(f"mixing must be a square (d, d) matrix; got shape {tuple(a.shape)}")
        if torch.linalg.matrix_rank(a) < a.shape[0]:
            raise ValueError("mixing must be invertible")
        self.mixing, self.dim = a, a.shape[0]
        self._unmix = torch.linalg.inv(a)
        self._log_det = torch.linalg.slogdet(self._unmix)[1]

    def _params(self) -> dict[str, Tensor]:
        return {"mixing": self.mixing}

    def log_prob(self, x: Tensor) -> Tensor:
        self._check(x)
        s = (x @ self._unmix.to(x).mT).abs()
        return (-s - 2 * torch.log1p(torch.exp(-s))).sum(-1) + self._log_det.to(x)

    def score(self, x: Tensor) -> Tensor:
        self._check(x)
        w = self._unmix.to(x)
        return -torch.tanh(0.5 * (x @ w.mT)) @ w

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        check_count("n", n)
        u = torch.rand(n, self.dim, generator=generator, dtype=self.mixing.dtype).clamp(1e-12, 1 - 1e-12)
        return (u.log() - (-u).log1p()) @ self.mixing.mT

    @property
    def mean(self) -> Tensor:
        return torch.zeros(self.dim, dtype=self.mixing.dtype)

    @property
    def cov(self) -> Tensor:
        return math.pi**2 / 3 * self.mixing @ self.mixing.mT
