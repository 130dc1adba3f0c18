"""The models the solver fits: the Gaussian graphical model (score matching) and the truncated Gaussian graphical
model on [0, ∞)^p (generalised score matching), and a Gibbs sampler of the latter."""

from __future__ import annotations

import numpy as np

from .solver import GGMPath, _path, _Rows, _second_moment

__all__ = ["gaussian_rows", "score_matching_lasso", "truncated_gaussian_sample", "truncated_lasso",
           "truncated_linear_term", "truncated_loss", "truncated_rows"]


def gaussian_rows(x: np.ndarray, centre: bool = True) -> _Rows:
    """The rows form of the Gaussian graphical model's loss on ``x``: Γ_j = S, g_j = e_j."""
    S = _second_moment(x, centre)
    return _Rows(S, np.eye(len(S)))


def _truncated_parts(x: np.ndarray, cap: float) -> tuple[np.ndarray, np.ndarray, int]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x must have shape (n, p) with n >= 2, got {x.shape}")
    if (x < 0).any():
        raise ValueError("the truncated model needs non-negative data (a model on [0, ∞)^p)")
    if not cap > 0:
        raise ValueError(f"cap must be > 0, got {cap!r}")
    if (x.max(0) == 0).any():
        raise ValueError(f"column {int(np.argmax(x.max(0) == 0)) + 1} is all zero: drop it")
    return np.minimum(x, cap), (x < cap).astype(np.float64), x.shape[0]


def truncated_rows(x: np.ndarray, cap: float = 3.0, *, centred: bool = True) -> _Rows:
    r"""The rows form of the truncated Gaussian graphical model's generalised loss on non-negative ``x``, with
    h(x) = min(x, cap) (see :func:`truncated_lasso`). With ``centred=False`` the model has a linear term,
    :math:`p \propto e^{-x^\top Kx/2 + \eta^\top x}`, profiled out row by row: row j's loss in
    :math:`(K_j, \eta_j)` has the blocks :math:`\Gamma_{KK} = \overline{h_j xx^\top}`,
    :math:`\Gamma_{K\eta} = -\overline{h_j x}`, :math:`\Gamma_{\eta\eta} = \overline{h_j}`,
    :math:`g_\eta = -\overline{h_j'}`, and minimising over :math:`\eta_j` leaves
    :math:`\Gamma_j = \Gamma_{KK} - \Gamma_{K\eta}\Gamma_{K\eta}^\top/\Gamma_{\eta\eta}` and
    :math:`g_j = g_K - \Gamma_{K\eta}\,g_\eta/\Gamma_{\eta\eta}` (:func:`truncated_linear_term` gives η back)."""
    h, dh, n = _truncated_parts(x, cap)
    x = np.asarray(x, dtype=np.float64)
    gamma, g = np.einsum("tj,ta,tb->jab", h, x, x) / n, np.diag(h.mean(0)) + dh.T @ x / n
    if centred:
        return _Rows(gamma, g)
    hx, hm, g_eta = h.T @ x / n, h.mean(0), -dh.mean(0)  # -Γ_Kη per row, Γ_ηη, g_η
    profiled = gamma - np.einsum("ja,jb->jab", hx, hx) / hm[:, None, None]
    own, before = np.einsum("jjj->j", profiled), np.einsum("jjj->j", gamma)
    if (own <= 1e-8 * before).any():  # x_j takes one positive value where h_j > 0: K_jj and η_j are confounded
        j = int(np.argmax(own <= 1e-8 * before))
        raise ValueError(f"column {j + 1} takes a single positive value (e.g. a 0/1 indicator): the non-centred "
                         "model cannot tell its precision from its linear term; drop it or use the centred model")
    return _Rows(profiled, g + hx * (g_eta / hm)[:, None])


def truncated_loss(x: np.ndarray, K: np.ndarray, eta: np.ndarray | None = None, cap: float = 3.0) -> float:
    r"""The generalised score-matching loss of the truncated model at (K, η) on ``x``, the mean over points of
    :math:`\sum_j \tfrac12 h_j r_j^2 - h_j K_{jj} - h_j' r_j` with :math:`r = Kx - \eta` (η = 0 when None)."""
    h, dh, _ = _truncated_parts(x, cap)
    r = np.asarray(x, dtype=np.float64) @ K - (0.0 if eta is None else eta)
    return float(np.mean(np.sum(0.5 * h * r**2 - h * np.diag(K) - dh * r, axis=1)))


