r"""Targets with an exact density: log-density, score, energy and exact samples, all in closed form.

They are the oracles of the test suite and of the metrics: a learned score is compared with :meth:`score`,
a sampler's output with :meth:`sample`, :attr:`mean` and :attr:`cov`, a grid log-likelihood with
:meth:`log_prob`. Scores are computed from their formula, not by automatic differentiation.

=========================  ==================================================================================
:class:`Gaussian`          :math:`N(\mu, \Sigma)` in any dimension
:class:`GaussianMixture`   :math:`\sum_k w_k N(\mu_k, \Sigma_k)`, full covariances
:class:`RingMixture`       2D rings: the radius is a Gaussian bump around :math:`r_k`, the angle uniform
=========================  ==================================================================================

Every target has ``log_prob(x) -> (B,)``, ``score(x) -> (B, d)``, ``energy(x) = -log_prob(x)``,
``sample(n, generator=None) -> (n, d)``, ``dim``, ``mean``, ``cov`` and ``to(...)``. ``log_prob`` and ``score``
compute in the dtype and on the device of ``x`` (any leading shape, last dimension ``d``); ``sample`` in those
of the parameters, which are plain tensors. Use them as models with ``Energy(target.energy)`` or
``Score(target.score)``. The factories :func:`eight_gaussians`, :func:`rings`, :func:`circles` and
:func:`ncsn_toy` build the fixed targets behind the built-in data sets (registry :data:`ANALYTIC`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
from torch import Tensor

from .._infra.checks import check_count

__all__ = ["ANALYTIC", "AnalyticTarget", "Gaussian", "GaussianMixture", "RingMixture", "circles", "eight_gaussians",
           "ncsn_toy", "rings"]


def _floats(**values: object) -> dict[str, Tensor]:
    """The values as finite floating tensors of one common dtype (promoted; integers become the default dtype)."""
    out = {k: torch.as_tensor(v) for k, v in values.items()}
    floats = [t.dtype for t in out.values() if t.is_floating_point()] or [torch.get_default_dtype()]
    dtype, device = functools.reduce(torch.promote_types, floats), next(iter(out.values())).device
    for k, t in out.items():
        out[k] = t.to(dtype=dtype, device=device)
        if not torch.isfinite(out[k]).all():
            raise ValueError(f"{k} must be finite; got {out[k].tolist()}")
    return out


def _mixture_log_weights(weights: Tensor, k: int) -> Tensor:
    if weights.shape != (k,) or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"weights must be {k} numbers >= 0 with a positive sum; got {weights.tolist()}")
    return torch.log(weights / weights.sum())


class AnalyticTarget:
    """A density known in closed form; see the module docstring. Subclasses set ``dim`` and the methods."""

    dim: int

    def log_prob(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def score(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError

    def energy(self, x: Tensor) -> Tensor:
        """:math:`E(x) = -\\log p(x)`, normalised (its :math:`\\log Z` is 0), shape ``x.shape[:-1]``."""
        return -self.log_prob(x)

    def component(self, x: Tensor) -> Tensor:
        """The most probable mixture component of each point (argmax of :math:`w_k q_k(x)`), shape ``x.shape[:-1]``."""
        return self._parts(x)[0].argmax(-1)

    def _parts(self, x: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def _params(self) -> dict[str, Tensor]:
        raise NotImplementedError

    def to(self, *args: object, **kwargs: object) -> AnalyticTarget:
        """A copy with every parameter passed through ``Tensor.to(*args, **kwargs)`` (dtype and/or device)."""
        return type(self)(**{k: v.to(*args, **kwargs) for k, v in self._params().items()})

    def _check(self, x: Tensor) -> None:
        if x.ndim < 1 or x.shape[-1] != self.dim:
            raise ValueError(f"{type(self).__name__}: x must have shape (B, {self.dim}); got {tuple(x.shape)}")


class GaussianMixture(AnalyticTarget):
    r"""A mixture of Gaussians with full covariances,
    :math:`p(x) = \sum_k w_k\, N(x; \mu_k, \Sigma_k)`.

    With :math:`\log N_k = -\tfrac12\lVert L_k^{-1}(x-\mu_k)\rVert^2 - \log\lvert L_k\rvert - \tfrac d2 \log 2\pi`
    (:math:`\Sigma_k = L_k L_k^\top`), :math:`\log p = \operatorname{logsumexp}_k(\log w_k + \log N_k)` and the score
    is the posterior-weighted sum of the component scores,
    :math:`\nabla\log p = \sum_k \pi_k(x)\,\big(-\Sigma_k^{-1}(x-\mu_k)\big)` with
    :math:`\pi = \operatorname{softmax}_k(\log w_k + \log N_k)`; both are stable far from every component.

    Args:
        weights: ``(K,)``, ≥ 0 with a positive sum; normalised to sum to 1.
        means: ``(K, d)``.
        covs: ``(K, d, d)``, symmetric positive definite.

    >>> gmm = GaussianMixture([0.5, 0.5], [[-1.0], [1.0]], [[[1.0]], [[1.0]]])
    >>> gmm.score(torch.tensor([[0.0], [1.0]]))   # here ∇log p(x) = tanh(x) − x
    tensor([[ 0.0000],
            [-0.2384]])
    """

    def __init__(self, weights: object, means: object, covs: object):
        p = _floats(weights=weights, means=means, covs=covs)
        means, covs = p["means"], p["covs"]
        if means.ndim != 2 or means.shape[0] == 0 or means.shape[1] == 0:
            raise ValueError(f"means must have shape (K, d) with K, d >= 1; got {tuple(means.shape)}")
        k, d = means.shape
        if covs.shape != (k, d, d):
            raise ValueError(f"covs must have shape ({k}, {d}, {d}) to match means; got {tuple(covs.shape)}")
        if not torch.allclose(covs, covs.mT, rtol=1e-6, atol=0.0):
            raise ValueError("covs must be symmetric")
        chol, info = torch.linalg.cholesky_ex(covs)
        if (info != 0).any():
            raise ValueError(f"covs must be positive definite; component(s) {(info != 0).nonzero().flatten().tolist()} "
                             "are not")
        self.weights, self.means, self.covs, self.dim = p["weights"], means, covs, d
        self._log_w = _mixture_log_weights(self.weights, k)
        self._chol = chol
        self._white = torch.linalg.solve_triangular(chol, torch.eye(d, dtype=chol.dtype, device=chol.device), upper=False)
        self._log_norm = chol.diagonal(dim1=-2, dim2=-1).log().sum(-1) + 0.5 * d * math.log(2 * math.pi)  # (K,)

    def _params(self) -> dict[str, Tensor]:
        return {"weights": self.weights, "means": self.means, "covs": self.covs}

    def _parts(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Log of :math:`w_k N_k(x)`, shape ``(..., K)``, and the component scores, shape ``(..., K, d)``."""
        self._check(x)
        white = self._white.to(x)                                              # L⁻¹, (K, d, d)
        r = x.unsqueeze(-2) - self.means.to(x)                                  # (..., K, d)
        z = torch.einsum("kij,...kj->...ki", white, r)                           # L⁻¹(x − μ)
        scores = -torch.einsum("kij,...ki->...kj", white, z)                     # −L⁻ᵀL⁻¹(x − μ) = −Σ⁻¹(x − μ)
        log_joint = self._log_w.to(x) - 0.5 * z.square().sum(-1) - self._log_norm.to(x)
        return log_joint, scores

    def log_prob(self, x: Tensor) -> Tensor:
        """:math:`\\log p(x)`, shape ``x.shape[:-1]``."""
        return torch.logsumexp(self._parts(x)[0], -1)

    def score(self, x: Tensor) -> Tensor:
        """:math:`\\nabla_x \\log p(x)` in closed form, shape ``x.shape``."""
        log_joint, scores = self._parts(x)
        return (torch.softmax(log_joint, -1).unsqueeze(-1) * scores).sum(-2)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` exact draws, shape ``(n, d)``: a component by its weight, then :math:`\\mu_k + L_k\\varepsilon`."""
        check_count("n", n)
        opts = dict(dtype=self.means.dtype, device=self.means.device)
        idx = torch.multinomial(self._log_w.exp(), n, replacement=True, generator=generator)
        eps = torch.randn(n, self.dim, 1, generator=generator, **opts)
        return self.means[idx] + (self._chol[idx] @ eps).squeeze(-1)

    @property
    def mean(self) -> Tensor:
        """:math:`\\sum_k w_k \\mu_k`, shape ``(d,)``."""
        return self._log_w.exp() @ self.means

    @property
    def cov(self) -> Tensor:
        """:math:`\\sum_k w_k\\big(\\Sigma_k + (\\mu_k - \\bar\\mu)(\\mu_k - \\bar\\mu)^\\top\\big)`, shape ``(d, d)``."""
        w, m = self._log_w.exp(), self.mean
        centred = self.means - m
        return (w[:, None, None] * (self.covs + centred.unsqueeze(-1) * centred.unsqueeze(-2))).sum(0)


class Gaussian(GaussianMixture):
    r"""The normal distribution :math:`N(\mu, \Sigma)`:
    :math:`\log p(x) = -\tfrac12 (x-\mu)^\top\Sigma^{-1}(x-\mu) - \tfrac12\log\lvert 2\pi\Sigma\rvert`,
    :math:`\nabla\log p(x) = -\Sigma^{-1}(x-\mu)`.

    Args:
        mean: ``(d,)``.
        cov: ``(d, d)`` symmetric positive definite; or, instead,
        precision: :math:`\Sigma^{-1}` (then ``cov`` is its inverse).

    >>> g = Gaussian([1.0, 0.0], [[2.0, 0.0], [0.0, 0.5]])
    >>> g.score(torch.tensor([[0.0, 1.0]]))
    tensor([[ 0.5000, -2.0000]])
    """

    def __init__(self, mean: object, cov: object = None, *, precision: object = None):
        if (cov is None) == (precision is None):
            raise ValueError("Gaussian: give exactly one of cov or precision")
        p = _floats(mean=mean, matrix=cov if precision is None else precision)
        mean, matrix = p["mean"], p["matrix"]
        if mean.ndim != 1 or mean.numel() == 0:
            raise ValueError(f"mean must be a vector of shape (d,); got shape {tuple(mean.shape)}")
        if precision is not None:
            d = mean.numel()
            chol, info = torch.linalg.cholesky_ex(matrix) if matrix.shape == (d, d) else (None, 1)
            if info != 0 or not torch.allclose(matrix, matrix.mT):
                raise ValueError(f"precision must be a symmetric positive definite ({d}, {d}) matrix")
            matrix = torch.cholesky_inverse(chol)
        super().__init__(torch.ones((), dtype=mean.dtype).expand(1), mean.unsqueeze(0), matrix.unsqueeze(0))

    def _params(self) -> dict[str, Tensor]:
        return {"mean": self.means[0], "cov": self.covs[0]}

    @property
    def mean(self) -> Tensor:
        """:math:`\\mu`, shape ``(d,)``."""
        return self.means[0]

    @property
    def cov(self) -> Tensor:
        """:math:`\\Sigma`, shape ``(d, d)``."""
        return self.covs[0]


def _radial_moments(radius: Tensor, width: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r""":math:`M_j = \int_0^\infty r^j e^{-(r-R)^2/(2s^2)}\,dr` for j = 0..3, by integrating by parts:
    :math:`M_{j+1} = R M_j + j s^2 M_{j-1}`, :math:`M_1 = R M_0 + s^2 e^{-R^2/(2s^2)}`."""
    r, s = radius, width
    m0 = s * math.sqrt(math.pi / 2) * (1 + torch.erf(r / (s * math.sqrt(2))))
    m1 = r * m0 + s**2 * torch.exp(-(r**2) / (2 * s**2))
    m2 = r * m1 + s**2 * m0
    return m0, m1, m2, r * m2 + 2 * s**2 * m1


class RingMixture(AnalyticTarget):
    r"""Concentric rings in 2D: the angle is uniform, the radius of ring ``k`` a Gaussian bump at :math:`r_k`,

    .. math::

        p(x) = \sum_k w_k\, \frac{\exp\!\big(-(\lVert x\rVert - r_k)^2 / (2 s_k^2)\big)}{2\pi I_k},
        \qquad I_k = \int_0^\infty r\, e^{-(r-r_k)^2/(2s_k^2)}\,dr
        = s_k^2 e^{-r_k^2/(2s_k^2)} + r_k s_k\sqrt{\pi/2}\,\big(1 + \operatorname{erf}(r_k/(s_k\sqrt2))\big),

    normalised exactly; ``weights`` are the probabilities of the rings (an equal-weight mixture puts as many
    points on each ring). Score: :math:`\nabla\log p = \big(\sum_k \pi_k(x)(r_k-\lVert x\rVert)/s_k^2\big)\,
    x/\lVert x\rVert` with :math:`\pi` the ring posteriors. At the origin a ring of radius :math:`r_k > 0` has a
    conical kink (the log-density rises like :math:`r_k\lVert x\rVert/s_k^2`), so the gradient does not exist
    there; :meth:`score` returns 0 at ``x = 0`` exactly (the symmetric subgradient), and is smooth elsewhere.
    Samples are exact: the radius by rejection from :math:`(\lvert r-r_k\rvert + r_k)e^{-(r-r_k)^2/(2s_k^2)}`
    (a normal plus a two-sided Rayleigh; acceptance ≥ ½), the angle uniform.

    Args:
        radii: ``(K,)``, each ≥ 0.
        weights: ``(K,)``, ≥ 0 with a positive sum; normalised to sum to 1.
        width: the radial standard deviation :math:`s > 0`, one number or one per ring.

    >>> ring = RingMixture([2.0], [1.0], 0.1)
    >>> ring.score(torch.tensor([[1.26, 1.68], [0.0, 0.0]]))   # radius 2.1: pulled back to 2; 0 at the origin
    tensor([[-6.0000, -8.0000],
            [ 0.0000,  0.0000]])
    """

    dim = 2

    def __init__(self, radii: object, weights: object, width: object):
        p = _floats(radii=radii, weights=weights, width=width)
        radii = p["radii"]
        if radii.ndim != 1 or radii.numel() == 0 or (radii < 0).any():
            raise ValueError(f"radii must be a non-empty vector of numbers >= 0; got {radii.tolist()}")
        k = radii.numel()
        if p["width"].ndim > 1 or p["width"].numel() not in (1, k) or (p["width"] <= 0).any():
            raise ValueError(f"width must be > 0, one number or {k} (one per ring); got {p['width'].tolist()}")
        self.radii, self.weights, self.width = radii, p["weights"], p["width"].expand(k).clone()
        self._log_w = _mixture_log_weights(self.weights, k)
        self._moments = _radial_moments(radii, self.width)
        self._log_norm = torch.log(2 * math.pi * self._moments[1])  # log(2π I_k)

    def _params(self) -> dict[str, Tensor]:
        return {"radii": self.radii, "weights": self.weights, "width": self.width}

    def _parts(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """:math:`\\log w_k q_k(x)`, shape ``(..., K)``, and :math:`\\lVert x\\rVert`, shape ``(..., 1)``."""
        self._check(x)
        r = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
        s = self.width.to(x)
        log_joint = self._log_w.to(x) - (r - self.radii.to(x)).square() / (2 * s**2) - self._log_norm.to(x)
        return log_joint, r

    def log_prob(self, x: Tensor) -> Tensor:
        """:math:`\\log p(x)`, shape ``x.shape[:-1]``."""
        return torch.logsumexp(self._parts(x)[0], -1)

    def score(self, x: Tensor) -> Tensor:
        """:math:`\\nabla_x \\log p(x)` in closed form, shape ``x.shape``; 0 at the origin (see the class)."""
        log_joint, r = self._parts(x)
        slope = (torch.softmax(log_joint, -1) * (self.radii.to(x) - r) / self.width.to(x) ** 2).sum(-1, keepdim=True)
        return slope * x / torch.where(r > 0, r, torch.ones_like(r))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` exact draws, shape ``(n, 2)``; see the class docstring for the method."""
        check_count("n", n)
        opts = dict(dtype=self.radii.dtype, device=self.radii.device)
        idx = torch.multinomial(self._log_w.exp(), n, replacement=True, generator=generator)
        centre, s = self.radii[idx], self.width[idx]
        radius, todo = torch.empty(n, **opts), torch.arange(n, device=self.radii.device)
        while todo.numel():
            c, w = centre[todo], s[todo]
            u = torch.rand(4, todo.numel(), generator=generator, **opts)
            z = torch.randn(todo.numel(), generator=generator, **opts)
            rayleigh = torch.where(u[1] < 0.5, -w, w) * torch.sqrt(-2 * torch.log1p(-u[2]))
            gauss = u[0] * (c * math.sqrt(2 * math.pi) + 2 * w) < c * math.sqrt(2 * math.pi)  # masses R s√2π : 2s²
            r = c + torch.where(gauss, w * z, rayleigh)
            ok = (r > 0) & (u[3] * ((r - c).abs() + c) < r)
            radius[todo[ok]] = r[ok]
            todo = todo[~ok]
        angle = 2 * math.pi * torch.rand(n, generator=generator, **opts)
        return radius.unsqueeze(-1) * torch.stack([angle.cos(), angle.sin()], -1)

    @property
    def mean(self) -> Tensor:
        """The origin, shape ``(2,)``."""
        return torch.zeros(2, dtype=self.radii.dtype, device=self.radii.device)

    @property
    def cov(self) -> Tensor:
        """:math:`\\tfrac12 E\\lVert x\\rVert^2\\, I` with :math:`E_k\\lVert x\\rVert^2 = M_3/M_1` (radial moments)."""
        _, m1, _, m3 = self._moments
        second = (self._log_w.exp() * m3 / m1).sum()
        return 0.5 * second * torch.eye(2, dtype=self.radii.dtype, device=self.radii.device)


def _f64(values: object) -> Tensor:
    """Factory parameters are built in float64, then rounded once to the requested dtype."""
    return torch.tensor(values, dtype=torch.float64)


def _dtype(dtype: torch.dtype | None) -> torch.dtype:
    return torch.get_default_dtype() if dtype is None else dtype


def eight_gaussians(*, dtype: torch.dtype | None = None) -> GaussianMixture:
    r"""Eight equal-weight isotropic Gaussians, std 0.2, centred on the circle of radius 2 at angles
    :math:`k\pi/4`, :math:`k = 0..7` (the first at (2, 0)).

    >>> eight_gaussians().means[:3]
    tensor([[2.0000, 0.0000],
            [1.4142, 1.4142],
            [0.0000, 2.0000]])
    """
    angles = torch.arange(8, dtype=torch.float64) * math.pi / 4
    centres = 2.0 * torch.stack([angles.cos(), angles.sin()], -1)
    centres = torch.where(centres.abs() < 1e-12, 0.0, centres)  # exact zeros, not cos(π/2) round-off
    covs = 0.2**2 * torch.eye(2, dtype=torch.float64).expand(8, 2, 2)
    return GaussianMixture(torch.full((8,), 1 / 8, dtype=torch.float64), centres, covs).to(_dtype(dtype))


def rings(*, dtype: torch.dtype | None = None) -> RingMixture:
    """Four equal-weight rings of radii 0.75, 1.5, 2.25 and 3, width 0.08.

    >>> rings().radii
    tensor([0.7500, 1.5000, 2.2500, 3.0000])
    """
    return RingMixture(_f64([0.75, 1.5, 2.25, 3.0]), _f64([0.25] * 4), _f64(0.08)).to(_dtype(dtype))


def circles(*, dtype: torch.dtype | None = None) -> RingMixture:
    """Two equal-weight rings of radii 2 and 1, width 0.1 (two noisy concentric circles, on the scale of the other sets).

    >>> circles().log_prob(torch.tensor([[2.0, 0.0]])) > circles().log_prob(torch.tensor([[1.5, 0.0]]))
    tensor([True])
    """
    return RingMixture(_f64([2.0, 1.0]), _f64([0.5, 0.5]), _f64(0.1)).to(_dtype(dtype))


def ncsn_toy(*, dtype: torch.dtype | None = None) -> GaussianMixture:
    r""":math:`\tfrac15 N((-5,-5), I) + \tfrac45 N((5,5), I)`: two far-apart modes of unequal weight, on which
    plain Langevin dynamics gets the weights wrong (Song & Ermon 2019, "Generative modeling by estimating
    gradients of the data distribution", NeurIPS).

    >>> ncsn_toy().mean
    tensor([3., 3.])
    """
    means, covs = _f64([[-5.0, -5.0], [5.0, 5.0]]), torch.eye(2, dtype=torch.float64).expand(2, 2, 2)
    return GaussianMixture(_f64([0.2, 0.8]), means, covs).to(_dtype(dtype))


ANALYTIC: dict[str, Callable[..., AnalyticTarget]] = {"8gaussians": eight_gaussians, "rings": rings, "circles": circles}
"""Built-in data sets with an exact density: name -> factory of their :class:`AnalyticTarget`."""
