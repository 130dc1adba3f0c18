"""One figure comparing objectives side by side: a column per model, a row per kind of picture."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from .._infra.checks import check_count
from ._common import DEFAULT_BOX, MAX_POINTS, Box, add_colorbar, check_box, finish, new_figure, note, points
from .curves import draw_loss
from .fields import energy_landscape, score_field
from .samples import samples_over_data

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ColumnSpec", "comparison_grid"]

ROWS = ("density", "score", "samples", "loss")
TRUTH = "truth"


@dataclass(frozen=True)
class ColumnSpec:
    """What one column of :func:`comparison_grid` shows.

    Attributes:
        model: an energy or score model as accepted by :func:`~scorematch.plot.energy_landscape`, or ``None``.
        samples: the model's samples ``(n, 2)``, or ``None``.
        history: its training history (list of dicts with ``step`` and ``loss``), or ``None``.
        note: a line under the column title, e.g. metrics (``"KL 0.12 · MMD² 3e-3"``).
        dtype: of the points the model is evaluated at (``None``: its parameters', else float32); float64 for a
            model in data units (:func:`~scorematch.protocol.in_data_units`), whose data may exceed float32.
    """

    model: Any = None
    samples: Tensor | np.ndarray | None = None
    history: Sequence[Mapping[str, Any]] | None = None
    note: str = ""
    dtype: torch.dtype | None = None


def _truth_column(truth: Any, n: int) -> ColumnSpec:
    sample = getattr(truth, "sample", None)
    draws = sample(n, generator=torch.Generator().manual_seed(0)) if callable(sample) else None
    return ColumnSpec(model=truth, samples=draws, note="exact target")


def comparison_grid(
    columns: Mapping[str, ColumnSpec | Any], data: Any, *, box: Box = DEFAULT_BOX, truth: Any = None,
    resolution: int = 160, n: int = 21, log: bool = False, smoothing: float | None = None, title: str | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """A grid of panels: one column per objective (in the mapping's order), one row per picture.

    Rows, from the top: the model's density (:func:`~scorematch.plot.energy_landscape`, data overlaid; the
    score magnitude for a score-only model), its score field (:func:`~scorematch.plot.score_field`), its samples
    over the data (:func:`~scorematch.plot.samples_over_data`) and its training loss
    (:func:`~scorematch.plot.loss_curves`). A row is drawn when at least one column has what it needs (a model
    for the first two, samples, a history); a column lacking it shows a short note there. Every panel of
    the first three rows has the same box, limits and equal aspect. Each density panel has its own colour bar
    (each density is normalised on the box, so values compare across panels; ``log`` shows heavy tails). The
    samples row has one legend, under the figure.

    Args:
        columns: name -> :class:`ColumnSpec`; a value that is not a ``ColumnSpec`` is taken as its ``model``.
        data: the training data ``(n, 2)``, overlaid on the density and score panels and under the samples.
        box: ``((x_min, x_max), (y_min, y_max))`` with min < max, shared by every panel.
        truth: an exact target (``log_prob``, ``score``, ``energy``, and ``sample`` if it can) drawn as a
            first column "truth", with as many of its samples as there are data points, at most 2000 (seed 0), in
            the samples row.
        resolution: grid cells per axis of the density images.
        n: arrows along the longer side of the box in the score fields.
        log: draw log-densities instead of densities.
        smoothing: EMA weight of the loss curves (see :func:`~scorematch.plot.loss_curves`).
        title: a title over the whole figure.
        path: save the figure there as a PNG (150 dpi, tight bounding box).

    Returns:
        The figure.

    >>> from scorematch.models.analytic import eight_gaussians
    >>> target = eight_gaussians()
    >>> fig = comparison_grid({"exact": ColumnSpec(model=target)}, target.sample(200), resolution=30, n=8)
    >>> len(fig.axes)   # density and score rows, one column
    2
    """
    box = check_box(box)
    check_count("resolution", resolution)
    check_count("n", n)
    if not isinstance(columns, Mapping) or not columns:
        raise ValueError("columns must be a non-empty mapping name -> ColumnSpec")
    reference = points("data", data)
    specs = {str(k): v if isinstance(v, ColumnSpec) else ColumnSpec(model=v) for k, v in columns.items()}
    if truth is not None:
        if TRUTH in specs:
            raise ValueError(f"a column is named {TRUTH!r} and truth= is given: rename the column")
        specs = {TRUTH: _truth_column(truth, min(reference.shape[0], MAX_POINTS)), **specs}
    has = {"density": any(c.model is not None for c in specs.values()),
           "samples": any(c.samples is not None for c in specs.values()),
           "loss": any(c.history is not None for c in specs.values())}
    has["score"] = has["density"]
    rows = [r for r in ROWS if has[r]]
    if not rows:
        raise ValueError("nothing to draw: give at least one column a model, samples or a history")

    (a1, b1), (a2, b2) = box
    side = 2.6 * min(max((b2 - a2) / (b1 - a1), 0.4), 2.5) + 0.2     # height of a box panel
    heights = [min(2.3, side + 0.4) if r == "loss" else side for r in rows]
    fig, axes = new_figure(len(rows), len(specs), panel=(3.3, sum(heights) / len(rows)), extra=(0.3, 0.6),
                           gridspec_kw={"height_ratios": heights})
    fig.get_layout_engine().set(w_pad=0.3)  # room for each density panel's colour bar (an inset, right of it)
    for j, (name, spec) in enumerate(specs.items()):
        for i, row in enumerate(rows):
            ax = axes[i, j]
            _draw_cell(ax, row, spec, name, reference, box, resolution, n, log, smoothing)
            if row != "loss":
                ax.tick_params(labelsize=9)
                ax.set_xlabel("")
                ax.set_ylabel(("log density" if log else "density") if row == "density" and j == 0 else
                              (row if j == 0 else ""), fontsize=13)
            elif spec.history is not None and not any(c.history is not None for c in list(specs.values())[:j]):
                ax.set_ylabel("loss", fontsize=13)  # on the first panel of the row that has a curve
        head = axes[0, j]
        head.set_title(name if not spec.note else f"{name}\n" + "\n".join(textwrap.wrap(spec.note, 24)), fontsize=11)
    if "samples" in rows:
        _one_legend(fig, axes[rows.index("samples")], reference, specs)
    if title:
        fig.suptitle(title, fontsize=15)
    return finish(fig, path)


def _one_legend(fig: Any, row: np.ndarray, reference: np.ndarray, specs: Mapping[str, ColumnSpec]) -> None:
    """One legend for the samples row, under the figure: the data's and the samples' colours and sizes."""
    handles, labels = [], []
    for ax in row:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab.split(" (")[0] not in [lb.split(" (")[0] for lb in labels]:
                handles.append(h)
                labels.append(lab)
    sizes = {s.samples.shape[0] for s in specs.values() if s.samples is not None}
    labels = [lab if not lab.startswith("samples") or len(sizes) == 1 else "samples" for lab in labels]
    if handles:
        shown = f" (≤ {MAX_POINTS} of each shown)" if max([reference.shape[0], *sizes]) > MAX_POINTS else ""
        fig.legend(handles, labels, loc="outside lower center", ncols=len(handles), fontsize=11, markerscale=4.0,
                   frameon=False, title=f"samples row{shown}", title_fontsize=11)


def _draw_cell(ax: Any, row: str, spec: ColumnSpec, name: str, reference: np.ndarray, box: Box, resolution: int,
               n: int, log: bool, smoothing: float | None) -> None:
    if row == "density" and spec.model is not None:
        energy_landscape(spec.model, box=box, resolution=resolution, data=reference, log=log, colorbar=False, ax=ax,
                         title="", dtype=spec.dtype)
        add_colorbar(ax, ax.images[0], "")
        ax.child_axes[-1].tick_params(labelsize=8)
    elif row == "score" and spec.model is not None:
        score_field(spec.model, box=box, n=n, data=reference, colorbar=False, ax=ax, title="", dtype=spec.dtype)
    elif row == "samples" and spec.samples is not None:
        samples_over_data(spec.samples, reference, box=box, ax=ax, title="", legend=False)
    elif row == "loss" and name == TRUTH:
        ax.set_axis_off()
    elif row == "loss" and spec.history is not None:
        draw_loss(ax, spec.history, name=name, smoothing=smoothing, title=False, ylabel=False)
        ax.tick_params(labelsize=7)
    else:
        note(ax, {"density": "no model", "score": "no model", "samples": "no samples", "loss": "no history"}[row])
