"""The solver of the score-matching lasso and its kin: a loss that is a sum over the rows K_j of a symmetric
matrix K of quadratics, with an L1 penalty on the off-diagonal entries (each pair once), solved along a path of
λ by accelerated proximal gradient finished by an active-set method; its optimality conditions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

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


def _kkt(q: _Rows, K: np.ndarray, lam: float) -> float:
    """The largest violation of the optimality conditions at K."""
    grad = _gradient(q, K)
    off = ~np.eye(len(K), dtype=bool)
    on = off & (K != 0)
    zero = off & (K == 0)
    worst = np.abs(np.diag(grad)).max()
    if on.any():
        worst = max(worst, np.abs(grad[on] + lam * np.sign(K[on])).max())
    if zero.any():
        worst = max(worst, np.maximum(np.abs(grad[zero]) - lam, 0.0).max())
    return float(worst)


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


def _polish(q: _Rows, K: np.ndarray, lam: float, tol: float, rounds: int = 50) -> np.ndarray | None:
    """An active-set method from K: the exact minimiser on K's support with K's signs (:func:`_restricted`); if an
    entry would change sign, a step towards it as far as the first entry reaching zero, which leaves the support;
    else the pairs that break the optimality conditions join it. Returns the solution once the conditions
    hold to ``tol`` (or their round-off, :func:`_scale`), or None after ``rounds`` changes of the support."""
    p = len(K)
    a, b = np.triu_indices(p, 1)
    for _ in range(rounds):
        on = K[a, b] != 0
        sign = np.sign(K[a, b])[on]
        target = _restricted(q, a[on], b[on], sign, lam)
        if target is None:
            return None
        now, goal = K[a, b][on], target[a, b][on]
        cross = np.sign(goal) != sign
        if cross.any():  # walk until the first entry reaches zero; it leaves the support
            t = np.min(now[cross] / (now[cross] - goal[cross]))
            K = K + t * (target - K)
            first = np.flatnonzero(on)[cross][np.argmin(now[cross] / (now[cross] - goal[cross]))]
            K[a[first], b[first]] = K[b[first], a[first]] = 0.0
            continue
        K = target
        g = _gradient(q, K)[a, b]
        join = (K[a, b] == 0) & (np.abs(g) > lam + max(tol, 1e-14 * _scale(q, K)))
        if not join.any():
            return K if _kkt(q, K, lam) <= max(tol, 1e-14 * _scale(q, K)) else None
        # they join with entries too small to matter, of the sign against their gradient (the loss falls that way)
        K[a[join], b[join]] = K[b[join], a[join]] = -np.sign(g[join]) * 1e-300
    return None


def _scale(q: _Rows, K: np.ndarray) -> float:
    r"""The size of the terms in the optimality conditions, :math:`1 + \max_j\|\Gamma_j\|_\infty \max|K|`: their
    round-off in float64 is about 1e-16 times it, so no tolerance below 1e-14 times it is asked for (on collinear
    columns K is large and an absolute 1e-10 can be out of reach)."""
    return 1.0 + float(np.abs(q.gamma).sum(-1).max() * np.abs(K).max())


def _descend(q: _Rows, K: np.ndarray, lam: float, tol: float, max_steps: int) -> tuple[np.ndarray, int]:
    """Accelerated proximal gradient (FISTA with gradient restarts, O'Donoghue & Candès 2015) from K, step 1/L with
    L = 2 max_j eig Γ_j (the curvature bound in these parameters): a gradient step, then the soft threshold λ/L on
    the off-diagonal entries. Done when the optimality conditions hold to ``tol`` (or their round-off,
    :func:`_scale`). On ill-conditioned data (e.g. collinear columns) its steps grow with the condition number,
    mostly spent on the last digits after the support is found: so once the support and signs stayed the same for
    50 steps, and the steps taken cost about as much as solving on that support, the active-set method
    :func:`_polish` is tried from there, once per support. Returns K and the proximal steps taken."""
    top = np.linalg.eigvalsh(q.gamma)[..., -1].max()
    step = 1.0 / (2.0 * max(float(top), 1e-300))
    off = ~np.eye(len(K), dtype=bool)
    K, Y, t = K.copy(), K.copy(), 1.0
    p = len(K)
    pattern, since, tried = np.sign(K), 0, False
    for i in range(1, max_steps + 1):
        Z = Y - step * _gradient(q, Y)
        new = np.where(off, np.sign(Z) * np.maximum(np.abs(Z) - step * lam, 0.0), Z)
        if np.sum((Y - new) * (new - K)) > 0:  # the momentum points uphill: restart it
            t, Y = 1.0, K.copy()
            continue
        t_next = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
        Y = new + (t - 1) / t_next * (new - K)
        K, t = new, t_next
        if i % 10:
            continue
        if _kkt(q, K, lam) <= max(tol, 1e-14 * _scale(q, K)):
            return K, i
        if not np.array_equal(np.sign(K), pattern):
            pattern, since, tried = np.sign(K), i, False
            continue
        # worth a try once the steps taken cost about one solve: (m/p)^3/3 steps of O(p^3), m the unknowns
        m = p + np.count_nonzero(K[off]) / 2
        if not tried and i - since >= 50 and i >= (m / p) ** 3 / 3:
            tried = True
            exact = _polish(q, K, lam, tol)
            if exact is not None:
                return exact, i
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


def _path(q: _Rows, n_lambdas: int, ratio: float, lambdas: np.ndarray | None, tol: float, max_steps: int) -> GGMPath:
    if lambdas is None:
        lambdas = _lambda_max(q) * np.geomspace(1.0, ratio, n_lambdas)
    lambdas = np.asarray(lambdas, dtype=np.float64)
    if (np.diff(lambdas) > 0).any() or (lambdas < 0).any():
        raise ValueError("lambdas must be >= 0 and decreasing")
    K = _diagonal(q)
    out, steps = [], []
    for lam in lambdas:
        K, n = _descend(q, K, float(lam), tol, max_steps)
        out.append(K)
        steps.append(n)
    return GGMPath(lambdas, np.stack(out), np.array(steps))


def rows_loss(q: _Rows, K: np.ndarray) -> float:
    r""":math:`\sum_j \tfrac12 K_j^\top\Gamma_j K_j - g_j^\top K_j`, the (generalised) score-matching loss."""
    GK = K @ q.gamma if q.gamma.ndim == 2 else np.einsum("jab,jb->ja", q.gamma, K)
    return float(0.5 * np.sum(GK * K) - np.sum(q.g * K))
