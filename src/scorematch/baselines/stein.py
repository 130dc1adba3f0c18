r"""Kernel score estimators from Stein's identity: the Stein gradient estimator and its spectral form.

Both start from Stein's identity for a smooth test function h that vanishes at infinity,
:math:`E_q[h(x)\,\nabla\log q(x)^\top + \nabla h(x)] = 0`, with the Gaussian kernel
:math:`k(x, y) = \exp(-\lVert x-y\rVert^2/(2h^2))` and the bandwidth ``h`` by the median heuristic (the median
distance between sample points, :func:`scorematch.metrics.kernels.median_bandwidth`).

**Stein gradient estimator** (Li & Turner 2018, "Gradient estimators for implicit models", ICLR). Taking
:math:`h = k(x_i, \cdot)` and the sample average gives :math:`K G \approx -\langle\nabla, K\rangle` with
:math:`\langle\nabla, K\rangle_i = \sum_j \nabla_{x_j} k(x_i, x_j) = \sum_j k_{ij}(x_i - x_j)/h^2`, so at the
sample points :math:`\hat G = -(K + \eta I)^{-1}\langle\nabla, K\rangle`. At a new point the estimator is applied to
the sample augmented by that point (the paper's out-of-sample rule); the augmented solve is done in
:math:`O(n(n + D))` per point from the factorized :math:`K + \eta I` by the block (Schur-complement) inverse.

**Spectral Stein gradient estimator** (Shi, Sun & Zhu 2018, "A spectral approach to gradient estimation for
implicit distributions", ICML). The eigenfunctions :math:`\psi_j` of the kernel under q, estimated by Nyström from
the eigenpairs :math:`(\lambda_j, u_j)` of K, :math:`\hat\psi_j(x) = \frac{\sqrt n}{\lambda_j}\sum_i u_{ij}k(x, x_i)`,
are orthonormal in :math:`L^2(q)`, so :math:`\nabla\log q = \sum_j \beta_j\psi_j` with
:math:`\beta_j = -E_q\nabla\psi_j` by Stein's identity:

.. math::

    \hat g(x) = \sum_{j=1}^J \hat\beta_j\,\hat\psi_j(x),\qquad \hat\beta_j = -\frac1n\sum_m \nabla\hat\psi_j(x_m),

truncated to the leading J eigenfunctions that hold ``spectrum`` (default 99%) of the trace of K.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._infra.checks import check_count, check_positive
from ..metrics.kernels import gaussian_kernel, median_bandwidth, squared_distances
from .kde import _SampleEstimator

__all__ = ["SpectralSteinScore", "SteinScore"]


class _KernelEstimator(_SampleEstimator):
    def __init__(self, x: Tensor, *, bandwidth: float | None, max_points: int, generator: torch.Generator | None):
        super().__init__(x, max_points=max_points, generator=generator)
        self.bandwidth = check_positive("bandwidth", median_bandwidth(self.x) if bandwidth is None else bandwidth)
        self.K = gaussian_kernel(squared_distances(self.x, self.x), self.bandwidth)

    def _kernel(self, q: Tensor) -> Tensor:
        return gaussian_kernel(squared_distances(q, self.x), self.bandwidth)  # (m, n)


class SteinScore(_KernelEstimator):
    r"""The Stein gradient estimator of ``x``'s score (see the module docstring): ``eta`` is the ridge η, at most
    ``max_points`` sample points are used (a random subset drawn with ``generator``).

    >>> x = torch.randn(200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> SteinScore(x).score(torch.zeros(1, 2)).shape
    torch.Size([1, 2])
    """

    def __init__(self, x: Tensor, *, bandwidth: float | None = None, eta: float = 0.1, max_points: int = 2000,
                 generator: torch.Generator | None = None):
        super().__init__(x, bandwidth=bandwidth, max_points=max_points, generator=generator)
        self.eta = check_positive("eta", eta)
        h2 = self.bandwidth**2
        self.R = (self.K.sum(1, keepdim=True) * self.x - self.K @ self.x) / h2   # ⟨∇, K⟩, (n, D)
        self.chol = torch.linalg.cholesky(self.K + self.eta * torch.eye(self.n, dtype=self.K.dtype))

    def at_samples(self) -> Tensor:
        r""":math:`\hat G = -(K + \eta I)^{-1}\langle\nabla, K\rangle` at the sample points, ``(n, D)``."""
        return -torch.cholesky_solve(self.R, self.chol)

    def _flat_score(self, q: Tensor) -> Tensor:
        h2 = self.bandwidth**2
        k = self._kernel(q).T                                     # (n, m): k(x_i, q)
        u = torch.cholesky_solve(k, self.chol)                    # A⁻¹k
        s = 1.0 + self.eta - (k * u).sum(0)                       # Schur complement, (m,)
        uk = u * k                                                # u_i k_i
        u_c = (uk.T @ self.x - uk.sum(0)[:, None] * q) / h2       # Σ u_i k_i (x_i − q)/h²
        r_q = (k.sum(0)[:, None] * q - k.T @ self.x) / h2         # Σ_j k_j (q − x_j)/h²
        return (u.T @ self.R + u_c - r_q) / s[:, None]


class SpectralSteinScore(_KernelEstimator):
    r"""The spectral Stein gradient estimator of ``x``'s score (see the module docstring); ``spectrum`` is the share
    of K's trace the kept eigenfunctions hold (or give ``n_eigen``); eigenvalues below 1e-6 of the largest are never
    kept (their 1/λ amplifies round-off and sampling noise); at most ``max_points`` sample points.

    >>> x = torch.randn(200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> SpectralSteinScore(x).score(torch.zeros(1, 2)).shape
    torch.Size([1, 2])
    """

    def __init__(self, x: Tensor, *, bandwidth: float | None = None, spectrum: float = 0.99,
                 n_eigen: int | None = None, max_points: int = 2000, generator: torch.Generator | None = None):
        super().__init__(x, bandwidth=bandwidth, max_points=max_points, generator=generator)
        if not 0 < spectrum <= 1:
            raise ValueError(f"spectrum must lie in (0, 1], got {spectrum!r}")
        if n_eigen is not None:
            check_count("n_eigen", n_eigen)
        lam, vec = torch.linalg.eigh(self.K)
        lam, vec = lam.flip(0), vec.flip(1)                       # descending
        usable = int((lam > 1e-6 * lam[0]).sum())                 # 1/λ of tiny eigenvalues amplifies noise
        if n_eigen is None:
            share = torch.cumsum(lam.clamp_min(0), 0) / lam.clamp_min(0).sum()
            n_eigen = int((share < spectrum).sum()) + 1
        self.n_eigen = min(n_eigen, usable)
        self.lam, self.vec = lam[: self.n_eigen], vec[:, : self.n_eigen]
        self.beta = -self._grad_psi(self.x).mean(0)               # (J, D)

    def _psi(self, q: Tensor) -> Tensor:
        return self._kernel(q) @ self.vec * (self.n**0.5 / self.lam)          # (m, J)

    def _grad_psi(self, q: Tensor) -> Tensor:
        r""":math:`\nabla\hat\psi_j(q) = \sum_i c_{ij}\, k(q, x_i)(x_i - q)/h^2` with
        :math:`c_{ij} = \sqrt n\, u_{ij}/\lambda_j`, shape ``(m, J, D)``."""
        k = self._kernel(q)                                                    # (m, n)
        coeff = self.vec * (self.n**0.5 / self.lam)                            # (n, J)
        kc = k @ coeff                                                         # (m, J)
        kcx = torch.stack([k @ (coeff * self.x[:, d:d + 1]) for d in range(self.x.shape[1])], -1)  # (m, J, D)
        return (kcx - kc[:, :, None] * q[:, None, :]) / self.bandwidth**2

    def _flat_score(self, q: Tensor) -> Tensor:
        return self._psi(q) @ self.beta
