r"""Normalise a 2D energy numerically on a regular grid: log Z, log-likelihood of data, KL to a known target.

The box :math:`[a_1, b_1] \times [a_2, b_2]` is cut into :math:`n_1 \times n_2` cells of area
:math:`\Delta = \frac{(b_1-a_1)(b_2-a_2)}{n_1 n_2}`; the energy is evaluated at the cell centres :math:`z_k`
(the midpoint rule, very accurate for smooth densities that vanish at the edges of the box):

.. math::

    \log \hat Z = \operatorname{logsumexp}_k(-E(z_k)) + \log\Delta, \qquad
    \log q(x) = -E(x) - \log\hat Z .

The model :math:`q = e^{-E}/\hat Z` is thus normalised *on the box*: mass outside it is ignored, so choose a
box that holds the density. With a target log-density :math:`\log p` (normalised or not), :math:`p` is
normalised on the same grid and

.. math::

    \mathrm{KL}(p \,\Vert\, q) = \sum_k p(z_k)\,\big(\log p(z_k) - \log q(z_k)\big)\,\Delta,

a term with :math:`p(z_k) = 0` counting zero. Cost: :math:`n_1 n_2` energy evaluations, in batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._infra.checks import check_count
from ._inputs import check_samples, energy_values

__all__ = ["GridMetrics", "grid_metrics"]

Box = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class GridMetrics:
    """What :func:`grid_metrics` found.

    Attributes:
        log_z: :math:`\\log\\hat Z` of :math:`e^{-E}` on the box.
        log_likelihood: mean :math:`\\log q(x)` over ``data``, or ``None`` without data.
        kl: :math:`\\mathrm{KL}(p\\Vert q)` on the grid, or ``None`` without a target.
        x_axis, y_axis: cell centres along each axis, shapes ``(n_1,)`` and ``(n_2,)``.
        log_density: :math:`\\log q` at the cell centres, shape ``(n_2, n_1)``: row ``i``, column ``j`` at
            ``(x_axis[j], y_axis[i])``, ready for ``plt.contourf(x_axis, y_axis, log_density)``.
        cell_area: :math:`\\Delta`.
    """

    log_z: float
    log_likelihood: float | None
    kl: float | None
    x_axis: Tensor
    y_axis: Tensor
    log_density: Tensor
    cell_area: float


def _check_box(box: Box) -> tuple[tuple[float, float], tuple[float, float]]:
    try:
        (a1, b1), (a2, b2) = ((float(a), float(b)) for a, b in box)
    except (TypeError, ValueError):
        raise ValueError(f"box must be ((x_min, x_max), (y_min, y_max)), got {box!r}") from None
    if not all(math.isfinite(v) for v in (a1, b1, a2, b2)) or a1 >= b1 or a2 >= b2:
        raise ValueError(f"box must be ((x_min, x_max), (y_min, y_max)) with finite min < max, got {box!r}")
    return (a1, b1), (a2, b2)


def _batched(fn: Callable[[Tensor], Tensor], points: Tensor, batch_size: int) -> Tensor:
    return torch.cat([fn(points[i : i + batch_size]) for i in range(0, points.shape[0], batch_size)])


def _log_prob_values(log_prob: Any, x: Tensor) -> Tensor:
    method = getattr(log_prob, "log_prob", None)
    fn = method if callable(method) else log_prob
    if not callable(fn):
        raise TypeError(f"target_log_prob must be a callable x -> log p(x) or have a log_prob(x) method; "
                        f"got {type(log_prob).__name__}")
    with torch.no_grad():
        lp = fn(x)
    if lp.shape != x.shape[:1]:
        raise ValueError(f"target_log_prob must return one value per point, shape ({x.shape[0]},); got {tuple(lp.shape)}")
    if torch.isnan(lp).any():
        raise ValueError("target_log_prob returned NaN")
    return lp


def grid_metrics(
    energy: Any, *, box: Box = ((-4.0, 4.0), (-4.0, 4.0)), resolution: int | tuple[int, int] = 256,
    data: Tensor | None = None, target_log_prob: Any = None, batch_size: int = 65536,
    dtype: torch.dtype | None = None, device: torch.device | str | None = None,
) -> GridMetrics:
    r"""Normalise :math:`e^{-E}` on a grid over ``box``; formulas in the module docstring.

    Args:
        energy: ``Energy(net)``, an object with ``energy(x)``, or a callable mapping ``(B, 2)`` to ``(B,)``.
        box: ``((x_min, x_max), (y_min, y_max))``.
        resolution: cells per axis, one int for both or ``(n_1, n_2)``.
        data: points ``(n, 2)`` whose mean log-density under the model is reported.
        target_log_prob: the target's log-density (any constant offset), a callable ``(B, 2) -> (B,)`` or an
            object with ``log_prob(x)``; gives ``kl``.
        batch_size: grid points per energy evaluation.
        dtype, device: of the grid; the default dtype and the CPU by default.

    Returns:
        A :class:`GridMetrics`.

    >>> import math
    >>> result = grid_metrics(lambda z: 0.5 * (z**2).sum(-1), box=((-8, 8), (-8, 8)), resolution=64)
    >>> round(result.log_z, 6) == round(math.log(2 * math.pi), 6)   # ∫ exp(-‖z‖²/2) dz = 2π
    True
    """
    (a1, b1), (a2, b2) = _check_box(box)
    n1, n2 = (resolution, resolution) if isinstance(resolution, int) else tuple(resolution)
    check_count("resolution", n1)
    check_count("resolution", n2)
    check_count("batch_size", batch_size)
    opts = dict(dtype=dtype or torch.get_default_dtype(), device=device)
    h1, h2 = (b1 - a1) / n1, (b2 - a2) / n2
    x_axis = a1 + h1 * (torch.arange(n1, **opts) + 0.5)
    y_axis = a2 + h2 * (torch.arange(n2, **opts) + 0.5)
    yy, xx = torch.meshgrid(y_axis, x_axis, indexing="ij")
    nodes = torch.stack([xx.reshape(-1), yy.reshape(-1)], -1)
    log_area = math.log(h1 * h2)

    neg_e = -_batched(lambda z: energy_values(energy, z), nodes, batch_size)
    log_z = torch.logsumexp(neg_e, 0) + log_area
    if not torch.isfinite(log_z):
        raise ValueError(f"energy normalises to log Z = {log_z.item()} on the box {box!r}")
    log_q = neg_e - log_z

    log_likelihood = None
    if data is not None:
        flat = check_samples("data", data, min_count=1)
        if flat.shape[1] != 2 or data.ndim != 2:
            raise ValueError(f"data must have shape (n, 2), got {tuple(data.shape)}")
        points = data.to(**opts)
        log_likelihood = (-_batched(lambda z: energy_values(energy, z), points, batch_size) - log_z).mean().item()

    kl = None
    if target_log_prob is not None:
        lp = _batched(lambda z: _log_prob_values(target_log_prob, z), nodes, batch_size).to(log_q.dtype)
        log_p = lp - (torch.logsumexp(lp, 0) + log_area)
        p = log_p.exp()
        terms = torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p))
        kl = (terms.sum() * (h1 * h2)).item()

    return GridMetrics(log_z.item(), log_likelihood, kl, x_axis, y_axis, log_q.reshape(n2, n1), h1 * h2)
