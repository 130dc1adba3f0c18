r"""Training-loss curves: the raw loss, faint, under its exponential moving average, and the held-out criterion.

Score-matching objectives live on different scales and some are not bounded below by zero (explicit and
sliced score matching drop the unknown constant of the Fisher divergence and go negative), so one log axis
or one shared axis would flatten all but one curve. Each run therefore gets its own panel and its own
y-range; panels share nothing but the look.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import finish, new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["draw_loss", "loss_curves", "smooth"]

History = Sequence[Mapping[str, Any]]
MAX_COLUMNS = 4


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    r"""Debiased exponential moving average :math:`m_t = \beta m_{t-1} + (1-\beta) v_t`,
    :math:`\hat m_t = m_t / (1 - \beta^t)`, with :math:`\beta` = ``weight``; non-finite values are skipped
    (the average carries over them).

    >>> smooth(np.array([1.0, 3.0, 3.0]), 0.5).round(4).tolist()
    [1.0, 2.3333, 2.7143]
    """
    out, m, w = np.empty_like(values, dtype=float), 0.0, 1.0
    for t, v in enumerate(values):
        if math.isfinite(v):
            m, w = weight * m + (1 - weight) * v, w * weight
        out[t] = m / (1 - w) if w < 1 else math.nan
    return out


def _series(name: str, history: Any) -> tuple[np.ndarray, np.ndarray, float | None]:
    """``(steps, losses, seconds)`` of one history: the entries with a ``loss``; ``step`` defaults to the index
    of the entry; ``seconds`` is the last one given, if any."""
    if isinstance(history, Mapping) or not isinstance(history, Sequence):
        raise ValueError(f"history {name!r} must be a list of dicts with keys 'step' and 'loss', "
                         f"got {type(history).__name__}")
    rows = [(i, e) for i, e in enumerate(history) if isinstance(e, Mapping) and e.get("loss") is not None]
    if not rows:
        raise ValueError(f"history {name!r} has no entries with a 'loss'")
    steps = np.array([float(e.get("step", i)) for i, e in rows])
    losses = np.array([float(e["loss"]) for _, e in rows])
    seconds = [float(e["seconds"]) for e in history if isinstance(e, Mapping) and e.get("seconds") is not None]
    return steps, losses, seconds[-1] if seconds else None


def _weight(n: int, smoothing: float | None) -> float:
    if smoothing is None:  # an averaging window of about n / 25 points
        return 1.0 - 1.0 / max(1.0, n / 25)
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing!r}")
    return float(smoothing)


def draw_loss(ax: Axes, history: History, *, name: str = "", smoothing: float | None = None,
              title: bool = True, ylabel: bool = True) -> None:
    """One run's loss against step on ``ax``; see :func:`loss_curves`."""
    steps, losses, seconds = _series(name, history)
    beta = _weight(len(losses), smoothing)
    curve = smooth(losses, beta)
    if beta > 0:
        ax.plot(steps, losses, color="tab:blue", alpha=0.25, linewidth=0.8)
    ax.plot(steps, curve, color="tab:blue", linewidth=1.6)
    # the y-range fits the curve after its first 10 % of points (and the raw loss's 1st-99th percentiles
    # there), so a large initial loss does not squash the part of training that matters
    body = slice(len(losses) // 10, None)
    finite = losses[body][np.isfinite(losses[body])]
    fitted = curve[body][np.isfinite(curve[body])]
    if finite.size or fitted.size:
        values = np.concatenate([np.percentile(finite, [1, 99]) if finite.size else [], fitted])
        lo, hi = float(values.min()), float(values.max())
        pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.05
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("step")
    if ylabel:
        ax.set_ylabel("loss")
    ax.grid(alpha=0.3, linewidth=0.5)
    _draw_held_out(ax, history)
    if title:
        label = name or "training loss"
        ax.set_title(label if seconds is None else f"{label}  ({seconds:.3g} s)", fontsize=10)


def _draw_held_out(ax: Axes, history: History) -> None:
    """The held-out criterion (``val_hyvarinen``) on a second y-axis, its best step marked by a dotted line."""
    points = [(float(e["step"]), float(e["val_hyvarinen"])) for e in history
              if isinstance(e, Mapping) and e.get("val_hyvarinen") is not None and "step" in e
              and math.isfinite(float(e["val_hyvarinen"]))]
    if not points:
        return
    steps, values = np.array(points).T
    twin = ax.twinx()
    twin.plot(steps, values, color="tab:orange", linewidth=1.2, marker=".", markersize=3, label="held-out")
    best = int(np.argmin(values))
    twin.axvline(steps[best], color="tab:orange", linestyle=":", linewidth=1.0)
    twin.tick_params(axis="y", colors="tab:orange", labelsize=8)
    twin.set_ylabel("held-out Hyvärinen", color="tab:orange", fontsize=8)
    lo, hi = float(values.min()), float(np.percentile(values, 90))
    pad = 0.1 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.05
    twin.set_ylim(lo - pad, hi + pad)


def loss_curves(
    histories: Mapping[str, History] | History, *, smoothing: float | None = None,
    path: str | os.PathLike[str] | None = None, title: str | None = None,
) -> Figure:
    """Loss against step for one run or several, one panel per run (up to four panels a row).

    Each panel draws the raw loss faintly and its debiased exponential moving average (:func:`smooth`) on
    top, on the run's own y-axis (see the module docstring for why). The y-range fits the curve after its
    first 10% of steps, so an early transient may run off the top. Where the history has ``val_hyvarinen``
    entries (a run with held-out data), they are drawn in orange on a second y-axis, with the best step dotted.
    A run whose history records ``seconds`` has its last value, the training time, in its title.

    Args:
        histories: a history, or a mapping run name -> history; a history is a list of dicts with ``loss``
            and ``step`` (the entry's index if absent), maybe ``seconds``; entries without ``loss`` are skipped.
        smoothing: the EMA weight β in [0, 1), 0 for none; ``None``: a window of about 1/25 of the points.
        path: save the figure there as a PNG (150 dpi, tight bounding box).
        title: a title over the whole figure.

    Returns:
        The figure, one axes per run.

    >>> run = [{"step": s, "loss": 1.0 / (s + 1)} for s in range(100)]
    >>> len(loss_curves({"dsm": run, "ssm": run}).axes)
    2
    """
    runs = {"": histories} if not isinstance(histories, Mapping) else dict(histories)
    if not runs:
        raise ValueError("histories is empty: give a history or a mapping name -> history")
    ncols = min(len(runs), MAX_COLUMNS)
    nrows = math.ceil(len(runs) / ncols)
    fig, axes = new_figure(nrows, ncols, panel=(3.6, 2.7))
    for k, (name, history) in enumerate(runs.items()):
        draw_loss(axes.flat[k], history, name=str(name), smoothing=smoothing, ylabel=k % ncols == 0)
    for ax in axes.flat[len(runs):]:
        fig.delaxes(ax)
    if title:
        fig.suptitle(title)
    return finish(fig, path)
