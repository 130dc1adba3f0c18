r"""The one solver of score matching with an L1 penalty. Score matching of a model whose score is linear in its
parameters is a convex quadratic, so with a weighted L1 penalty the problem is

.. math::

    \min_\theta\ L(\theta) + \lambda \sum_a w_a |\theta_a|, \qquad
    L(\theta) = \tfrac12\theta^\top H\theta - r^\top\theta,

with :math:`w_a \ge 0` (0: left unpenalised), θ an array of any shape (a vector, or a symmetric matrix whose entries
the problem keeps in step). A :class:`Problem` gives :math:`\nabla L`, a bound on the largest
eigenvalue of :math:`H` and the exact minimiser on a given support with given signs; :func:`solve` runs accelerated
proximal gradient (FISTA with gradient restarts, O'Donoghue & Candès 2015) and, once the support has settled, an
active-set method that finishes with the exact minimiser there. The optimality (KKT) conditions of the solution:
:math:`\nabla_a L = -\lambda w_a \operatorname{sign}\theta_a` where :math:`\theta_a \ne 0` and
:math:`|\nabla_a L| \le \lambda w_a` where :math:`\theta_a = 0` (:func:`kkt`).

:class:`Dense` is the problem with :math:`H` and :math:`r` given as arrays (exponential families,
:func:`scorematch.classical.expfam.solve_l1`); the graphical models give theirs row by row
(:mod:`scorematch.classical.ggm.solver`).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["Dense", "Problem", "kkt", "solve"]


class Problem(Protocol):
    """A quadratic with an L1 penalty, on a parameter array θ."""

    weights: np.ndarray
    """:math:`w_a \\ge 0` per entry of θ (0: unpenalised)."""

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        """:math:`\\nabla L(\\theta) = H\\theta - r`."""
        ...

    def curvature(self) -> float:
        """An upper bound on the largest eigenvalue of :math:`H` (the step of the proximal gradient is its inverse)."""
        ...

    def restricted(self, support: np.ndarray, sign: np.ndarray, lam: float) -> np.ndarray | None:
        """The minimiser of :math:`L(\\theta) + \\lambda\\sum_{a} w_a s_a \\theta_a` over the θ that are zero on the
        penalised entries outside ``support`` (a boolean mask of θ's shape; the unpenalised entries are free), with
        the signs :math:`s_a` in ``sign`` (θ's shape); ``None`` where it has no unique solution."""
        ...

    def scale(self, theta: np.ndarray) -> float:
        """The size of the terms in the optimality conditions at θ: their float64 round-off is about 1e-16 times it."""
        ...

    def solve_cost(self, theta: np.ndarray) -> float:
        """The cost of one exact solve on θ's support, in gradient evaluations."""
        ...


def kkt(problem: Problem, theta: np.ndarray, lam: float) -> float:
    """The largest violation of the optimality conditions at ``theta``."""
    grad, w = problem.gradient(theta), problem.weights
    free, on, zero = w == 0, (w > 0) & (theta != 0), (w > 0) & (theta == 0)
    worst = float(np.abs(grad[free]).max()) if free.any() else 0.0
    if on.any():
        worst = max(worst, float(np.abs(grad[on] + lam * w[on] * np.sign(theta[on])).max()))
    if zero.any():
        worst = max(worst, float(np.maximum(np.abs(grad[zero]) - lam * w[zero], 0.0).max()))
    return worst


def _tolerance(problem: Problem, theta: np.ndarray, tol: float) -> float:
    return max(tol, 1e-14 * problem.scale(theta))


def _polish(problem: Problem, theta: np.ndarray, lam: float, tol: float, rounds: int = 50) -> np.ndarray | None:
    """An active-set method from θ: the exact minimiser on θ's support with θ's signs; if an entry would change sign,
    a step towards it as far as the first entry reaching zero, which leaves the support; else the parameters that
    break the optimality conditions join it. Returns the solution once the conditions hold to ``tol`` (or their
    round-off), or ``None`` after ``rounds`` changes of the support."""
    pen = problem.weights > 0
    for _ in range(rounds):
        on = pen & (theta != 0)
        sign = np.sign(theta) * on
        target = problem.restricted(on, sign, lam)
        if target is None:
            return None
        now, goal = theta[on], target[on]
        cross = np.sign(goal) != sign[on]
        if cross.any():  # walk until the first entries reach zero; they leave the support
            ratio = now[cross] / (now[cross] - goal[cross])
            theta = theta + ratio.min() * (target - theta)
            theta[tuple(i[cross][ratio == ratio.min()] for i in np.nonzero(on))] = 0.0
            continue
        theta = target
        g = problem.gradient(theta)
        limit = _tolerance(problem, theta, tol)
        join = pen & (theta == 0) & (np.abs(g) > lam * problem.weights + limit)
        if not join.any():
            return theta if kkt(problem, theta, lam) <= limit else None
        # they join with entries too small to matter, of the sign against their gradient (the loss falls that way)
        theta[join] = -np.sign(g[join]) * 1e-300
    return None


def solve(problem: Problem, lam: float, start: np.ndarray, *, tol: float = 1e-10,
          max_steps: int = 100_000) -> tuple[np.ndarray, int]:
    """The minimiser from ``start`` (a warm start: the solution at a nearby λ), and the proximal steps taken.

    FISTA with gradient restarts, step :math:`1/\\text{curvature}`: a gradient step, then the soft threshold
    :math:`\\lambda w_a/\\text{curvature}`. Done when the optimality conditions hold to ``tol`` (or their round-off,
    ``1e-14·scale``). On ill-conditioned problems (collinear columns) its steps grow with the condition number,
    mostly spent on the last digits once the support is found: so when the support and signs stayed the same for
    50 steps and the steps taken cost about as much as solving on that support, the active-set method is tried from
    there, once per support."""
    if not lam >= 0:
        raise ValueError(f"lam must be >= 0, got {lam!r}")
    step = 1.0 / max(float(problem.curvature()), 1e-300)
    threshold = step * lam * problem.weights
    theta, y, t = start.astype(np.float64, copy=True), start.astype(np.float64, copy=True), 1.0
    pattern, since, tried = np.sign(theta), 0, False
    for i in range(1, max_steps + 1):
        z = y - step * problem.gradient(y)
        new = np.sign(z) * np.maximum(np.abs(z) - threshold, 0.0)
        if np.sum((y - new) * (new - theta)) > 0:  # the momentum points uphill: restart it
            t, y = 1.0, theta.copy()
            continue
        t_next = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
        y = new + (t - 1) / t_next * (new - theta)
        theta, t = new, t_next
        if i % 10:
            continue
        if kkt(problem, theta, lam) <= _tolerance(problem, theta, tol):
            return theta, i
        if not np.array_equal(np.sign(theta), pattern):
            pattern, since, tried = np.sign(theta), i, False
            continue
        if not tried and i - since >= 50 and i >= problem.solve_cost(theta):
            tried = True
            exact = _polish(problem, theta, lam, tol)
            if exact is not None:
                return exact, i
    return theta, max_steps


class Dense:
    """The problem with :math:`H` (``(k, k)``, symmetric positive semi-definite) and :math:`r` (``(k,)``) as arrays,
    and the penalty's ``weights`` (default all 1)."""

    def __init__(self, hessian: np.ndarray, r: np.ndarray, weights: np.ndarray | None = None):
        self.hessian, self.r = np.asarray(hessian, np.float64), np.asarray(r, np.float64)
        k = len(self.r)
        self.weights = np.ones(k) if weights is None else np.asarray(weights, np.float64)
        if self.hessian.shape != (k, k) or self.weights.shape != (k,):
            raise ValueError(f"H must be ({k}, {k}) and the weights ({k},); got {self.hessian.shape} and "
                             f"{self.weights.shape}")
        if (self.weights < 0).any():
            raise ValueError("the penalty's weights must be >= 0")

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        return self.hessian @ theta - self.r

    def curvature(self) -> float:
        return float(np.linalg.eigvalsh(self.hessian)[-1])

    def restricted(self, support: np.ndarray, sign: np.ndarray, lam: float) -> np.ndarray | None:
        keep = support | (self.weights == 0)
        rhs = self.r[keep] - lam * (self.weights * sign)[keep]
        try:
            part = np.linalg.solve(self.hessian[np.ix_(keep, keep)], rhs)
        except np.linalg.LinAlgError:
            return None
        if not np.isfinite(part).all():
            return None
        theta = np.zeros(len(self.r))
        theta[keep] = part
        return theta

    def scale(self, theta: np.ndarray) -> float:
        return 1.0 + float(np.abs(self.hessian).sum(-1).max() * np.abs(theta).max(initial=0.0))

    def solve_cost(self, theta: np.ndarray) -> float:
        m = np.count_nonzero(theta) + np.count_nonzero(self.weights == 0)
        return m**3 / (3 * max(len(self.r), 1) ** 2)
