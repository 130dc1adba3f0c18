r"""Pictures of a 2D model over a box: its normalised density and its score field."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .._infra.checks import check_count
from ..metrics.grid import grid_metrics
from . import _common as common
from ._common import DEFAULT_BOX, Box

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["energy_landscape", "score_field"]

LOG_FLOOR = 12.0
"""With ``log=True`` the colour scale spans ``[max - 12, max]`` of :math:`\\log q` (a factor e¹² ≈ 1.6·10⁵)."""


def _cell_centres(lo: float, hi: float, n: int) -> np.ndarray:
    return lo + (hi - lo) / n * (np.arange(n) + 0.5)


def energy_landscape(
    model: Any, *, box: Box = DEFAULT_BOX, resolution: int = 200, data: Any = None, log: bool = False,
    colorbar: bool = True, ax: Axes | None = None, path: str | os.PathLike[str] | None = None, title: str | None = None,
    dtype: torch.dtype | None = None, device: torch.device | str | None = None, labels: tuple[str, str] | None = None,
) -> Figure:
    r"""The model's density :math:`q(x) = e^{-E(x)}/\hat Z` over ``box``, as an image, with the data on top.

    :math:`\hat Z` comes from :func:`scorematch.metrics.grid_metrics` (midpoint rule on ``resolution`` ×
    ``resolution`` cells), so :math:`q` integrates to 1 on the box and images of different models share units.
    The image is drawn with ``x_1`` to the right and ``x_2`` up (``origin="lower"``), colour map *magma*
    (bright = probable); with ``log=True`` it shows :math:`\log q` instead, floored 12 nats below its maximum,
    which reveals the tails and spurious modes that the density hides. Up to 2000 data points (a fixed random
    subset) are overlaid as small translucent white dots.

    A model with a score but no energy (``Score(net)``, a callable returning ``(B, 2)``) has no density to
    draw; the image then shows the score magnitude :math:`\lVert s(x)\rVert` on a log colour scale, reversed so
    that its minima (modes, but also saddles) are bright, and the title says so.

    Args:
        model: ``Energy(net)``, ``Score(net)``, an analytic target, or a plain callable ``x -> E(x)`` of shape
            ``(B,)`` (a score function goes in ``Score(fn)``); bind a noise-conditional model to a σ first
            (:func:`scorematch.protocol.at_sigma`). Evaluated in batches, without building a graph, on the dtype and
            device of its first parameter, float32 on the CPU without parameters (a lambda has none).
        box: ``((x_min, x_max), (y_min, y_max))`` with min < max.
        resolution: grid cells per axis.
        data: points ``(n, 2)`` to overlay, or ``None``.
        log: draw :math:`\log q` rather than :math:`q` (also when every :math:`q` on the grid is below 1e-304,
            the scale of data near 1e150 and beyond, where q itself would underflow to 0).
        colorbar: add a colour bar beside the axes.
        ax: axes to draw on; a new figure by default.
        path: save the figure there as a PNG (150 dpi, tight bounding box).
        title: the axes title; ``None``: a default naming what is drawn, ``""``: none.
        labels: the axis labels (e.g. the data's column names); default :math:`x_1`, :math:`x_2`.
        dtype, device: evaluate the model there instead (e.g. for a lambda around a float64 or GPU net).

    Returns:
        The figure of the axes.

    >>> from scorematch.models.analytic import eight_gaussians
    >>> fig = energy_landscape(eight_gaussians(), resolution=40)
    >>> fig.axes[0].images[0].get_array().shape   # rows x_2 (upwards), columns x_1
    (40, 40)
    """
    box = common.check_box(box)
    check_count("resolution", resolution)
    overlay = None if data is None else common.points("data", data)
    view = common.read_model(model, kind="energy", dtype=dtype, device=device)
    ax = common.axes_or_new(ax, box, margin=(1.1 if colorbar else 0.5, 0.8))
    (a1, b1), (a2, b2) = box
    from matplotlib.colors import LogNorm

    if view.energy is not None:
        grid = grid_metrics(view.energy, box=box, resolution=resolution, dtype=view.dtype, device=view.device)
        log_q = grid.log_density.detach().cpu().double().numpy()
        if not log and not np.max(log_q) > -700:  # q below float64's smallest normal number: draw log q instead
            log = True
        if log:
            top = float(np.max(log_q))
            image, norm, cmap = np.maximum(log_q, top - LOG_FLOOR), None, "magma"
            label, default_title = r"$\log q(x)$", "model log-density"
        else:
            image, norm, cmap = np.exp(log_q), None, "magma"
            label, default_title = r"$q(x) = e^{-E(x)}/Z$", "model density"
    else:
        x_axis, y_axis = _cell_centres(a1, b1, resolution), _cell_centres(a2, b2, resolution)
        s = view.score_values(view.grid(x_axis, y_axis))
        image = np.linalg.norm(s, axis=-1).reshape(resolution, resolution)
        positive = image[np.isfinite(image) & (image > 0)]
        top = float(positive.max()) if positive.size else 1.0
        norm = LogNorm(vmin=max(float(positive.min()) if positive.size else top, top * 1e-4), vmax=top)
        image, cmap = np.clip(image, norm.vmin, None), "magma_r"
        label, default_title = r"$\Vert s(x)\Vert$", "score magnitude (no energy)"
    im = ax.imshow(image, origin="lower", extent=(a1, b1, a2, b2), cmap=cmap, norm=norm, interpolation="bilinear",
                   aspect="equal")
    if view.energy is None and title is not None:  # the default title says so already
        ax.text(0.03, 0.97, r"$\Vert s(x)\Vert$, no energy", transform=ax.transAxes, ha="left", va="top", fontsize=7,
                color="black", bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0, "pad": 1.5})
    if overlay is not None:
        common.draw_points(ax, overlay, color="white", alpha=0.35, size=2.0)
    common.setup_box(ax, box, default_title if title is None else title, labels)
    if colorbar:
        common.add_colorbar(ax, im, label)
    return common.finish(ax.figure, path)


def score_field(
    model: Any, *, box: Box = DEFAULT_BOX, n: int = 25, data: Any = None, colorbar: bool = True,
    ax: Axes | None = None, path: str | os.PathLike[str] | None = None, title: str | None = None,
    dtype: torch.dtype | None = None, device: torch.device | str | None = None, labels: tuple[str, str] | None = None,
) -> Figure:
    r"""Arrows of the model's score :math:`s(x) = \nabla_x \log q(x)` at the centres of a grid of square cells,
    ``n`` along the longer side of the box (``n`` × ``n`` on a square box).

    Every arrow has the same length (0.8 of a cell) and points along :math:`s(x)`; its colour is
    :math:`\lVert s(x)\rVert` on a log scale (*viridis*, colour bar beside), since the magnitude varies over
    orders of magnitude between the modes and the edge of the box. Up to 2000 data points are drawn faintly
    underneath. For an energy the score is :math:`-\nabla_x E` by automatic differentiation.

    Args:
        model: as for :func:`energy_landscape`, but a plain callable is a score ``x -> s(x)`` of shape ``(B, 2)``.
        box: ``((x_min, x_max), (y_min, y_max))`` with min < max.
        n: arrows along the longer side of the box; along the shorter one, as many as keep the cells square.
        data: points ``(n, 2)`` to draw underneath, or ``None``.
        colorbar: add a colour bar for the magnitude.
        ax, path, title, dtype, device, labels: as for :func:`energy_landscape`.

    Returns:
        The figure of the axes; the arrows are its :class:`~matplotlib.quiver.Quiver` (``U``, ``V`` along the
        score, ``X``, ``Y`` the cell centres).

    >>> from scorematch.models.analytic import rings
    >>> fig = score_field(rings(), n=10)
    >>> fig.axes[0].collections[-1].N   # arrows
    100
    """
    box = common.check_box(box)
    check_count("n", n)
    overlay = None if data is None else common.points("data", data)
    view = common.read_model(model, kind="score", dtype=dtype, device=device)
    ax = common.axes_or_new(ax, box, margin=(1.1 if colorbar else 0.5, 0.8))
    (a1, b1), (a2, b2) = box
    from matplotlib.colors import LogNorm

    long = max(b1 - a1, b2 - a2)   # square cells: n along the longer side of the box
    n1, n2 = max(2, round(n * (b1 - a1) / long)), max(2, round(n * (b2 - a2) / long))
    x_axis, y_axis = _cell_centres(a1, b1, n1), _cell_centres(a2, b2, n2)
    s = view.score_values(view.grid(x_axis, y_axis))
    magnitude = np.linalg.norm(s, axis=-1)
    ok = np.isfinite(magnitude)
    direction = np.where((ok & (magnitude > 0))[:, None], s / np.where(magnitude > 0, magnitude, 1.0)[:, None], 0.0)
    length = 0.8 * min((b1 - a1) / n1, (b2 - a2) / n2)
    positive = magnitude[ok & (magnitude > 0)]
    top = float(positive.max()) if positive.size else 1.0
    norm = LogNorm(vmin=max(float(positive.min()) if positive.size else top, top * 1e-4), vmax=top)
    colour = np.clip(np.where(ok, magnitude, top), norm.vmin, None)
    if overlay is not None:
        common.draw_points(ax, overlay, color="0.6", alpha=0.25, size=2.0, zorder=1)
    xx, yy = np.meshgrid(x_axis, y_axis)
    arrows = ax.quiver(xx.ravel(), yy.ravel(), length * direction[:, 0], length * direction[:, 1], colour,
                       cmap="viridis", norm=norm, angles="xy", scale_units="xy", scale=1.0, pivot="mid",
                       width=0.1 * length / (b1 - a1), headwidth=3.5,
                       headlength=4.0, headaxislength=3.5, zorder=2)
    common.setup_box(ax, box, "score field" if title is None else title, labels)
    if colorbar:
        common.add_colorbar(ax, arrows, r"$\Vert s(x)\Vert$")
    return common.finish(ax.figure, path)
