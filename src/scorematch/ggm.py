r"""Gaussian graphical models by score matching with an L1 penalty: the score-matching lasso of Lin, Drton & Shojaie
(2016, "Estimation of high-dimensional graphical models using regularized score matching", EJS 10).

For centred data with second-moment matrix :math:`S = X^\top X/n` and a symmetric precision K, Hyvärinen's
objective of :math:`p \propto e^{-x^\top Kx/2}` is :math:`L(K) = \tfrac12\operatorname{tr}(KSK) - \operatorname{tr}K`,
a quadratic in the entries of K (its minimiser is :math:`S^{-1}`, :mod:`scorematch.expfam`). With the penalty
:math:`\lambda\sum_{a<b}|K_{ab}|` (each edge once; the diagonal free) the estimate is sparse, and its zeros are the
graph's missing edges. The partial derivatives are

.. math::

    \partial L/\partial K_{ab} = (SK + KS)_{ab}\ (a \ne b), \qquad \partial L/\partial K_{aa} = (SK)_{aa} - 1,

and the problem is solved by accelerated proximal gradient (a gradient step of size 1/L, L = 2 max eig S, then the
soft threshold of the off-diagonal entries). Above
:math:`\lambda_{\max} = \max_{a<b}|S_{ab}|\,(1/S_{aa} + 1/S_{bb})` the estimate is diagonal,
:math:`K = \operatorname{diag}(1/S_{aa})`. The path is solved from λ_max down a geometric grid with warm starts;
λ is chosen by the held-out score-matching loss :math:`L_{\text{test}}(K)` (:func:`choose_lambda`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GGMPath", "choose_lambda", "lambda_max", "penalised_loss", "score_matching_lasso", "sm_loss"]


def _second_moment(x: np.ndarray, centre: bool = True) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x must have shape (n, p) with n >= 2, got {x.shape}")
    if centre:
        x = x - x.mean(0)
    return x.T @ x / x.shape[0]


def sm_loss(K: np.ndarray, S: np.ndarray) -> float:
    """Hyvärinen's objective :math:`\\tfrac12\\operatorname{tr}(KSK) - \\operatorname{tr}K` of the precision K on
    data with second moments S."""
    return float(0.5 * np.einsum("ij,jk,ki->", K, S, K) - np.trace(K))


def penalised_loss(K: np.ndarray, S: np.ndarray, lam: float) -> float:
    """:func:`sm_loss` plus :math:`\\lambda\\sum_{a<b}|K_{ab}|`."""
    return sm_loss(K, S) + lam * float(np.abs(np.triu(K, 1)).sum())


def lambda_max(S: np.ndarray) -> float:
    """The smallest λ at which the estimate has no edge."""
    d = np.diag(S)
    grad = np.abs(S) * (1 / d[:, None] + 1 / d[None, :])
    np.fill_diagonal(grad, 0.0)
    return float(grad.max())


def _gradient(S: np.ndarray, K: np.ndarray) -> np.ndarray:
    """∂L/∂K in the parameters K_aa, K_ab (a < b, each pair once): SK + KS off the diagonal, (SK)_aa − 1 on it."""
    SK = S @ K
    grad = SK + SK.T
    np.fill_diagonal(grad, np.diag(SK) - 1.0)
    return grad


def _kkt(S: np.ndarray, K: np.ndarray, lam: float) -> float:
    """The largest violation of the optimality conditions at K."""
    grad = _gradient(S, K)
    off = ~np.eye(len(K), dtype=bool)
    on = off & (K != 0)
    zero = off & (K == 0)
    worst = np.abs(np.diag(grad)).max()
    if on.any():
        worst = max(worst, np.abs(grad[on] + lam * np.sign(K[on])).max())
    if zero.any():
        worst = max(worst, np.maximum(np.abs(grad[zero]) - lam, 0.0).max())
    return float(worst)


def _descend(S: np.ndarray, K: np.ndarray, lam: float, tol: float, max_steps: int) -> tuple[np.ndarray, int]:
    """Accelerated proximal gradient (FISTA with gradient restarts, O'Donoghue & Candès 2015) from K, step 1/L with
    L = 2 max eig S (the curvature bound in these parameters): a gradient step, then the soft threshold λ/L on the
    off-diagonal entries. Done when the optimality conditions hold to ``tol``."""
    step = 1.0 / (2.0 * max(float(np.linalg.eigvalsh(S)[-1]), 1e-300))
    off = ~np.eye(len(S), dtype=bool)
    K, Y, t = K.copy(), K.copy(), 1.0
    for i in range(1, max_steps + 1):
        Z = Y - step * _gradient(S, Y)
        new = np.where(off, np.sign(Z) * np.maximum(np.abs(Z) - step * lam, 0.0), Z)
        if np.sum((Y - new) * (new - K)) > 0:  # the momentum points uphill: restart it
            t, Y = 1.0, K.copy()
            continue
        t_next = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
        Y = new + (t - 1) / t_next * (new - K)
        K, t = new, t_next
        if i % 10 == 0 and _kkt(S, K, lam) <= tol:
            return K, i
    return K, max_steps


@dataclass(frozen=True)
class GGMPath:
    """The estimates along a λ path: ``lambdas`` (decreasing), ``precisions`` ``(L, p, p)``, symmetric, and the
    iterations each took (``steps``)."""

    lambdas: np.ndarray
    precisions: np.ndarray
    steps: np.ndarray

    def edges(self, i: int, tol: float = 0.0) -> np.ndarray:
        """The edges ``(a, b)``, a < b, present at the i-th λ."""
        K = self.precisions[i]
        a, b = np.triu_indices(len(K), 1)
        keep = np.abs(K[a, b]) > tol
        return np.stack([a[keep], b[keep]], 1)

    def entry_of(self) -> np.ndarray:
        """For each pair a < b, the largest λ at which its edge is in the estimate (0 if never): a score of how
        strongly the path believes in the edge, for ROC curves."""
        p = self.precisions.shape[1]
        a, b = np.triu_indices(p, 1)
        present = np.abs(self.precisions[:, a, b]) > 0  # (L, pairs)
        first = np.where(present.any(0), present.argmax(0), -1)
        return np.where(first >= 0, self.lambdas[np.maximum(first, 0)], 0.0)


def score_matching_lasso(x: np.ndarray, *, n_lambdas: int = 50, ratio: float = 0.01,
                         lambdas: np.ndarray | None = None, centre: bool = True, tol: float = 1e-10,
                         max_steps: int = 100_000) -> GGMPath:
    """The whole path of the score-matching lasso on data ``x`` ``(n, p)``: ``n_lambdas`` values from λ_max down to
    ``ratio``·λ_max on a geometric grid (or the decreasing ``lambdas`` given), each solved until its optimality
    conditions hold to ``tol``, from the previous one (warm starts). At λ = 0 (with n > p) the estimate is
    :math:`S^{-1}`."""
    S = _second_moment(x, centre)
    if lambdas is None:
        top = lambda_max(S)
        lambdas = top * np.geomspace(1.0, ratio, n_lambdas)
    lambdas = np.asarray(lambdas, dtype=np.float64)
    if (np.diff(lambdas) > 0).any() or (lambdas < 0).any():
        raise ValueError("lambdas must be >= 0 and decreasing")
    K = np.diag(1 / np.diag(S))
    out, steps = [], []
    for lam in lambdas:
        K, n = _descend(S, K, float(lam), tol, max_steps)
        out.append(K)
        steps.append(n)
    return GGMPath(lambdas, np.stack(out), np.array(steps))


def choose_lambda(x: np.ndarray, *, folds: int = 5, n_lambdas: int = 30, ratio: float = 0.01,
                  seed: int = 0) -> tuple[float, np.ndarray]:
    """λ with the least held-out score-matching loss :func:`sm_loss` over ``folds`` splits of the rows (each fold's
    path on the same grid, from λ_max of all the data), and the mean held-out loss per λ."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(0)
    grid = lambda_max(_second_moment(x, False)) * np.geomspace(1.0, ratio, n_lambdas)
    order = np.random.default_rng(seed).permutation(len(x))
    losses = np.zeros(n_lambdas)
    for part in np.array_split(order, folds):
        train = np.setdiff1d(order, part)
        path = score_matching_lasso(x[train], lambdas=grid, centre=False)
        S_test = _second_moment(x[part], centre=False)
        losses += np.array([sm_loss(K, S_test) for K in path.precisions]) / folds
    return float(grid[int(np.argmin(losses))]), losses
