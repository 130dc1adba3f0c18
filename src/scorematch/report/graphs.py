"""``scorematch graph``: a graphical model of a table's columns by penalised score matching — the edge list, the
path of the partial correlations against λ, and the graph drawn."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..classical.ggm import CRITERIA, choose_lambda
from ..runs.registry import GRAPH_MODELS
from .staging import staged

__all__ = ["graph_report", "partial_correlations"]


def partial_correlations(K: np.ndarray) -> np.ndarray:
    r""":math:`\rho_{ab} = -K_{ab}/\sqrt{K_{aa}K_{bb}}` of a precision matrix (1 on the diagonal)."""
    d = np.sqrt(np.diag(K))
    rho = -K / np.outer(d, d)
    np.fill_diagonal(rho, 1.0)
    return rho


def _draw_path(path: Any, lam: float, names: list[str], file: Path) -> None:
    import matplotlib.pyplot as plt

    p = len(names)
    a, b = np.triu_indices(p, 1)
    rho = np.stack([partial_correlations(K)[a, b] for K in path.precisions])
    fig, ax = plt.subplots(figsize=(7.5, 4.8), layout="constrained")
    for j in np.flatnonzero(np.abs(rho).max(0) > 0):
        ax.plot(path.lambdas, rho[:, j], lw=1)
    ax.axvline(lam, color="k", ls="--", lw=1, label=f"chosen λ = {lam:.3g}")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("λ (the L1 penalty; edges enter as it falls)")
    ax.set_ylabel("partial correlation")
    ax.set_title(f"The path: {int((np.abs(rho).max(0) > 0).sum())} of {len(a)} pairs enter")
    ax.legend(fontsize=8)
    fig.savefig(file, dpi=100)
    plt.close(fig)


def _draw_graph(rho: np.ndarray, names: list[str], title: str, file: Path) -> None:
    import matplotlib.pyplot as plt

    p = len(names)
    angle = 2 * np.pi * np.arange(p) / p
    xy = np.stack([np.cos(angle), np.sin(angle)], 1)
    fig, ax = plt.subplots(figsize=(6.5, 6.5), layout="constrained")
    a, b = np.triu_indices(p, 1)
    top = max(np.abs(rho[a, b]).max(), 1e-12)
    for i, j in zip(a, b, strict=True):
        if rho[i, j] != 0:
            ax.plot(*xy[[i, j]].T, color="C3" if rho[i, j] > 0 else "C0", lw=0.5 + 4 * abs(rho[i, j]) / top,
                    alpha=0.8)
    ax.scatter(*xy.T, s=60, color="k", zorder=3)
    for (x, y), name in zip(xy, names, strict=True):
        ax.text(1.12 * x, 1.12 * y, name, ha="center", va="center", fontsize=8 if p <= 30 else 6)
    ax.set_xlim(-1.4, 1.4)
    ax.set_ylim(-1.4, 1.4)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title + "\n(red: positive, blue: negative partial correlation; width: its size)", fontsize=10)
    fig.savefig(file, dpi=100)
    plt.close(fig)


def graph_report(x: np.ndarray, names: list[str] | None, out: Path, *, model: str = "gaussian",
                 lam: float | None = None, criterion: str = "cv", gamma: float = 0.5, n_lambdas: int = 50,
                 folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Fit the graphical model ``model`` (:data:`scorematch.runs.registry.GRAPH_MODELS`) to the columns of ``x``
    ``(n, p)`` and write ``edges.csv`` (each edge with its partial correlation and precision entry, strongest
    first), ``graph.json`` (with the ten strongest edges), ``path.png`` and ``graph.png`` into ``out``. ``lam``
    fixes λ; by default it is chosen by ``criterion``: ``"cv"``, ``folds``-fold held-out (generalised)
    score-matching loss, or ``"ebic"``, the extended BIC with ``gamma`` (:func:`scorematch.classical.ggm.choose_lambda`).
    Everything is drawn in a temporary folder and moved into ``out`` only when all succeeded. Returns what
    ``graph.json`` holds."""
    entry = GRAPH_MODELS[model]
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"graph needs a table of at least 2 columns, got shape {x.shape}")
    names = list(names) if names else [f"x{j + 1}" for j in range(x.shape[1])]
    if not 0 <= gamma < np.inf:
        raise ValueError(f"--gamma must be finite and >= 0, got {gamma}")
    if criterion not in CRITERIA:
        raise ValueError(f"--criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    z = entry.prepare(x)
    if lam is None:
        lam, _ = choose_lambda(z, kind=model, criterion=criterion, gamma=gamma, folds=folds, n_lambdas=n_lambdas,
                               seed=seed)
        how = f"{folds}-fold held-out score-matching loss" if criterion == "cv" else f"extended BIC, γ = {gamma:g}"
    elif lam >= 0:
        how = "given"
    else:
        raise ValueError(f"--lambda must be >= 0, got {lam}")
    path = entry.path(z, None, n_lambdas)
    K = entry.path(z, np.array([lam])).precisions[0]
    rho = partial_correlations(K)
    a, b = np.triu_indices(len(K), 1)
    keep = K[a, b] != 0
    order = np.argsort(-np.abs(rho[a, b][keep]), kind="stable")  # the edges, strongest first
    ea, eb = a[keep][order], b[keep][order]
    summary = {"model": model, "n": int(x.shape[0]), "p": int(x.shape[1]), "lambda": lam, "criterion": how,
               "edges": int(keep.sum()), "pairs": len(a), "columns": names,
               "strongest": [[names[i], names[j], float(rho[i, j])] for i, j in zip(ea[:10], eb[:10], strict=True)]}
    with staged(out, "scorematch-graph-") as tmp:
        lines = ["a,b,partial_correlation,precision"]
        lines += [f"{names[i]},{names[j]},{rho[i, j]:.6g},{K[i, j]:.6g}" for i, j in zip(ea, eb, strict=True)]
        (tmp / "edges.csv").write_text("\n".join(lines) + "\n")
        (tmp / "graph.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        _draw_path(path, lam, names, tmp / "path.png")
        _draw_graph(rho, names, f"{model}: {int(keep.sum())} edges at λ = {lam:.3g} ({how})", tmp / "graph.png")
    return summary
