r"""Pairwise distances and the kernels the two-sample and Stein metrics share.

* Gaussian (RBF): :math:`k(x, y) = \exp\!\big(-\lVert x - y\rVert^2 / (2h^2)\big)`;
* inverse multiquadric (IMQ): :math:`k(x, y) = (c^2 + \lVert x - y\rVert^2)^{\beta}`, :math:`\beta \in (-1, 0)`;
* the *median heuristic* bandwidth :math:`h = \operatorname{median}_{i<j} \lVert z_i - z_j\rVert` over the pooled
  sample (Gretton et al. 2012, "A kernel two-sample test", JMLR 13).

Inputs are flattened sample sets ``(n, D)``; every function here costs :math:`O(n^2)` memory.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._inputs import check_samples

__all__ = ["gaussian_kernel", "imq_kernel", "median_bandwidth", "squared_distances"]


def squared_distances(x: Tensor, y: Tensor) -> Tensor:
    r""":math:`\lVert x_i - y_j\rVert^2` for ``x`` ``(n, D)`` and ``y`` ``(m, D)``, shape ``(n, m)``, clamped at 0.

    >>> squared_distances(torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0], [0.0, 1.0]]))
    tensor([[25.,  1.]])
    """
    sq = x.square().sum(-1, keepdim=True) + y.square().sum(-1) - 2.0 * (x @ y.T)
    return sq.clamp_min(0.0)


def gaussian_kernel(sq: Tensor, bandwidth: float) -> Tensor:
    r""":math:`\exp(-d^2/(2h^2))` of squared distances ``sq``.

    >>> gaussian_kernel(torch.tensor([0.0, 2.0]), 1.0)
    tensor([1.0000, 0.3679])
    """
    return torch.exp(-sq / (2.0 * bandwidth**2))


def imq_kernel(sq: Tensor, c: float = 1.0, beta: float = -0.5) -> Tensor:
    r""":math:`(c^2 + d^2)^\beta` of squared distances ``sq``.

    >>> imq_kernel(torch.tensor([0.0, 3.0]))
    tensor([1.0000, 0.5000])
    """
    return (c**2 + sq).pow(beta)


def median_bandwidth(x: Tensor, y: Tensor | None = None) -> float:
    r"""Median heuristic: the median Euclidean distance between distinct points of ``x`` (and ``y``) pooled.

    Args:
        x: samples ``(n, *event)``.
        y: optional second sample set of the same event shape, pooled with ``x``.

    Returns:
        The bandwidth :math:`h > 0` as a float.

    >>> median_bandwidth(torch.tensor([[0.0], [1.0], [3.0]]))  # distances 1, 2, 3
    2.0
    """
    z = check_samples("x", x)
    if y is not None:
        z = torch.cat([z, check_samples("y", y).to(z.dtype)])
    sq = squared_distances(z, z)
    off_diagonal = ~torch.eye(z.shape[0], dtype=torch.bool, device=z.device)
    # every pair appears twice off the diagonal, which leaves the (lower) median unchanged
    h = sq[off_diagonal].median().sqrt().item()
    if h <= 0:
        raise ValueError("the median heuristic gave bandwidth 0 (more than half of the pairs coincide); "
                         "pass a bandwidth")
    return h
