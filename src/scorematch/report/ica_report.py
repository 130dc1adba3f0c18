"""``scorematch ica``: independent components of a table's columns by score matching — the unmixing and mixing
matrices, the recovered sources, and their histograms against the assumed source density."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..classical.ica import SOURCES, ica, ica_objective
from .staging import staged

__all__ = ["SOURCE_DENSITIES", "ica_report"]

#: each source model's density, for the figure: logistic 1/(4 cosh²(u/2)), and 1/(π cosh u)
SOURCE_DENSITIES = {
    "logistic": lambda u: 0.25 / np.cosh(u / 2) ** 2,
    "cosh": lambda u: 1 / (math.pi * np.cosh(u)),
}


def _csv(path: Path, header: list[str], rows: np.ndarray, first: list[str] | None = None) -> None:
    lines = [",".join(([""] if first else []) + header)]
    for i, row in enumerate(rows):
        cells = [f"{v:.8g}" for v in row]
        lines.append(",".join(([first[i]] if first else []) + cells))
    path.write_text("\n".join(lines) + "\n")


def _draw(sources: np.ndarray, source: str, file: Path) -> None:
    import matplotlib.pyplot as plt

    d = sources.shape[1]
    cols = min(d, 4)
    rows = math.ceil(d / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), layout="constrained", squeeze=False)
    u = np.linspace(-8, 8, 400)
    for k, ax in enumerate(axes.flat):
        if k >= d:
            ax.axis("off")
            continue
        ax.hist(sources[:, k], bins=60, range=(-8, 8), density=True, color="C0", alpha=0.6)
        ax.plot(u, SOURCE_DENSITIES[source](u), color="k", lw=1.2, label=f"{source} density")
        ax.set_title(f"source {k + 1}", fontsize=9)
        if k == 0:
            ax.legend(fontsize=7)
    fig.suptitle(f"recovered sources against the assumed {source} density (the model sets their scale)", fontsize=10)
    fig.savefig(file, dpi=100)
    plt.close(fig)


def ica_report(x: np.ndarray, names: list[str] | None, out: Path, *, source: str = "logistic") -> dict[str, Any]:
    """Estimate x = A s with independent sources (:func:`scorematch.classical.ica.ica`) and write ``unmixing.csv`` (W, one
    row per source), ``mixing.csv`` (A = W⁻¹, one column per source), ``sources.csv`` (s = W(x − mean)),
    ``ica.json`` and ``sources.png`` into ``out``, all drawn in a temporary folder and moved only when all
    succeeded. The columns are standardized first and W is given back in the data's units. The model fixes each
    source's scale (its density is the assumed one); its sign and order are free, so each source's largest
    loading in A is made positive and the sources come in decreasing order of their share of the standardized
    data's variance. Returns what ``ica.json`` holds."""
    if source not in SOURCES:
        raise ValueError(f"--source must be one of {', '.join(SOURCES)}, got {source!r}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"ica needs a table of at least 2 columns, got shape {x.shape}")
    n, d = x.shape
    if n <= 5 * d:
        raise ValueError(f"ica needs more rows than 5 × columns ({5 * d}), got {n}")
    names = list(names) if names else [f"x{j + 1}" for j in range(d)]
    mean, std = x.mean(0), x.std(0)
    if (std == 0).any():
        raise ValueError(f"column {int(np.argmax(std == 0)) + 1} is constant: drop it")
    z = (x - mean) / std
    if np.linalg.matrix_rank(z) < d:
        raise ValueError("the columns are linearly dependent: drop one (ICA needs as many sources as columns)")
    W = ica(torch.from_numpy(z), source=source).numpy()  # in standardized units; the model fixes each scale
    A = np.linalg.inv(W)
    order = np.argsort(-(A**2).sum(0), kind="stable")  # the share of the (standardized) variance each explains
    sign = np.sign(A[np.abs(A).argmax(0), np.arange(d)])  # each source's largest loading positive
    W, A = (W * sign[:, None])[order], (A * sign)[:, order]
    s = z @ W.T
    W_data = W / std  # s = W_data (x − mean)
    A_data = A * std[:, None]
    objective = float(ica_objective(torch.from_numpy(W), torch.from_numpy(z), source))
    sources = [f"s{k + 1}" for k in range(d)]
    summary = {"n": n, "d": d, "source": source, "columns": names, "objective": objective,
               "variance_share": [float(v) for v in (A**2).sum(0) / (A**2).sum()]}
    with staged(out, "scorematch-ica-") as tmp:
        _csv(tmp / "unmixing.csv", names, W_data, sources)
        _csv(tmp / "mixing.csv", sources, A_data, names)
        _csv(tmp / "sources.csv", sources, s)
        (tmp / "ica.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        _draw(s, source, tmp / "sources.png")
    return summary
