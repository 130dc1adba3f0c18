r"""Do a model's samples put the model's own mass on each mode? Masses per region from the grid density against the
samples' fractions, in 2D.

Regions :math:`R_1..R_K` come from a labelling ``assign(x) -> k`` (an exact mixture's components, or
:func:`kmeans_regions` of the data). With the density :math:`q` normalised on a grid over the box
(:func:`~scorematch.metrics.grid_metrics`), :math:`m_k = \sum_{z \in R_k} q(z)\Delta` and the samples' fractions
:math:`\hat m_k`; they disagree when the total variation :math:`\frac12\sum_k |m_k - \hat m_k|` exceeds

.. math::

    \tau = 0.02 + 2.5\cdot\frac12\sum_k \sqrt{\frac{2}{\pi}\,\frac{m_k(1-m_k)}{n}},

2.5 times the total variation expected of ``n`` independent draws from :math:`m` (the mean absolute deviation of a
binomial proportion) plus 0.02 for the grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .grid import Box, grid_metrics

__all__ = ["ModeCheck", "kmeans_regions", "mode_check", "weight_check"]


@dataclass(frozen=True)
class ModeCheck:
    """Per region the density's mass ``density`` and the samples' fraction ``samples`` (``(K,)`` each), their total
    variation ``tv``, the threshold ``limit`` and whether they ``agree`` (``tv <= limit``)."""

    density: Tensor
    samples: Tensor
    tv: float
    limit: float

    @property
    def agree(self) -> bool:
        return self.tv <= self.limit


def _draw_tv(mass: Tensor, n: int) -> float:
    r"""The total variation expected of ``n`` independent draws from the masses: half the sum of each share's mean
    absolute deviation, :math:`\sqrt{2/\pi \cdot m(1-m)/n}`."""
    return 0.5 * (2 / math.pi * mass * (1 - mass) / n).sqrt().sum().item()


def kmeans_regions(data: Tensor, k: int = 8, *, iterations: int = 25, seed: int = 0) -> Callable[[Tensor], Tensor]:
    """``assign(x)``: the nearest of ``k`` centres found by Lloyd's algorithm on ``data`` (k-means++ start), run on
    ``data / max|data|`` so that squared distances stay finite at any scale."""
    top = float(data.detach().double().abs().max())
    scale = top if 0 < top < math.inf else 1.0
    x = data.detach().double() / scale
    g = torch.Generator().manual_seed(seed)
    centres = x[torch.randint(x.shape[0], (1,), generator=g)]
    while centres.shape[0] < min(k, x.shape[0]):
        d2 = torch.cdist(x, centres).min(1).values.square()
        centres = torch.cat([centres, x[torch.multinomial(d2 / d2.sum(), 1, generator=g)]])
    for _ in range(iterations):
        label = torch.cdist(x, centres).argmin(1)
        centres = torch.stack([x[label == j].mean(0) if (label == j).any() else centres[j]
                               for j in range(centres.shape[0])])
    return lambda z: torch.cdist(z.detach().double() / scale, centres).argmin(1)


def mode_check(energy: Any, samples: Tensor, assign: Callable[[Tensor], Tensor], *, box: Box,
               resolution: int = 256, dtype: torch.dtype | None = None) -> ModeCheck:
    """Compare the grid density's mass per region with the samples' fractions; see the module docstring. ``dtype``:
    of the grid (the default dtype by default; float64 for data whose scale float32 cannot hold).

    >>> from scorematch.models.analytic import eight_gaussians
    >>> t = eight_gaussians()
    >>> check = mode_check(t, t.sample(2000, torch.Generator().manual_seed(0)), t.component, box=((-4, 4), (-4, 4)))
    >>> check.agree, round(float(check.density.sum()), 3)
    (True, 1.0)
    """
    grid = grid_metrics(energy, box=box, resolution=resolution, dtype=dtype)
    yy, xx = torch.meshgrid(grid.y_axis, grid.x_axis, indexing="ij")
    nodes = torch.stack([xx.reshape(-1), yy.reshape(-1)], -1)
    labels = assign(nodes)
    k = int(labels.max()) + 1
    mass = torch.zeros(k, dtype=torch.float64).index_add_(0, labels.cpu(),
                                                        (grid.log_density.reshape(-1).exp() * grid.cell_area).double())
    finite = samples[torch.isfinite(samples).all(1)]
    lab = assign(finite.to(nodes.dtype)).cpu()
    n = max(samples.shape[0], 1)
    frac = torch.bincount(lab[lab < k], minlength=k).double() / n
    tv = 0.5 * (mass - frac).abs().sum().item() + 0.5 * (samples.shape[0] - lab.lt(k).sum().item()) / n
    return ModeCheck(mass, frac, tv, 0.02 + 2.5 * _draw_tv(mass, n))


def weight_check(samples: Tensor, assign: Callable[[Tensor], Tensor], weights: Tensor) -> ModeCheck:
    r"""Do samples put the *true* mass on each mode? The samples' fractions per region against exact masses
    ``weights`` (``(K,)``, e.g. a separated mixture's component weights with ``assign`` its most likely component),
    in any dimension: total variation :math:`\frac12\sum_k |w_k - \hat m_k|` (non-finite samples count as
    misplaced) against :math:`\tau = 2.5\cdot\frac12\sum_k \sqrt{\frac{2}{\pi}\frac{w_k(1-w_k)}{n}}`, 2.5 times
    the total variation expected of ``n`` independent draws from the truth (no grid term: the masses are exact).
    This judges the fit and the sampler together; :func:`mode_check` judges the sampler alone.

    >>> from scorematch.models.analytic import rings
    >>> t = rings()
    >>> check = weight_check(t.sample(4000, torch.Generator().manual_seed(0)), t.component, t.weights)
    >>> check.agree, check.tv < 0.03
    (True, True)
    """
    w = weights.detach().double().cpu()
    w = w / w.sum()
    n = max(samples.shape[0], 1)
    finite = samples[torch.isfinite(samples.flatten(1)).all(1)]
    lab = assign(finite).cpu() if finite.shape[0] else torch.zeros(0, dtype=torch.long)
    frac = torch.bincount(lab, minlength=w.shape[0]).double() / n
    tv = 0.5 * (w - frac).abs().sum().item() + 0.5 * (samples.shape[0] - finite.shape[0]) / n
    return ModeCheck(w, frac, tv, 2.5 * _draw_tv(w, n))
