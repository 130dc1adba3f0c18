r"""Choosing λ on the path: by the held-out score-matching loss over folds of the rows, or by the extended BIC with
the score-matching loss in place of the negative log-likelihood (as Lin, Drton & Shojaie 2016 and Yu, Drton &
Shojaie 2019 do),

.. math::

    \operatorname{eBIC}_\gamma(\lambda) = 2n\,L(\tilde K_\lambda) + |E_\lambda|\,(\log n + 4\gamma\log p),

with :math:`E_\lambda` the edges of the estimate at λ and :math:`\tilde K_\lambda` the unpenalised minimiser of the
loss L on those edges (the refit; without it, the penalised estimate itself). γ = 0 is BIC; γ = 0.5 or 1 favour
sparser graphs when p is large against n (Foygel & Drton 2010)."""

from __future__ import annotations

import numpy as np

from .models import gaussian_rows, truncated_linear_term, truncated_loss, truncated_rows
from .solver import GGMPath, _lambda_max, _path, _restricted, _Rows, rows_loss

__all__ = ["CRITERIA", "KINDS", "choose_lambda", "ebic"]

#: the ways :func:`choose_lambda` chooses
CRITERIA = ("cv", "ebic")


#: the models :func:`choose_lambda` chooses for
KINDS = ("gaussian", "truncated", "truncated-noncentred")


def _builder(kind: str, cap: float):
    if kind == "gaussian":
        return lambda rows: gaussian_rows(rows, centre=False)
    if kind in ("truncated", "truncated-noncentred"):
        return lambda rows: truncated_rows(rows, cap, centred=kind == "truncated")
    raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")


def refit(q: _Rows, K: np.ndarray) -> np.ndarray | None:
    """The unpenalised minimiser of the loss over the K with K's off-diagonal support (None if it is not unique:
    more unknowns than the data determine)."""
    a, b = np.triu_indices(len(K), 1)
    on = K[a, b] != 0
    return _restricted(q, a[on], b[on], np.zeros(int(on.sum())), 0.0, unique=True)


def ebic(q: _Rows, path: GGMPath, n: int, *, gamma: float = 0.5, refit_edges: bool = True) -> np.ndarray:
    """:math:`\\operatorname{eBIC}_\\gamma` of each estimate on ``path``, whose loss on the ``n`` rows it was fitted
    to is ``q``; ``inf`` where the refit is not unique."""
    if not 0 <= gamma < np.inf:
        raise ValueError(f"gamma must be finite and >= 0, got {gamma!r}")
    p = path.precisions.shape[1]
    out = np.empty(len(path.lambdas))
    for i, K in enumerate(path.precisions):
        fit = refit(q, K) if refit_edges else K
        edges = np.count_nonzero(np.triu(K, 1))
        out[i] = np.inf if fit is None else 2 * n * rows_loss(q, fit) + edges * (np.log(n) + 4 * gamma * np.log(p))
    return out


def choose_lambda(x: np.ndarray, *, kind: str = "gaussian", criterion: str = "cv", cap: float = 3.0, folds: int = 5,
                  gamma: float = 0.5, n_lambdas: int = 30, ratio: float = 0.01,
                  seed: int = 0) -> tuple[float, np.ndarray]:
    """λ on a geometric grid of ``n_lambdas`` values from λ_max of ``x`` down to ``ratio``·λ_max, for the
    ``"gaussian"`` model (data centred), the ``"truncated"`` one (non-negative data, h = min(x, ``cap``)) or the
    ``"truncated-noncentred"`` one (its linear term profiled out; a held-out fold is scored at the η of the
    training folds), by
    ``criterion``: ``"cv"``, the least held-out (generalised) score-matching loss over ``folds`` splits of the rows
    (``seed`` shuffles them), each fold's path on the one grid; or ``"ebic"``, the least :func:`ebic` with
    ``gamma`` on the path of all the rows, whose columns must have standard deviation 1 (the loss has units: on
    raw data the choice would depend on them). Returns λ and the criterion per λ."""
    x = np.asarray(x, dtype=np.float64)
    build = _builder(kind, cap)
    if kind == "gaussian":
        x = x - x.mean(0)
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    q = build(x)
    grid = _lambda_max(q) * np.geomspace(1.0, ratio, n_lambdas)
    if criterion == "ebic":
        sd = x.std(0)
        if (np.abs(sd - 1) > 0.05).any():
            j = int(np.argmax(np.abs(sd - 1)))
            raise ValueError(f"eBIC needs columns scaled to standard deviation 1 (the score-matching loss has units, "
                             f"the edge count has none); column {j + 1} has {sd[j]:.3g}: divide by x.std(0)")
        scores = ebic(q, _path(q, n_lambdas, ratio, grid, 1e-8, 100_000), len(x), gamma=gamma)
        return float(grid[int(np.argmin(scores))]), scores
    if len(x) < 2 * folds:
        raise ValueError(f"{folds}-fold cross-validation needs at least {2 * folds} rows, got {len(x)}")
    order = np.random.default_rng(seed).permutation(len(x))
    losses = np.zeros(n_lambdas)
    for part in np.array_split(order, folds):
        train = np.setdiff1d(order, part)
        try:
            rows = build(x[train])
        except ValueError as e:  # the data passed; a split of them can leave a column with one positive value
            raise ValueError(f"in a {folds}-fold cross-validation split: {e} (or use criterion 'ebic')") from None
        path = _path(rows, n_lambdas, ratio, grid, 1e-8, 100_000)
        if kind == "truncated-noncentred":  # the held-out loss at the training fold's η(K), not the test fold's
            losses += np.array([truncated_loss(x[part], K, truncated_linear_term(x[train], K, cap), cap)
                                for K in path.precisions]) / folds
        else:
            losses += np.array([rows_loss(build(x[part]), K) for K in path.precisions]) / folds
    return float(grid[int(np.argmin(losses))]), losses
