"""Images as grids: samples of an image model, next to the data or to other models' samples."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import finish, new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["image_grid", "image_grids", "mosaic"]

MAX_IMAGES = 100


def mosaic(images: Any, *, ncol: int | None = None, value_range: tuple[float, float] | None = None,
           limit: int = MAX_IMAGES) -> np.ndarray:
    """The first ``limit`` images ``(n, c, h, w)`` tiled row by row into one picture ``(H, W)`` (one channel) or
    ``(H, W, 3)`` (three; other channel counts show their first), ``ncol`` to a row (default: a square), one pixel
    of gap between tiles. Values are mapped to [0, 1] by ``value_range`` (default: the images' own range) and
    clipped; non-finite pixels show as the middle grey."""
    x = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images, dtype=np.float64)
    if x.ndim != 4 or x.shape[0] == 0:
        raise ValueError(f"images must have shape (n, c, h, w) with n >= 1; got {x.shape}")
    x = x[:limit]
    n, c, h, w = x.shape
    finite = np.isfinite(x)
    lo, hi = value_range if value_range is not None else (
        (float(x[finite].min()), float(x[finite].max())) if finite.any() else (0.0, 1.0))
    x = np.where(finite, (x - lo) / (hi - lo if hi > lo else 1.0), 0.5).clip(0.0, 1.0)
    x = x[:, :3] if c == 3 else x[:, :1]
    ncol = ncol or math.ceil(math.sqrt(n))
    nrow = math.ceil(n / ncol)
    out = np.ones((x.shape[1], nrow * (h + 1) - 1, ncol * (w + 1) - 1))
    for k in range(n):
        i, j = divmod(k, ncol)
        out[:, i * (h + 1):i * (h + 1) + h, j * (w + 1):j * (w + 1) + w] = x[k]
    return out[0] if out.shape[0] == 1 else out.transpose(1, 2, 0)


def _draw(ax: Axes, images: Any, title: str | None, value_range: tuple[float, float] | None, limit: int) -> None:
    picture = mosaic(images, value_range=value_range, limit=limit)
    ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def image_grid(images: Any, *, title: str | None = None, value_range: tuple[float, float] | None = None,
               limit: int = MAX_IMAGES, ax: Axes | None = None, path: str | os.PathLike[str] | None = None) -> Figure:
    """One grid of up to ``limit`` images ``(n, c, h, w)`` (:func:`mosaic`; ``value_range``: the data's range,
    e.g. ``(0, 1)``, so that every grid of one data set shares its grey scale); saved as a PNG to ``path``.

    >>> import torch
    >>> fig = image_grid(torch.rand(16, 1, 8, 8), title="noise", value_range=(0, 1))
    >>> fig.axes[0].get_title()
    'noise'
    """
    if ax is None:
        side = min(MAX_IMAGES, len(images), limit)
        ax = new_figure(1, 1, panel=(max(2.5, 0.35 * math.ceil(math.sqrt(side))),) * 2)[1][0, 0]
    _draw(ax, images, title, value_range, limit)
    return finish(ax.figure, path)


def image_grids(panels: Mapping[str, Any], *, title: str | None = None, value_range: tuple[float, float] | None = None,
                limit: int = 64, path: str | os.PathLike[str] | None = None) -> Figure:
    """Grids side by side, one per entry of ``panels`` (``{caption: images}``, e.g. the data and each model's
    samples), on one grey scale ``value_range``."""
    if not panels:
        raise ValueError("image_grids: give at least one panel")
    fig, axes = new_figure(1, len(panels), panel=(2.8, 3.0))
    for ax, (caption, images) in zip(axes[0], panels.items(), strict=True):
        _draw(ax, images, caption, value_range, limit)
    if title:
        fig.suptitle(title, fontsize=10)
    return finish(fig, path)
