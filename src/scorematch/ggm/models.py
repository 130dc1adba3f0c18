"""The models the solver fits: the Gaussian graphical model (score matching) and the truncated Gaussian graphical
model on [0, ∞)^p (generalised score matching), and a Gibbs sampler of the latter."""

from __future__ import annotations

import numpy as np

from .solver import GGMPath, _path, _Rows, _second_moment

__all__ = ["gaussian_rows", "score_matching_lasso", "truncated_gaussian_sample", "truncated_lasso", "truncated_rows"]


def gaussian_rows(x: np.ndarray, centre: bool = True) -> _Rows:
    """The rows form of the Gaussian graphical model's loss on ``x``: Γ_j = S, g_j = e_j."""
    S = _second_moment(x, centre)
    return _Rows(S, np.eye(len(S)))


def truncated_rows(x: np.ndarray, cap: float = 3.0) -> _Rows:
    """The rows form of the truncated Gaussian graphical model's generalised loss on non-negative ``x``, with
    h(x) = min(x, cap) (see :func:`truncated_lasso`)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x must have shape (n, p) with n >= 2, got {x.shape}")
    if (x < 0).any():
        raise ValueError("the truncated model needs non-negative data (a model on [0, ∞)^p)")
    if not cap > 0:
        raise ValueError(f"cap must be > 0, got {cap!r}")
    n = x.shape[0]
    h, dh = np.minimum(x, cap), (x < cap).astype(np.float64)
    return _Rows(np.einsum("tj,ta,tb->jab", h, x, x) / n, np.diag(h.mean(0)) + dh.T @ x / n)


def score_matching_lasso(x: np.ndarray, *, n_lambdas: int = 50, ratio: float = 0.01,
                         lambdas: np.ndarray | None = None, centre: bool = True, tol: float = 1e-10,
                         max_steps: int = 100_000) -> GGMPath:
    """The whole path of the score-matching lasso on data ``x`` ``(n, p)``: ``n_lambdas`` values from λ_max down to
    ``ratio``·λ_max on a geometric grid (or the decreasing ``lambdas`` given), each solved until its optimality
    conditions hold to ``tol``, from the previous one (warm starts). At λ = 0 (with n > p) the estimate is
    :math:`S^{-1}`."""
    S = _second_moment(x, centre)
    return _path(_Rows(S, np.eye(len(S))), n_lambdas, ratio, lambdas, tol, max_steps)


def truncated_lasso(x: np.ndarray, *, cap: float = 3.0, n_lambdas: int = 50, ratio: float = 0.01,
                    lambdas: np.ndarray | None = None, tol: float = 1e-10, max_steps: int = 100_000) -> GGMPath:
    r"""The path of generalised score matching (Hyvärinen 2007; Yu, Drton & Shojaie 2019) for the truncated Gaussian
    graphical model :math:`p(x) \propto e^{-x^\top Kx/2}` on :math:`[0, \infty)^p`, with the weights
    :math:`h_j(x) = \min(x_j, \text{cap})`. Its loss, per point,
    :math:`\sum_j \tfrac12 h_j (Kx)_j^2 - h_j K_{jj} - h_j'(Kx)_j`, has no boundary term at 0 since
    :math:`h_j(0) = 0`; in rows, :math:`\Gamma_j = \overline{h_j(x_j)\,xx^\top}` and
    :math:`g_j = \overline{h_j(x_j)e_j + h_j'(x_j)\,x}`. The data must be non-negative; they are not centred."""
    return _path(truncated_rows(x, cap), n_lambdas, ratio, lambdas, tol, max_steps)


def truncated_gaussian_sample(K: np.ndarray, n: int, *, sweeps: int = 200, seed: int = 0) -> np.ndarray:
    """``n`` draws of :math:`p(x) \\propto e^{-x^\\top Kx/2}` on :math:`[0, \\infty)^p` (K positive definite) by Gibbs
    sampling, ``n`` independent chains for ``sweeps`` sweeps from |N(0, I)|: each coordinate's conditional is
    :math:`N(-\\sum_{k\\ne j}K_{jk}x_k/K_{jj},\\ 1/K_{jj})` truncated to [0, ∞) (scipy's ``truncnorm``)."""
    from scipy.stats import truncnorm

    K = np.asarray(K, dtype=np.float64)
    rng = np.random.default_rng(seed)
    p = len(K)
    x = np.abs(rng.normal(size=(n, p)))
    sd = 1 / np.sqrt(np.diag(K))
    for _ in range(sweeps):
        for j in range(p):
            m = -(x @ K[j] - K[j, j] * x[:, j]) / K[j, j]
            x[:, j] = truncnorm.rvs(-m / sd[j], np.inf, loc=m, scale=sd[j], random_state=rng)
    return x
