"""The score-matching lasso for Gaussian graphical models: the ends of its path, its optimality conditions along the
path, and agreement with the general exponential-family solver."""

import numpy as np
import pytest
import torch

from scorematch.classical.expfam import quadratic_form, solve_l1
from scorematch.classical.ggm import choose_lambda, lambda_max, penalised_loss, score_matching_lasso


def _kkt(q, K, lam):
    """The largest violation of the lasso's optimality conditions at the symmetric K, from the rows' gradient
    (∂L/∂K_ab = (G + Gᵀ)_ab, ∂L/∂K_aa = G_aa, G = Γ_j K_j − g_j row by row): the diagonal's gradient is 0, an edge's
    is −λ sign K_ab, a missing edge's at most λ."""
    from scorematch.classical.ggm.solver import _gradient

    grad = _gradient(q, K)
    off = ~np.eye(len(K), dtype=bool)
    on, zero = off & (K != 0), off & (K == 0)
    worst = np.abs(np.diag(grad)).max()
    if on.any():
        worst = max(worst, np.abs(grad[on] + lam * np.sign(K[on])).max())
    if zero.any():
        worst = max(worst, np.maximum(np.abs(grad[zero]) - lam, 0.0).max())
    return float(worst)

def _chain_data(p=8, n=400, seed=0):
    K = np.eye(p) + np.diag(np.full(p - 1, 0.4), 1) + np.diag(np.full(p - 1, 0.4), -1)
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal(np.zeros(p), np.linalg.inv(K), size=n), K


def _second_moment(x):
    x = x - x.mean(0)
    return x.T @ x / len(x)


def test_the_path_ends_at_the_unpenalised_solution_and_at_the_empty_graph():
    x, _ = _chain_data()
    S = _second_moment(x)
    top = lambda_max(S)
    path = score_matching_lasso(x, lambdas=np.array([top * 1.0001, top * 0.999, 0.0]), tol=1e-11)
    assert len(path.edges(0)) == 0 and len(path.edges(1)) == 1
    assert np.allclose(path.precisions[2], np.linalg.inv(S), rtol=1e-8, atol=1e-10)
    assert np.allclose(path.precisions[0], np.diag(1 / np.diag(S)), rtol=1e-12)


def test_kkt_conditions_hold_along_the_path():
    x, _ = _chain_data(p=10)
    S = _second_moment(x)
    path = score_matching_lasso(x, n_lambdas=20, tol=1e-11)
    worst = 0.0
    for lam, K in zip(path.lambdas, path.precisions, strict=True):
        assert np.allclose(K, K.T)
        grad = S @ K + K @ S
        a, b = np.triu_indices(len(K), 1)
        on = K[a, b] != 0
        worst = max(worst, np.abs(grad[a, b][on] + lam * np.sign(K[a, b][on])).max(initial=0.0))
        assert (np.abs(grad[a, b][~on]) <= lam + 1e-8).all()
        worst = max(worst, np.abs(np.diag(S @ K) - 1).max())
    assert worst < 1e-8, worst


