"""Edge recovery of the score-matching lasso (``scorematch.classical.ggm``) against scikit-learn's GraphicalLasso on block,
chain and grid graphs; writes ``docs/ggm.md``.

Run: ``.venv/bin/python bench/ggm_recovery.py [--seeds 3] [--out docs/ggm.md]`` (a few minutes on 2 cores).

Graphs on p = 50 nodes (the grid: 7 × 7 = 49): **block**, 5 blocks of 10 nodes, each an Erdős–Rényi graph with edge
probability 0.2 (the setting of genscore's vignette, which reports AUC 0.982 at n = 200); **chain**, a path; **grid**,
a 4-neighbour lattice. Edge weights are drawn uniformly from ±[0.5, 1]; the diagonal is then raised until the
smallest eigenvalue of the precision is 0.5. The data are standardized for both methods.

* **AUC**: each pair scored by the largest λ (α) at which its edge is in the estimate, along a path of 40 values
  from the first edge down to 1% of it; the ROC AUC of those scores against the true edges.
* **precision / recall** of the edges at the λ each method chooses: ours by the held-out score-matching loss
  (5 folds, ``choose_lambda``), scikit-learn's by ``GraphicalLassoCV`` (5 folds, held-out likelihood).
* **seconds**: the path, and the choice of λ, each.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.covariance import GraphicalLassoCV, graphical_lasso
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score

from scorematch.classical.ggm import choose_lambda, score_matching_lasso, truncated_gaussian_sample, truncated_lasso


def graph(kind: str, rng: np.random.Generator) -> np.ndarray:
    """The adjacency matrix (symmetric, zero diagonal)."""
    if kind == "block":
        p, A = 50, np.zeros((50, 50), dtype=bool)
        for start in range(0, p, 10):
            block = np.triu(rng.random((10, 10)) < 0.2, 1)
            A[start:start + 10, start:start + 10] = block
    elif kind == "chain":
        A = np.diag(np.ones(49, dtype=bool), 1)
    else:  # a 7 × 7 grid
        idx = np.arange(49).reshape(7, 7)
        A = np.zeros((49, 49), dtype=bool)
        A[idx[:, :-1].ravel(), idx[:, 1:].ravel()] = True
        A[idx[:-1, :].ravel(), idx[1:, :].ravel()] = True
    return A | A.T


def precision(A: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    W = np.triu(rng.uniform(0.5, 1.0, A.shape) * rng.choice([-1.0, 1.0], A.shape) * A, 1)
    W = W + W.T
    return W + (0.5 - np.linalg.eigvalsh(W)[0]) * np.eye(len(A))


def entry_scores(precisions: np.ndarray, grid: np.ndarray) -> np.ndarray:
    p = precisions.shape[1]
    a, b = np.triu_indices(p, 1)
    present = np.abs(precisions[:, a, b]) > 1e-10
    first = np.where(present.any(0), present.argmax(0), -1)
    return np.where(first >= 0, grid[np.maximum(first, 0)], 0.0)


def glasso_path(x: np.ndarray, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    S = np.corrcoef(x.T)
    top = np.abs(S - np.eye(len(S))).max()
    alphas = top * np.geomspace(1.0, 0.01, n)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for alpha in alphas:
            try:
                out.append(graphical_lasso(S, alpha=alpha, max_iter=200)[1])
            except FloatingPointError:
                out.append(out[-1] if out else np.eye(len(S)))
    return np.stack(out), alphas


def precision_recall(truth: np.ndarray, est: np.ndarray) -> tuple[float, float]:
    a, b = np.triu_indices(len(truth), 1)
    t, f = truth[a, b], np.abs(est[a, b]) > 1e-10
    return (float((t & f).sum() / max(f.sum(), 1)), float((t & f).sum() / max(t.sum(), 1)))


def run(kind: str, n: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    A = graph(kind, rng)
    K = precision(A, rng)
    x = rng.multivariate_normal(np.zeros(len(K)), np.linalg.inv(K), size=n)
    x = (x - x.mean(0)) / x.std(0)
    a, b = np.triu_indices(len(K), 1)
    truth = A[a, b]
    row = {}
    t0 = time.perf_counter()
    path = score_matching_lasso(x, n_lambdas=40, tol=1e-8)
    row["sm_path_s"] = time.perf_counter() - t0
    row["sm_auc"] = roc_auc_score(truth, entry_scores(path.precisions, path.lambdas))
    t0 = time.perf_counter()
    lam, _ = choose_lambda(x, folds=5, n_lambdas=40)
    est = score_matching_lasso(x, lambdas=np.array([lam]), tol=1e-8).precisions[0]
    row["sm_choose_s"] = time.perf_counter() - t0
    row["sm_precision"], row["sm_recall"] = precision_recall(A, est)
    lam, _ = choose_lambda(x, criterion="ebic", gamma=0.5, n_lambdas=40)
    est = score_matching_lasso(x, lambdas=np.array([lam]), tol=1e-8).precisions[0]
    row["ebic_precision"], row["ebic_recall"] = precision_recall(A, est)
    t0 = time.perf_counter()
    gl, alphas = glasso_path(x)
    row["gl_path_s"] = time.perf_counter() - t0
    row["gl_auc"] = roc_auc_score(truth, entry_scores(gl, alphas))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cv = GraphicalLassoCV(cv=5, max_iter=200).fit(x)
    row["gl_choose_s"] = time.perf_counter() - t0
    row["gl_precision"], row["gl_recall"] = precision_recall(A, cv.precision_)
    return row


def truncated_auc(seed: int, n: int = 200, shift: float = 0.0, centred: bool = True) -> float:
    """The truncated model (h = min(x, 3)) on the block graph: data from the truncated Gaussian (located at
    ``shift`` in every coordinate) by Gibbs sampling, scaled, the AUC of the path's entry scores."""
    rng = np.random.default_rng(seed)
    A = graph("block", rng)
    K = precision(A, rng)
    x = truncated_gaussian_sample(K, n, mean=np.full(len(K), shift), sweeps=200, seed=seed)
    path = truncated_lasso(x / x.std(0), n_lambdas=40, tol=1e-8, centred=centred)
    a, b = np.triu_indices(len(K), 1)
    return float(roc_auc_score(A[a, b], entry_scores(path.precisions, path.lambdas)))


