"""Samples drawn from a model, over the data they should resemble."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import DEFAULT_BOX, MAX_POINTS, Box, axes_or_new, check_box, draw_points, finish, points, setup_box

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["samples_over_data"]

DATA_COLOUR, SAMPLE_COLOUR = "0.55", "tab:orange"


def _caption(name: str, x: np.ndarray, box: Box) -> str:
    (a1, b1), (a2, b2) = box
    finite = np.isfinite(x).all(-1)
    inside = finite & (x[:, 0] >= a1) & (x[:, 0] <= b1) & (x[:, 1] >= a2) & (x[:, 1] <= b2)
    parts = [f"{name} (n={x.shape[0]}"]
    if (~finite).any():
        parts.append(f"{int((~finite).sum())} non-finite")
    if (finite & ~inside).any():
        parts.append(f"{int((finite & ~inside).sum())} off the box")
    return ", ".join(parts) + ")"


def samples_over_data(
    samples: Any, data: Any, *, box: Box = DEFAULT_BOX, ax: Axes | None = None,
    path: str | os.PathLike[str] | None = None, title: str | None = None, legend: bool = True,
    labels: tuple[str, str] | None = None,
) -> Figure:
    """Samples (orange) drawn over data (grey) on ``box``, with a legend.

    Each set shows at most 2000 points (a fixed random subset), small and translucent, so that where they
    overlap both stay visible. The legend, under the axes so that it hides no point, gives each set's size and,
    when there are any, how many points are NaN/±inf or fall off the box: a sampler that diverged shows up
    there rather than as an empty panel.

    Args:
        samples: the model's samples, ``(n, 2)`` (tensor or array).
        data: the training data, ``(m, 2)``, or ``None`` to draw the samples alone.
        box: ``((x_min, x_max), (y_min, y_max))`` with min < max: the axes limits.
        ax, path, title, labels: as for :func:`~scorematch.plot.energy_landscape` (default title "samples over
            data").
        legend: draw the legend.

    Returns:
        The figure of the axes.

    >>> import torch
    >>> fig = samples_over_data(torch.randn(300, 2), torch.randn(300, 2))
    >>> len(fig.axes)
    1
    """
    box = check_box(box)
    x = points("samples", samples)
    reference = None if data is None else points("data", data)
    ax = axes_or_new(ax, box, margin=(0.5, 1.4))
    if reference is not None:
        draw_points(ax, reference, color=DATA_COLOUR, alpha=0.45, size=4.0, label=_caption("data", reference, box))
    draw_points(ax, x, color=SAMPLE_COLOUR, alpha=0.6, size=4.0, label=_caption("samples", x, box), zorder=3)
    setup_box(ax, box, "samples over data" if title is None else title, labels)
    if legend:
        shown = "" if max(x.shape[0], 0 if reference is None else reference.shape[0]) <= MAX_POINTS else \
            f"≤ {MAX_POINTS} shown"
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize=7,
                  markerscale=3.0, frameon=False, title=shown or None, title_fontsize=7)
    return finish(ax.figure, path)