def _collinear_data(p=12, n=300, seed=0):
    """Columns that are nearly sums of others (like radius, perimeter and area): a condition number near 1e6."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, p // 2))
    x = np.concatenate([base, base @ rng.normal(size=(p // 2, p // 2)) + 0.003 * rng.normal(size=(n, p // 2))], 1)
    return (x - x.mean(0)) / x.std(0)


def test_on_collinear_data_the_path_meets_its_conditions_to_round_off_and_the_active_set_solves_it():
    from scorematch.classical import l1
    from scorematch.classical.ggm import gaussian_rows
    from scorematch.classical.ggm.solver import _Lasso

    x = _collinear_data()
    S = _second_moment(x)
    eig = np.linalg.eigvalsh(S)
    assert eig[-1] / eig[0] > 1e6
    path = score_matching_lasso(x, n_lambdas=25, tol=1e-10)
    q = gaussian_rows(x)
    for lam, K in zip(path.lambdas, path.precisions, strict=True):  # K reaches 1e6 here: 1e-10 is below round-off
        assert _kkt(q, K, lam) <= max(1e-10, 1e-14 * (1 + np.abs(q.gamma).sum(-1).max() * np.abs(K).max()))
    assert path.steps.max() < 2000, path.steps
    # from the diagonal start, the active-set method alone reaches the solution the path found
    for i in (8, 15, 24):
        K = l1._polish(_Lasso(q), np.diag(1 / np.diag(S)), path.lambdas[i], 1e-10, rounds=300)
        assert K is not None and np.abs(K - path.precisions[i]).max() < 1e-6 * np.abs(K).max(), i


def test_on_breast_cancer_columns_the_active_set_cuts_the_steps_and_keeps_the_solution(monkeypatch):
    """Radius, perimeter and area (condition number 1e5): proximal gradient alone takes 4000-8000 steps per λ."""
    from sklearn.datasets import load_breast_cancer

    from scorematch.classical import l1

    x = load_breast_cancer().data[:, :10]
    x = (x - x.mean(0)) / x.std(0)
    lambdas = lambda_max(_second_moment(x)) * np.geomspace(0.5, 0.05, 4)
    fast = score_matching_lasso(x, lambdas=lambdas)
    monkeypatch.setattr(l1, "_polish", lambda *a, **k: None)
    slow = score_matching_lasso(x, lambdas=lambdas)
    assert fast.steps.sum() * 3 < slow.steps.sum(), (fast.steps, slow.steps)
    assert np.abs(fast.precisions - slow.precisions).max() < 1e-6 * np.abs(slow.precisions).max()


def test_on_collinear_non_negative_data_the_truncated_path_meets_its_conditions():
    from scorematch.classical.ggm import truncated_lasso, truncated_rows

    x = np.abs(_collinear_data(p=8, n=400, seed=1))
    path = truncated_lasso(x, n_lambdas=15, tol=1e-10)
    q = truncated_rows(x)
    assert max(_kkt(q, K, lam) for lam, K in zip(path.lambdas, path.precisions, strict=True)) <= 1e-10


def test_the_path_agrees_with_the_general_exponential_family_solver():
    x, _ = _chain_data(p=5, n=300)
    xc = torch.tensor(x - x.mean(0))
    rows, cols = torch.triu_indices(5, 5)
    coef = torch.where(rows == cols, -0.5, -1.0).double()
    q = quadratic_form(xc, T=lambda v: coef * v[rows] * v[cols])  # K_ab's statistics, each pair once
    w = (rows != cols).double()  # the diagonal unpenalised
    for lam in (0.05, 0.2):
        theta = solve_l1(q, lam, penalize=w, tol=1e-12)
        K = score_matching_lasso(x, lambdas=np.array([lam]), tol=1e-12).precisions[0]
        assert np.allclose(K[rows.numpy(), cols.numpy()], theta.numpy(), atol=1e-9), lam


def test_the_path_is_the_minimum_of_the_penalised_loss():
    x, _ = _chain_data(p=6)
    S = _second_moment(x)
    lam = 0.1
    K = score_matching_lasso(x, lambdas=np.array([lam]), tol=1e-11).precisions[0]
    rng = np.random.default_rng(1)
    for _ in range(20):
        E = rng.normal(size=K.shape) * 1e-3
        assert penalised_loss(K, S, lam) <= penalised_loss(K + E + E.T, S, lam) + 1e-15


def test_held_out_loss_chooses_a_lambda_that_recovers_a_chain():
    x, K = _chain_data(p=8, n=800)
    lam, losses = choose_lambda(x, folds=4, n_lambdas=15)
    est = score_matching_lasso(x, lambdas=np.array([lam])).precisions[0]
    a, b = np.triu_indices(8, 1)
    truth, found = K[a, b] != 0, np.abs(est[a, b]) > 0
    assert found[truth].all(), "a true edge was missed"
    assert losses.shape == (15,) and np.isfinite(losses).all()


def _truncated_gaussian(K, n, seed, sweeps=200):
    from scorematch.classical.ggm import truncated_gaussian_sample

    return truncated_gaussian_sample(K, n, sweeps=sweeps, seed=seed)


def _truncated_errors(ns, sweeps, seeds=(0,)):
    """The relative Frobenius error of the unpenalised truncated estimator at each n: the root mean square over
    ``seeds`` independent data sets."""
    from scorematch.classical.ggm import truncated_lasso

    K = np.eye(5) + np.diag(np.full(4, 0.4), 1) + np.diag(np.full(4, 0.4), -1)
    K[0, 4] = K[4, 0] = -0.3
    errors = []
    for n in ns:
        sq = []
        for seed in seeds:
            x = _truncated_gaussian(K, n, seed=1000 * seed + n, sweeps=sweeps)
            est = truncated_lasso(x, lambdas=np.array([0.0]), tol=1e-11).precisions[0]
            sq.append((np.linalg.norm(est - K) / np.linalg.norm(K)) ** 2)
        errors.append(float(np.sqrt(np.mean(sq))))
    print(f"relative error of the truncated estimator at n = {ns}: {errors}")
    return errors


def test_the_truncated_estimator_improves_with_n():
    errors = _truncated_errors((500, 4000), sweeps=60)
    assert errors[1] < 0.15 and 1.5 < errors[0] / errors[1] < 8.0, errors  # √8 ≈ 2.8 expected


@pytest.mark.slow
def test_the_truncated_estimator_is_consistent_at_the_root_n_rate():
    """Over n = 1000 to 64000 and 6 seeds the fitted slope of log error against log n was -0.487."""
    ns = (1000, 4000, 16000)
    errors = _truncated_errors(ns, sweeps=200, seeds=range(4))
    slope = np.polyfit(np.log(ns), np.log(errors), 1)[0]
    assert errors[-1] < 0.08 and -0.65 < slope < -0.35, (errors, slope)  # the n^(-1/2) rate


def test_the_truncated_path_is_empty_at_its_lambda_max_and_meets_its_kkt_conditions():
    from scorematch.classical.ggm import truncated_lasso
    from scorematch.classical.ggm.solver import _lambda_max, _Rows

    K = np.eye(4) + np.diag(np.full(3, 0.5), 1) + np.diag(np.full(3, 0.5), -1)
    x = _truncated_gaussian(K, 2000, seed=7, sweeps=100)
    path = truncated_lasso(x, n_lambdas=12, tol=1e-11)
    assert len(path.edges(0)) == 0 and len(path.edges(len(path.lambdas) - 1)) > 0
    n = len(x)
    h, dh = np.minimum(x, 3.0), (x < 3.0).astype(float)
    q = _Rows(np.einsum("tj,ta,tb->jab", h, x, x) / n, np.diag(h.mean(0)) + dh.T @ x / n)
    assert np.isclose(_lambda_max(q), path.lambdas[0])
    assert max(_kkt(q, K_, lam) for lam, K_ in zip(path.lambdas, path.precisions, strict=True)) < 1e-8


def test_negative_data_are_refused_by_the_truncated_estimator():
    from scorematch.classical.ggm import truncated_lasso

    with pytest.raises(ValueError, match="non-negative"):
        truncated_lasso(np.array([[1.0, -0.1], [0.5, 0.2], [0.3, 0.3]]))


def test_the_truncated_sampler_draws_half_normals_for_a_diagonal_precision():
    from scorematch.classical.ggm import truncated_gaussian_sample

    x = truncated_gaussian_sample(np.diag([1.0, 4.0]), 20000, sweeps=5, seed=3)
    half_normal_means = np.sqrt(2 / np.pi) * np.array([1.0, 0.5])  # E|N(0, σ²)| = σ√(2/π)
    assert (x >= 0).all() and np.allclose(x.mean(0), half_normal_means, rtol=0.02), x.mean(0)
