r"""The Fréchet distance between two sets of feature vectors, each summarised by a Gaussian.

.. math::

    d_F^2 = \lVert \mu_a - \mu_b \rVert^2 + \operatorname{tr}\big(\Sigma_a + \Sigma_b
            - 2\,(\Sigma_a^{1/2} \Sigma_b \Sigma_a^{1/2})^{1/2}\big),

the squared 2-Wasserstein distance between :math:`N(\mu_a, \Sigma_a)` and :math:`N(\mu_b, \Sigma_b)` (Dowson &
Landau 1982); in a classifier's feature space it is the FID of Heusel et al. 2017. The trace of the matrix square
root is computed from the eigenvalues of the symmetric :math:`\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2}` (clipped at 0),
in float64, which needs no general (non-symmetric) matrix square root. Sample covariances divide by ``n − 1``.
The estimate is biased upwards on finite samples: for equal laws the means add :math:`\operatorname{tr}\Sigma\,
(1/n_a + 1/n_b)` and the covariances' square-root term about :math:`k(k+1)/4\,(1/n_a + 1/n_b)` in units of
whitened features (``k`` features), the larger part when ``k`` is large — the bias is :math:`O(k^2/n)`: compare
numbers measured on the same numbers of points.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["frechet_distance", "gaussian_frechet"]


def _psd_sqrt(m: Tensor) -> Tensor:
    w, v = torch.linalg.eigh((m + m.mT) / 2)
    return (v * w.clamp_min(0).sqrt()) @ v.mT


def gaussian_frechet(mean_a: Tensor, cov_a: Tensor, mean_b: Tensor, cov_b: Tensor) -> float:
    """:math:`d_F^2` between two Gaussians given by their means ``(k,)`` and covariances ``(k, k)``.

    >>> import torch
    >>> gaussian_frechet(torch.zeros(2), torch.eye(2), torch.ones(2), 4 * torch.eye(2))  # 2 + 2·(2 − 1)²
    4.0
    """
    mean_a, cov_a, mean_b, cov_b = (t.detach().double() for t in (mean_a, cov_a, mean_b, cov_b))
    root = _psd_sqrt(cov_a)
    cross = torch.linalg.eigvalsh(root @ cov_b @ root).clamp_min(0).sqrt().sum()
    return float((mean_a - mean_b).square().sum() + torch.trace(cov_a) + torch.trace(cov_b) - 2 * cross)


def frechet_distance(a: Tensor, b: Tensor) -> float:
    """:math:`d_F^2` between the Gaussians fitted to the rows of ``a`` ``(n_a, k)`` and ``b`` ``(n_b, k)``
    (each ``n ≥ 2``); see the module docstring."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(a.shape[0], b.shape[0]) < 2:
        raise ValueError(f"frechet_distance: need features (n_a, k) and (n_b, k) with n >= 2; got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    a, b = a.detach().double(), b.detach().double()
    return gaussian_frechet(a.mean(0), torch.cov(a.T).reshape(a.shape[1], -1), b.mean(0),
                            torch.cov(b.T).reshape(b.shape[1], -1))