def truncated_linear_term(x: np.ndarray, K: np.ndarray, cap: float = 3.0) -> np.ndarray:
    r"""The linear term η of the non-centred truncated model at the precision K:
    :math:`\eta_j = (g_\eta - \Gamma_{K\eta}^\top K_j)/\Gamma_{\eta\eta}`, the minimiser of row j's loss (see
    :func:`truncated_rows`); the model's location is then :math:`\mu = K^{-1}\eta`."""
    h, dh, n = _truncated_parts(x, cap)
    hx = h.T @ np.asarray(x, dtype=np.float64) / n
    return (-dh.mean(0) + np.einsum("ja,ja->j", hx, K)) / h.mean(0)


def score_matching_lasso(x: np.ndarray, *, n_lambdas: int = 50, ratio: float = 0.01,
                         lambdas: np.ndarray | None = None, centre: bool = True, tol: float = 1e-10,
                         max_steps: int = 100_000) -> GGMPath:
    """The whole path of the score-matching lasso on data ``x`` ``(n, p)``: ``n_lambdas`` values from λ_max down to
    ``ratio``·λ_max on a geometric grid (or the decreasing ``lambdas`` given), each solved until its optimality
    conditions hold to ``tol``, from the previous one (warm starts). At λ = 0 (with n > p) the estimate is
    :math:`S^{-1}`."""
    S = _second_moment(x, centre)
    return _path(_Rows(S, np.eye(len(S))), n_lambdas, ratio, lambdas, tol, max_steps)


def truncated_lasso(x: np.ndarray, *, cap: float = 3.0, centred: bool = True, n_lambdas: int = 50,
                    ratio: float = 0.01, lambdas: np.ndarray | None = None, tol: float = 1e-10,
                    max_steps: int = 100_000) -> GGMPath:
    r"""The path of generalised score matching (Hyvärinen 2007; Yu, Drton & Shojaie 2019) for the truncated Gaussian
    graphical model :math:`p(x) \propto e^{-x^\top Kx/2}` on :math:`[0, \infty)^p`, with the weights
    :math:`h_j(x) = \min(x_j, \text{cap})`. Its loss, per point,
    :math:`\sum_j \tfrac12 h_j (Kx)_j^2 - h_j K_{jj} - h_j'(Kx)_j`, has no boundary term at 0 since
    :math:`h_j(0) = 0`; in rows, :math:`\Gamma_j = \overline{h_j(x_j)\,xx^\top}` and
    :math:`g_j = \overline{h_j(x_j)e_j + h_j'(x_j)\,x}`. The data must be non-negative; they are not centred.
    With ``centred=False`` the model is :math:`p \propto e^{-x^\top Kx/2 + \eta^\top x}` (a truncated Gaussian
    whose location need not be 0), its η profiled out (:func:`truncated_rows`)."""
    return _path(truncated_rows(x, cap, centred=centred), n_lambdas, ratio, lambdas, tol, max_steps)


def truncated_gaussian_sample(K: np.ndarray, n: int, *, mean: np.ndarray | None = None, sweeps: int = 200,
                              seed: int = 0) -> np.ndarray:
    r"""``n`` draws of :math:`p(x) \propto e^{-(x - \mu)^\top K(x - \mu)/2}` on :math:`[0, \infty)^p` (K positive
    definite, μ = ``mean``, 0 by default) by Gibbs sampling, ``n`` independent chains for ``sweeps`` sweeps from
    μ⁺ + |N(0, I)|: each coordinate's conditional is
    :math:`N(\mu_j - \sum_{k\ne j}K_{jk}(x_k - \mu_k)/K_{jj},\ 1/K_{jj})` truncated to [0, ∞) (scipy's
    ``truncnorm``)."""
    from scipy.stats import truncnorm

    K = np.asarray(K, dtype=np.float64)
    rng = np.random.default_rng(seed)
    p = len(K)
    mu = np.zeros(p) if mean is None else np.asarray(mean, dtype=np.float64)
    if K.shape != (p, p) or mu.shape != (p,):
        raise ValueError(f"K must be (p, p) and mean (p,), got {K.shape} and {mu.shape}")
    x = np.maximum(mu, 0.0) + np.abs(rng.normal(size=(n, p)))
    sd = 1 / np.sqrt(np.diag(K))
    for _ in range(sweeps):
        for j in range(p):
            m = mu[j] - ((x - mu) @ K[j] - K[j, j] * (x[:, j] - mu[j])) / K[j, j]
            x[:, j] = truncnorm.rvs(-m / sd[j], np.inf, loc=m, scale=sd[j], random_state=rng)
    return x