def real_table(name: str) -> str:
    """Seconds for the 40-value paths on a real, standardized table (no truth: the cost on collinear columns)."""
    from sklearn import datasets

    x = getattr(datasets, f"load_{name}")().data
    x = (x - x.mean(0)) / x.std(0)
    eig = np.linalg.eigvalsh(np.corrcoef(x.T))
    t0 = time.perf_counter()
    path = score_matching_lasso(x, n_lambdas=40, tol=1e-8)
    sm = time.perf_counter() - t0
    t0 = time.perf_counter()
    glasso_path(x)
    gl = time.perf_counter() - t0
    return (f"| {name} | {x.shape[0]} × {x.shape[1]} | {eig[-1] / eig[0]:.0f} | {sm:.2f} | "
            f"{int(path.steps.max())} | {gl:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "ggm.md")
    args = parser.parse_args()
    settings = [("block", 200), ("block", 1000), ("chain", 100), ("chain", 1000), ("grid", 100), ("grid", 1000)]
    lines = ["# Gaussian graphical models: the score-matching lasso against GraphicalLasso", "",
             f"`python bench/ggm_recovery.py --seeds {args.seeds}`; means over {args.seeds} seeds (data and, for the "
             "block graph, the graph). p = 50 (the grid 7 × 7); block: 5 blocks of 10 nodes, each an Erdős–Rényi graph "
             "with edge probability 0.2; edge weights uniform on ±[0.5, 1], the diagonal raised until the smallest "
             "eigenvalue is 0.5; data standardized. AUC: each pair scored by the largest λ of a 40-value path at which "
             "its edge is present. Precision / recall at the λ each method chooses by 5-fold cross-validation (held-out "
             "score-matching loss; GraphicalLassoCV's held-out likelihood), and at the λ of score matching's extended "
             "BIC with γ = 0.5.", "",
             "| graph | n | AUC, score matching | AUC, GraphicalLasso | precision / recall, score matching "
             "(held-out SM loss) | precision / recall, score matching (eBIC, γ = 0.5) | precision / recall, "
             "GraphicalLassoCV | seconds, SM path / choice | seconds, GL path / CV |", "|---" * 9 + "|"]
    for kind, n in settings:
        rows = [run(kind, n, seed) for seed in range(args.seeds)]
        m = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        line = (f"| {kind} | {n} | {m['sm_auc']:.3f} | {m['gl_auc']:.3f} | {m['sm_precision']:.2f} / "
                f"{m['sm_recall']:.2f} | {m['ebic_precision']:.2f} / {m['ebic_recall']:.2f} | "
                f"{m['gl_precision']:.2f} / {m['gl_recall']:.2f} | {m['sm_path_s']:.2f} / "
                f"{m['sm_choose_s']:.2f} | {m['gl_path_s']:.2f} / {m['gl_choose_s']:.2f} |")
        print(line, flush=True)
        lines.append(line)
    aucs = [truncated_auc(seed) for seed in range(args.seeds)]
    line = (f"Truncated Gaussian graphical model on [0, ∞)^50, generalised score matching with h(x) = min(x, 3), block "
            f"graph, n = 200 (Gibbs draws): AUC {np.mean(aucs):.3f} ± {np.std(aucs):.3f} over {args.seeds} seeds.")
    print(line, flush=True)
    shifted = {c: [truncated_auc(seed, n=1000, shift=1.0, centred=c) for seed in range(args.seeds)] for c in (True, False)}
    line2 = (f"Located at μ = 1 in every coordinate (n = 1000), where the centred model is misspecified: AUC "
             f"{np.mean(shifted[True]):.3f} ± {np.std(shifted[True]):.3f} centred, {np.mean(shifted[False]):.3f} ± "
             f"{np.std(shifted[False]):.3f} non-centred (`--model truncated-noncentred`, the linear term profiled out).")
    print(line2, flush=True)
    lines += ["", line, "", line2, "",
              "genscore's vignette reports AUC 0.982 for the Gaussian estimator and 0.675 for the truncated "
              "one with h(x) = min(x, 3) on the block graph at n = 200, p = 50 (its edge weights and seeds, not these)."]
    lines += ["", "Real tables, standardized (no true graph: the cost where columns are collinear). Seconds for the "
              "40-value paths; the score-matching path finishes each λ exactly on its support once proximal gradient "
              "has found it (an active-set step): on breast_cancer about a thousand steps per λ at most, where "
              "proximal gradient alone takes 4,000 to 8,000 (7× the time).", "",
              "| table | n × p | condition number | seconds, SM path | most steps for one λ | seconds, GL path |",
              "|---|---|---|---|---|---|"]
    for name in ("breast_cancer", "wine", "diabetes"):
        line = real_table(name)
        print(line, flush=True)
        lines.append(line)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
