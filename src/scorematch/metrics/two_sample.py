r"""Two-sample statistics between sample sets ``x`` ``(n, *event)`` and ``y`` ``(m, *event)``, any ``n, m ≥ 2``.

**MMD²**, the unbiased U-statistic with a Gaussian kernel :math:`k(a, b) = \exp(-\lVert a-b\rVert^2/(2h^2))`
(Gretton et al. 2012, "A kernel two-sample test", JMLR 13, eq. 3):

.. math::

    \widehat{\mathrm{MMD}}^2_u = \frac{1}{n(n-1)}\sum_{i\ne j} k(x_i, x_j)
      + \frac{1}{m(m-1)}\sum_{i\ne j} k(y_i, y_j) - \frac{2}{nm}\sum_{i,j} k(x_i, y_j),

with :math:`h` the median distance of the pooled sample unless given. It is unbiased, so it can be
slightly negative when the laws agree.

**Energy distance** (Székely & Rizzo 2013, "Energy statistics", J. Stat. Plan. Inference 143), the
unbiased estimate of :math:`\mathcal E(P, Q) = 2E\lVert X - Y\rVert - E\lVert X - X'\rVert - E\lVert Y - Y'\rVert`
(the squared form; zero iff the laws agree):

.. math::

    \hat{\mathcal E} = \frac{2}{nm}\sum_{i,j}\lVert x_i - y_j\rVert - \frac{1}{n(n-1)}\sum_{i\ne j}\lVert x_i - x_j\rVert
      - \frac{1}{m(m-1)}\sum_{i\ne j}\lVert y_i - y_j\rVert .

:func:`two_sample_test` adds a permutation p-value to either statistic. Memory is :math:`O((n+m)^2)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .._infra.checks import check_choice, check_count, check_positive
from ._inputs import check_sample_pair
from .kernels import gaussian_kernel, median_bandwidth, squared_distances

__all__ = ["STATISTICS", "TwoSampleTest", "energy_distance", "mmd2", "two_sample_test"]

STATISTICS: tuple[str, ...] = ("mmd", "energy")


def _pooled_matrix(x: Tensor, y: Tensor, statistic: str, bandwidth: float | None) -> tuple[Tensor, float | None]:
    """The pooled ``(n+m, n+m)`` kernel (``"mmd"``) or distance (``"energy"``) matrix, diagonal zeroed."""
    z = torch.cat([x, y])
    sq = squared_distances(z, z)
    if statistic == "mmd":
        h = median_bandwidth(x, y) if bandwidth is None else check_positive("bandwidth", bandwidth)
        mat = gaussian_kernel(sq, h)
    else:
        h, mat = None, sq.sqrt()
    return mat.fill_diagonal_(0.0), h


def _statistic(mat: Tensor, in_x: Tensor, n: int, m: int, statistic: str) -> Tensor:
    """The statistic for each row of the 0/1 membership matrix ``in_x`` ``(P, n+m)`` (``n`` ones per row)."""
    weighted = in_x @ mat
    s_xx = (weighted * in_x).sum(-1)
    s_xy = weighted.sum(-1) - s_xx
    s_yy = mat.sum() - s_xx - 2.0 * s_xy
    within = s_xx / (n * (n - 1)) + s_yy / (m * (m - 1))
    between = 2.0 * s_xy / (n * m)
    return within - between if statistic == "mmd" else between - within


def _observed(x: Tensor, y: Tensor, statistic: str, bandwidth: float | None) -> tuple[Tensor, Tensor, float | None]:
    mat, h = _pooled_matrix(x, y, statistic, bandwidth)
    in_x = torch.zeros(1, x.shape[0] + y.shape[0], dtype=mat.dtype, device=mat.device)
    in_x[0, : x.shape[0]] = 1.0
    return _statistic(mat, in_x, x.shape[0], y.shape[0], statistic)[0], mat, h


def mmd2(x: Tensor, y: Tensor, *, bandwidth: float | None = None) -> Tensor:
    r"""Unbiased MMD² with a Gaussian kernel; formula in the module docstring. A 0-dim tensor.

    Args:
        x: samples ``(n, *event)``, ``n ≥ 2``.
        y: samples ``(m, *event)``, ``m ≥ 2``, same event shape.
        bandwidth: kernel bandwidth :math:`h > 0`; the pooled median distance by default.

    >>> x = torch.tensor([[0.0], [1.0]]); y = torch.tensor([[0.0], [1.0]])
    >>> mmd2(x, y, bandwidth=1.0)   # k(0,1) = e^{-1/2}: e^{-1/2} + e^{-1/2} - (2/4)(2 + 2 e^{-1/2})
    tensor(-0.3935)
    """
    x, y = check_sample_pair(x, y)
    with torch.no_grad():
        return _observed(x, y, "mmd", bandwidth)[0]


def energy_distance(x: Tensor, y: Tensor) -> Tensor:
    r"""Unbiased energy distance :math:`2E\lVert X-Y\rVert - E\lVert X-X'\rVert - E\lVert Y-Y'\rVert`; a 0-dim tensor.

    Arguments as in :func:`mmd2` (no bandwidth). Formula in the module docstring.

    >>> energy_distance(torch.tensor([[0.0], [2.0]]), torch.tensor([[1.0], [3.0]]))  # 2·(1+3+1+1)/4 − 2 − 2
    tensor(-1.)
    """
    x, y = check_sample_pair(x, y)
    with torch.no_grad():
        return _observed(x, y, "energy", None)[0]


@dataclass(frozen=True)
class TwoSampleTest:
    """Result of :func:`two_sample_test`: the observed statistic, its permutation p-value, the bandwidth used
    (``None`` for the energy distance)."""

    statistic: float
    p_value: float
    bandwidth: float | None


def two_sample_test(
    x: Tensor, y: Tensor, *, statistic: str = "mmd", n_permutations: int = 200, bandwidth: float | None = None,
    generator: torch.Generator | None = None,
) -> TwoSampleTest:
    r"""Permutation test of :math:`P = Q` with the MMD² or the energy distance.

    The pooled sample is relabelled ``n_permutations`` times at random; the p-value is
    :math:`(1 + \#\{\text{permuted} \ge \text{observed}\}) / (1 + \text{n\_permutations})`, valid at any
    sample size. The kernel bandwidth is fixed from the unpermuted pooled sample (it is permutation-invariant).

    Args:
        x, y: samples ``(n, *event)``, ``(m, *event)``.
        statistic: ``"mmd"`` (:func:`mmd2`) or ``"energy"`` (:func:`energy_distance`).
        n_permutations: number of random relabellings (≥ 1).
        bandwidth: for ``"mmd"``; the median heuristic by default.
        generator: source of randomness for the permutations.

    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = torch.randn(50, 2, generator=g), torch.randn(60, 2, generator=g) + 2.0
    >>> two_sample_test(x, y, generator=g).p_value < 0.05
    True
    """
    check_choice("statistic", statistic, STATISTICS)
    check_count("n_permutations", n_permutations)
    x, y = check_sample_pair(x, y)
    n, m = x.shape[0], y.shape[0]
    with torch.no_grad():
        observed, mat, h = _observed(x, y, statistic, bandwidth)
        exceed, chunk = 0, max(1, 2**22 // (n + m))
        for start in range(0, n_permutations, chunk):
            p = min(chunk, n_permutations - start)
            ranks = torch.rand(p, n + m, generator=generator, device=mat.device).argsort(-1)
            in_x = (ranks < n).to(mat.dtype)
            exceed += int((_statistic(mat, in_x, n, m, statistic) >= observed).sum())
    return TwoSampleTest(float(observed), (1 + exceed) / (1 + n_permutations), h)
