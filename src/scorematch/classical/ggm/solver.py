"""The score-matching lasso and its kin as problems of the one L1 solver (:mod:`scorematch.classical.l1`): a loss
that is a sum over the rows K_j of a symmetric matrix K of quadratics, with an L1 penalty on the off-diagonal
entries (each pair once), its gradient and its exact solve on a support given row by row; solved along a path of
λ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..l1 import solve

__all__ = ["GGMPath", "lambda_max", "penalised_loss", "rows_loss", "sm_loss"]


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


class _Rows(NamedTuple):
    r"""A loss :math:`\sum_j \tfrac12 K_j^\top\Gamma_j K_j - g_j^\top K_j` over the rows :math:`K_j` of a symmetric K:
    ``gamma`` one ``(p, p)`` shared by every row or ``(p, p, p)``, ``g`` ``(p, p)`` (row j is :math:`g_j`)."""

    gamma: np.ndarray
    g: np.ndarray


def _row_terms(q: _Rows, K: np.ndarray) -> np.ndarray:
    r""":math:`\Gamma_j K_j - g_j`, row by row."""
    if q.gamma.ndim == 2:
        return K @ q.gamma - q.g
    return np.einsum("jab,jb->ja", q.gamma, K) - q.g


def _gradient(q: _Rows, K: np.ndarray) -> np.ndarray:
    """∂L/∂K in the parameters K_aa, K_ab (a < b, each pair once): G + Gᵀ off the diagonal, G_aa on it, with G the
    row terms (K_ab appears in rows a and b)."""
    G = _row_terms(q, K)
    grad = G + G.T
    np.fill_diagonal(grad, np.diag(G))
    return grad


def _diagonal(q: _Rows) -> np.ndarray:
    r"""The minimiser among diagonal K: :math:`K_{jj} = g_{jj}/\Gamma_{j,jj}`."""
    curv = np.diag(q.gamma) if q.gamma.ndim == 2 else np.einsum("jjj->j", q.gamma)
    return np.diag(np.diag(q.g) / curv)


def _lambda_max(q: _Rows) -> float:
    grad = np.abs(_gradient(q, _diagonal(q)))
    np.fill_diagonal(grad, 0.0)
    return float(grad.max())


def lambda_max(S: np.ndarray) -> float:
    r"""The smallest λ at which the estimate has no edge: :math:`\max_{a<b}|S_{ab}|(1/S_{aa} + 1/S_{bb})`."""
    return _lambda_max(_Rows(S, np.eye(len(S))))


def _restricted(q: _Rows, a: np.ndarray, b: np.ndarray, sign: np.ndarray, lam: float,
                unique: bool = False) -> np.ndarray | None:
    r"""The minimiser of the loss plus :math:`\lambda\sum s_{ab}K_{ab}` over the K whose off-diagonal support is
    the pairs (a, b) (the diagonal free): a quadratic, so :math:`H\theta = r`, H's entry (u, v) the sum of
    :math:`\Gamma_j[c_u, c_v]` over the rows j that hold both parameters (K_jj in row j; K_ab in rows a and b).
    With ``unique``, None unless H is positive definite (its smallest eigenvalue above 1e-10 of its largest)."""
    p = len(q.g)
    diag = np.arange(p)
    m = p + len(a)
    rows, cols = np.concatenate([diag, a, b]), np.concatenate([diag, b, a])
    param = np.concatenate([diag, p + np.arange(len(a)), p + np.arange(len(a))])
    H = np.zeros((m, m))
    order = np.argsort(rows, kind="stable")
    ends = np.searchsorted(rows[order], np.arange(p + 1))
    for j in range(p):
        here = order[ends[j]:ends[j + 1]]
        u, c = param[here], cols[here]
        H[u[:, None], u] += (q.gamma if q.gamma.ndim == 2 else q.gamma[j])[c[:, None], c]
    rhs = np.bincount(param, weights=q.g[rows, cols], minlength=m)
    rhs[p:] -= lam * sign
    if unique:
        eig = np.linalg.eigvalsh(H)
        if not eig[0] > 1e-10 * eig[-1]:
            return None
    try:
        theta = np.linalg.solve(H, rhs)
    except np.linalg.LinAlgError:
        return None
    if not np.isfinite(theta).all():
        return None
    K = np.zeros((p, p))
    K[diag, diag] = theta[:p]
    K[a, b] = K[b, a] = theta[p:]
    return K


class _Lasso:
    """A rows problem for the one L1 solver (:mod:`~scorematch.classical.l1`): θ is the symmetric K itself, its
    off-diagonal entries penalised (each pair is counted once by the loss; the two entries move together)."""

    def __init__(self, q: _Rows):
        self.q = q
        p = len(q.g)
        self.weights = 1.0 - np.eye(p)
        self.a, self.b = np.triu_indices(p, 1)

    def gradient(self, K: np.ndarray) -> np.ndarray:
        return _gradient(self.q, K)

    def curvature(self) -> float:
        """2 max_j eig Γ_j: the curvature bound in these parameters (K_ab appears in rows a and b)."""
        return 2.0 * float(np.linalg.eigvalsh(self.q.gamma)[..., -1].max())

    def restricted(self, support: np.ndarray, sign: np.ndarray, lam: float) -> np.ndarray | None:
        on = support[self.a, self.b]
        return _restricted(self.q, self.a[on], self.b[on], sign[self.a, self.b][on], lam)

    def scale(self, K: np.ndarray) -> float:
        r""":math:`1 + \max_j\|\Gamma_j\|_\infty \max|K|` (on collinear columns K is large and an absolute 1e-10 can
        be out of reach)."""
        return 1.0 + float(np.abs(self.q.gamma).sum(-1).max() * np.abs(K).max())

    def solve_cost(self, K: np.ndarray) -> float:
        """(m/p)³/3 steps of O(p³) cost one solve on m unknowns."""
        p = len(K)
        return ((p + np.count_nonzero(K[self.a, self.b])) / p) ** 3 / 3


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


def _path(q: _Rows, n_lambdas: int, ratio: float, lambdas: np.ndarray | None, tol: float, max_steps: int) -> GGMPath:
    if lambdas is None:
        lambdas = _lambda_max(q) * np.geomspace(1.0, ratio, n_lambdas)
    lambdas = np.asarray(lambdas, dtype=np.float64)
    if (np.diff(lambdas) > 0).any() or (lambdas < 0).any():
        raise ValueError("lambdas must be >= 0 and decreasing")
    problem, K = _Lasso(q), _diagonal(q)
    out, steps = [], []
    for lam in lambdas:
        K, n = solve(problem, float(lam), K, tol=tol, max_steps=max_steps)
        out.append(K)
        steps.append(n)
    return GGMPath(lambdas, np.stack(out), np.array(steps))


def rows_loss(q: _Rows, K: np.ndarray) -> float:
    r""":math:`\sum_j \tfrac12 K_j^\top\Gamma_j K_j - g_j^\top K_j`, the (generalised) score-matching loss."""
    GK = K @ q.gamma if q.gamma.ndim == 2 else np.einsum("jab,jb->ja", q.gamma, K)
    return float(0.5 * np.sum(GK * K) - np.sum(q.g * K))
