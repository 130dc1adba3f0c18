r"""Quality against training time: one curve per method, log-log axes.

Each method's quality is measured on held-out points at (roughly) regular wall-clock times during training, so
methods whose steps cost differently are compared at equal time, not at equal steps. The quality is positive and
lower is better: the relative Fisher divergence :math:`E\lVert s - s^*\rVert^2 / E\lVert s^*\rVert^2` where the
exact score is known, else the excess of the held-out Hyvärinen loss over the best value any method reached
(the Hyvärinen loss is the Fisher divergence up to a constant, so the excess is a difference of Fisher
divergences). A method with no training (a nonparametric estimator) is one marker at the time it took to build;
a curve that ends in a cross diverged there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ._common import finish, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["quality_curves"]


def quality_curves(curves: Mapping[str, Sequence[tuple[float, float]]], *, ylabel: str,
                   target: float | None = None, diverged: Mapping[str, float] | None = None,
                   title: str | None = None, path: str | os.PathLike[str] | None = None) -> Figure:
    """``curves``: per method, ``(seconds, quality)`` pairs (quality > 0; non-finite values are skipped);
    ``target``: a dashed line at the quality a method must reach; ``diverged``: per method, the time it diverged
    (a cross at the end of its curve)."""
    fig, axes = new_figure(1, 1, panel=(7.0, 4.2))
    ax = axes[0, 0]
    colors = [f"C{i % 10}" for i in range(len(curves))]
    for (name, points), color in zip(curves.items(), colors, strict=True):
        pts = np.array([(t, q) for t, q in points if np.isfinite(q) and q > 0 and t > 0], dtype=float).reshape(-1, 2)
        if pts.shape[0] == 0:
            continue
        if pts.shape[0] == 1:
            ax.plot(pts[:, 0], pts[:, 1], "D", color=color, markersize=7, label=f"{name} (no training)")
        else:
            ax.plot(pts[:, 0], pts[:, 1], "-o", color=color, markersize=2.5, linewidth=1.4, label=name)
        if diverged and name in diverged:
            ax.plot([pts[-1, 0]], [pts[-1, 1]], "x", color=color, markersize=10, markeredgewidth=2.5)
    if target is not None:
        ax.axhline(target, color="0.4", linestyle="--", linewidth=1.0, label=f"target {target:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training time (s, evaluations not counted)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    return finish(fig, path)
