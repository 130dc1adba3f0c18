"""What every figure shares: checking inputs, reading a model as an energy and/or a score, making and saving
figures. matplotlib is imported inside the functions that need it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from ..metrics.grid import Box, _check_box
from ..protocol import as_model, has_energy

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["DEFAULT_BOX", "MAX_POINTS", "Box", "ModelView", "add_colorbar", "axes_or_new", "check_box", "draw_points",
           "finish", "new_figure", "note", "points", "read_model", "setup_box", "subsample"]

DEFAULT_BOX: Box = ((-4.0, 4.0), (-4.0, 4.0))
MAX_POINTS = 2000
"""At most this many points of a point cloud are drawn (a fixed random subset), so scatters stay legible."""
DPI = 150
BATCH = 8192

check_box = _check_box


def points(name: str, x: Any) -> np.ndarray:
    """``x`` (a tensor or an array of shape ``(n, 2)``, ``n >= 1``) as a float64 NumPy array; rows with NaN or
    ±inf are kept (drawing skips them, captions count them)."""
    t = x.detach() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    if t.ndim != 2 or t.shape[1] != 2 or t.shape[0] < 1:
        raise ValueError(f"{name} must have shape (n, 2) with n >= 1, got {tuple(t.shape)}")
    if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64)):
        raise ValueError(f"{name} must hold real numbers, got dtype {t.dtype}")
    return t.to(device="cpu", dtype=torch.float64).numpy()


def subsample(x: np.ndarray, limit: int = MAX_POINTS) -> np.ndarray:
    """At most ``limit`` rows of ``x``, a fixed random subset (seed 0) so a figure is the same every time."""
    if x.shape[0] <= limit:
        return x
    return x[np.random.default_rng(0).choice(x.shape[0], limit, replace=False)]


@dataclass(frozen=True)
class ModelView:
    """A model read as ``energy`` (``(B, 2) -> (B,)``, or ``None`` for a score-only model) and ``score``
    (``(B, 2) -> (B, 2)``, detached), evaluated on ``dtype`` / ``device``."""

    energy: Callable[[Tensor], Tensor] | None
    score: Callable[[Tensor], Tensor]
    dtype: torch.dtype
    device: torch.device

    def grid(self, x_axis: np.ndarray, y_axis: np.ndarray) -> Tensor:
        """The points ``(x_axis[j], y_axis[i])`` in row-major order (rows ``y``), shape ``(len(y) * len(x), 2)``."""
        yy, xx = np.meshgrid(y_axis, x_axis, indexing="ij")
        return torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], -1), dtype=self.dtype, device=self.device)

    def score_values(self, x: Tensor) -> np.ndarray:
        """The score at ``x``, in batches, as a float64 NumPy array of shape ``(n, 2)``."""
        out = [self.score(x[i : i + BATCH]) for i in range(0, x.shape[0], BATCH)]
        return torch.cat(out).detach().to(device="cpu", dtype=torch.float64).numpy()


def _dtype_device(model: Any) -> tuple[torch.dtype, torch.device]:
    params = getattr(model, "parameters", None)
    first = next(iter(params()), None) if callable(params) else None
    if isinstance(first, Tensor) and first.is_floating_point():
        return first.dtype, first.device
    return torch.float32, torch.device("cpu")


def read_model(model: Any, *, kind: str = "energy", dtype: torch.dtype | None = None,
               device: torch.device | str | None = None) -> ModelView:
    """Read ``model`` (:func:`~scorematch.protocol.as_model`) as an energy and/or a score.

    An energy model (``Energy(net)``, an analytic target) gives both; a score model (``Score(net)``) the score
    only; a plain callable is read as ``kind`` says (the figure's own: an energy for a landscape, a score for a
    field). Points are made in ``dtype`` on ``device`` if given, else in those of the model's first parameter,
    else float32 on the CPU.
    """
    found = _dtype_device(model)
    dtype, device = dtype or found[0], torch.device(device) if device is not None else found[1]
    m = as_model(model, plain=kind)
    energy = None
    if has_energy(m):
        def energy(x: Tensor) -> Tensor:
            with torch.no_grad():
                return m.energy(x).detach()

    def score(x: Tensor) -> Tensor:
        with torch.enable_grad():
            return m.score(x).detach()

    return ModelView(energy, score, dtype, device)


def new_figure(nrows: int, ncols: int, *, panel: tuple[float, float], extra: tuple[float, float] = (0.0, 0.0),
               **subplot_kw: Any) -> tuple[Figure, np.ndarray]:
    """A figure with an Agg canvas (never a window) and a ``(nrows, ncols)`` array of axes, each about
    ``panel`` inches, laid out by matplotlib's constrained layout so titles and labels do not overlap."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    size = (panel[0] * ncols + extra[0], panel[1] * nrows + extra[1])
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)


def axes_or_new(ax: Axes | None, box: Box, *, margin: tuple[float, float] = (1.1, 0.8)) -> Axes:
    """``ax``, or the one axes of a new figure shaped to the box, about 3.6 inches on its long side, plus
    ``margin`` inches (width, height) for labels, a colour bar or a legend."""
    if ax is not None:
        return ax
    (a1, b1), (a2, b2) = box
    ratio = min(max((b2 - a2) / (b1 - a1), 0.4), 2.5)
    width = 3.6 / max(ratio, 1.0)
    return new_figure(1, 1, panel=(width + margin[0], width * ratio + margin[1]))[1][0, 0]


def finish(fig: Figure, path: str | os.PathLike[str] | None) -> Figure:
    """Save ``fig`` to ``path`` (PNG at 150 dpi, tight bounding box; parent folders created) if given; return it."""
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=DPI, bbox_inches="tight")
    return fig


def setup_box(ax: Axes, box: Box, title: str | None, labels: tuple[str, str] | None = None) -> None:
    """Limits to ``box``, equal aspect, axis labels (``labels``, e.g. the data's column names; default
    :math:`x_1, x_2`) and the title (``None`` or ``""``: none)."""
    (a1, b1), (a2, b2) = box
    ax.set_xlim(a1, b1)
    ax.set_ylim(a2, b2)
    ax.set_aspect("equal")
    ax.set_xlabel(labels[0] if labels else "$x_1$")
    ax.set_ylabel(labels[1] if labels else "$x_2$")
    ax.locator_params(nbins=5)  # long tick labels (0.025, −0.050) must not run into each other
    if title:
        ax.set_title(title)


def add_colorbar(ax: Axes, mappable: Any, label: str) -> None:
    """A colour bar as tall as the axes' drawn box (which equal aspect may make smaller than its slot), just right
    of it; it lives in an inset of ``ax``, so ``fig.axes`` still lists ``ax`` alone."""
    cax = ax.inset_axes((1.04, 0.0, 0.05, 1.0))
    ax.figure.colorbar(mappable, cax=cax, label=label)


def draw_points(ax: Axes, x: np.ndarray, *, color: str, alpha: float, size: float = 3.0, label: str | None = None,
                zorder: float = 2) -> None:
    """A scatter of (a subset of) ``x``: small, translucent, without edges."""
    x = subsample(x)
    ax.scatter(x[:, 0], x[:, 1], s=size, c=color, alpha=alpha, linewidths=0, label=label, zorder=zorder,
               rasterized=True)


def note(ax: Axes, text: str) -> None:
    """An empty panel carrying ``text`` in its centre."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.45", fontsize=9, wrap=True)
