"""The non-centred truncated Gaussian graphical model, p ∝ exp(−xᵀKx/2 + ηᵀx) on [0, ∞)^p: its profiled estimate is
a stationary point of the full generalised score-matching loss in (K, η) (autograd), it is consistent where the
centred model is not, and the sampler with a location draws the right truncated normals."""

import numpy as np
import pytest
import torch

from commands import exit_code
from scorematch.classical.ggm import (
    choose_lambda,
    rows_loss,
    truncated_gaussian_sample,
    truncated_lasso,
    truncated_linear_term,
    truncated_loss,
    truncated_rows,
)


def _model(p=5):
    K = np.eye(p) + np.diag(np.full(p - 1, 0.4), 1) + np.diag(np.full(p - 1, 0.4), -1)
    K[0, p - 1] = K[p - 1, 0] = -0.3
    return K, np.array([1.0, 0.5, -0.5, 2.0, 0.0])[:p]


def _full_loss(x, K, eta, cap=3.0):
    """The mean over points of Σ_j ½ h_j ((Kx)_j − η_j)² − h_j K_jj − h_j′((Kx)_j − η_j), h = min(x, cap)."""
    h, dh = torch.clamp(x, max=cap), (x < cap).double()
    r = x @ K - eta  # (Kx)_j − η_j, K symmetric
    return (0.5 * h * r**2 - h * torch.diagonal(K) - dh * r).sum(1).mean()


def test_the_profiled_estimate_is_a_stationary_point_of_the_full_loss():
    K, mu = _model()
    x = truncated_gaussian_sample(K, 3000, mean=mu, sweeps=60, seed=0)
    for lam in (0.0, 0.05):
        est = truncated_lasso(x, lambdas=np.array([lam]), centred=False, tol=1e-12).precisions[0]
        eta = truncated_linear_term(x, est)
        Kt = torch.tensor(est, requires_grad=True)
        et = torch.tensor(eta, requires_grad=True)
        gK, ge = torch.autograd.grad(_full_loss(torch.tensor(x), (Kt + Kt.T) / 2, et), (Kt, et))
        assert ge.abs().max() < 1e-10, lam  # η is optimal given K
        grad = (gK + gK.T).numpy()  # ∂/∂K_ab of the symmetric parameter, each pair once
        np.fill_diagonal(grad, np.diag(gK.numpy()))
        off = ~np.eye(5, dtype=bool)
        on = off & (est != 0)
        assert np.abs(np.diag(grad)).max() < 1e-9
        assert np.abs(grad[on] + lam * np.sign(est[on])).max() < 1e-9, lam  # the lasso's conditions
        assert (np.abs(grad[off & (est == 0)]) <= lam + 1e-9).all()


def test_the_noncentred_estimator_is_consistent_where_the_centred_one_is_not():
    K, mu = _model()
    errors = {True: [], False: []}
    for n in (500, 4000):
        x = truncated_gaussian_sample(K, n, mean=mu, sweeps=60, seed=n)
        for centred in (True, False):
            est = truncated_lasso(x, lambdas=np.array([0.0]), centred=centred).precisions[0]
            errors[centred].append(np.linalg.norm(est - K) / np.linalg.norm(K))
        eta = truncated_linear_term(x, est)
    print(f"relative error at n = 500, 4000: centred {errors[True]}, noncentred {errors[False]}")
    assert errors[False][1] < 0.12 and 1.5 < errors[False][0] / errors[False][1] < 8, errors  # √8 ≈ 2.8 expected
    assert min(errors[True]) > 0.25, errors  # a model located at 0 cannot fit data located at μ
    assert np.linalg.norm(eta - K @ mu) / np.linalg.norm(K @ mu) < 0.15  # η = Kμ


def test_the_sampler_with_a_location_draws_truncated_normals():
    from scipy.stats import truncnorm

    mu, sd = np.array([1.0, -0.5]), np.array([1.0, 0.5])
    x = truncated_gaussian_sample(np.diag(1 / sd**2), 20000, mean=mu, sweeps=3, seed=4)
    exact = truncnorm.mean(-mu / sd, np.inf, loc=mu, scale=sd)
    assert (x >= 0).all() and np.allclose(x.mean(0), exact, rtol=0.02), (x.mean(0), exact)


def test_graph_command_fits_the_noncentred_model(tmp_path, capsys):
    K, mu = _model()
    x = truncated_gaussian_sample(K, 1500, mean=mu, sweeps=60, seed=2)
    data = tmp_path / "positive.csv"
    np.savetxt(data, x, delimiter=",")
    assert exit_code("graph", data, "--out", tmp_path / "g", "--model", "truncated-noncentred",
                     "--criterion", "ebic") == 0
    edges = {tuple(line.split(",")[:2]) for line in (tmp_path / "g" / "edges.csv").read_text().splitlines()[1:]}
    assert {("x1", "x2"), ("x2", "x3"), ("x3", "x4"), ("x4", "x5"), ("x1", "x5")} <= edges
    capsys.readouterr()


def test_the_loss_at_eta_is_the_rows_loss_and_least_at_the_profiled_eta():
    K, mu = _model()
    x = truncated_gaussian_sample(K, 800, mean=mu, sweeps=40, seed=5)
    assert np.isclose(truncated_loss(x, K), rows_loss(truncated_rows(x), K), rtol=1e-12)
    eta = truncated_linear_term(x, K)
    best = truncated_loss(x, K, eta)
    for j in range(5):
        step = np.zeros(5)
        step[j] = 1e-3
        assert truncated_loss(x, K, eta + step) > best and truncated_loss(x, K, eta - step) > best


def test_held_out_choice_for_the_noncentred_model_recovers_the_graph():
    K, mu = _model()
    x = truncated_gaussian_sample(K, 2000, mean=mu, sweeps=60, seed=6)
    lam, losses = choose_lambda(x / x.std(0), kind="truncated-noncentred", n_lambdas=15, folds=4)
    assert np.isfinite(losses).all()
    est = truncated_lasso(x / x.std(0), lambdas=np.array([lam]), centred=False).precisions[0]
    a, b = np.triu_indices(5, 1)
    assert (np.abs(est[a, b]) > 0)[K[a, b] != 0].all()


def test_a_two_valued_column_is_refused_by_the_noncentred_model():
    x = np.abs(np.random.default_rng(0).normal(size=(200, 3)))
    x[:, 1] = (x[:, 1] > 0.7).astype(float)  # 0 or 1: h(x) x and h(x) cannot be told apart
    with pytest.raises(ValueError, match="column 2 takes a single positive value"):
        truncated_rows(x, centred=False)
    truncated_rows(x)  # the centred model has no linear term to confound


def test_a_split_that_leaves_a_column_two_valued_is_named_as_such():
    rng = np.random.default_rng(0)
    x = np.abs(rng.normal(size=(60, 3)))
    x[:, 2] = (x[:, 2] > 0.7).astype(float)
    x[:2, 2] = 2.0  # three values over all rows, two in a split without the first rows
    truncated_rows(x, centred=False)
    with pytest.raises(ValueError, match="cross-validation split: column 3"):
        for seed in range(20):  # some shuffle puts both rows of 2 in one held-out fold
            choose_lambda(x, kind="truncated-noncentred", folds=5, n_lambdas=5, seed=seed)
