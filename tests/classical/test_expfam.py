"""Score matching in closed form for exponential families: the Gaussian identity, derivatives by autograd against
closed forms, the ridge and L1 solutions against their optimality conditions."""

import torch

from scorematch.classical.expfam import Quadratic, gaussian, gaussian_statistics, quadratic_form, solve, solve_l1


def _data(n=500, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return torch.randn(n, d, generator=g, dtype=torch.float64) @ a + torch.arange(d, dtype=torch.float64)


def _unpack(theta, d):
    h, rest = theta[:d], theta[d:]
    rows, cols = torch.triu_indices(d, d)
    K = torch.zeros(d, d, dtype=theta.dtype)
    K[rows, cols] = rest
    K[cols, rows] = rest
    return h, K


def test_the_general_solver_on_gaussian_statistics_is_the_sample_mean_and_inverse_covariance():
    x = _data()
    d = x.shape[1]
    h, K = _unpack(solve(quadratic_form(x, T=gaussian_statistics(d))), d)
    mean = x.mean(0)
    cov = (x - mean).T @ (x - mean) / len(x)  # the 1/n covariance
    assert torch.allclose(K, torch.linalg.inv(cov), rtol=1e-10, atol=0)
    assert torch.allclose(torch.linalg.solve(K, h), mean, rtol=1e-10, atol=1e-12)
    m2, K2 = gaussian(x)
    assert torch.allclose(m2, mean, rtol=1e-12) and torch.allclose(K2, K, rtol=1e-10)


def test_autograd_derivatives_match_the_closed_forms():
    x = _data(n=50, d=3)
    d = x.shape[1]
    rows, cols = torch.triu_indices(d, d)
    eye = torch.eye(d, dtype=torch.float64)
    # T = (x, -½x_a² on the diagonal, -x_a x_b off it): ∂_j of x_a x_b = δ_ja x_b + δ_jb x_a
    grad_lin = eye.expand(len(x), d, d)
    coef = torch.where(rows == cols, -0.5, -1.0).to(x)
    grad_quad = coef[None, :, None] * (eye[rows][None] * x[:, cols, None] + eye[cols][None] * x[:, rows, None])
    lap_quad = (coef * 2 * (rows == cols).to(x))[None, :, None] * (eye[rows][None] * eye[cols][None])
    grad_T = torch.cat([grad_lin, grad_quad], 1)
    lap_T = torch.cat([torch.zeros_like(grad_lin), lap_quad.expand(len(x), -1, -1)], 1)
    by_hand = quadratic_form(x, grad_T=grad_T, lap_T=lap_T)
    by_autograd = quadratic_form(x, T=gaussian_statistics(d))
    assert torch.allclose(by_hand.gamma, by_autograd.gamma, rtol=1e-12, atol=1e-12)
    assert torch.allclose(by_hand.g, by_autograd.g, rtol=1e-12, atol=1e-12)


def test_the_objective_is_hyvarinens_loss_of_the_family():
    """½θᵀΓθ − gᵀθ equals the mean of ½‖s‖² + tr ∇s for the model s = Jᵀθ, computed by the library's loss."""
    from scorematch import Energy
    from scorematch.losses import explicit

    x = _data(n=200, d=3)
    T = gaussian_statistics(3)
    q = quadratic_form(x, T=T)
    theta = torch.randn(len(q.g), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    energy = Energy(lambda z: -(torch.vmap(T)(z) @ theta))
    assert torch.allclose(q.value(theta), explicit(energy, x).mean(), rtol=1e-10)


def _problem(k=12, seed=3):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(3 * k, k, generator=g, dtype=torch.float64)
    return Quadratic(a.T @ a / (3 * k), torch.randn(k, generator=g, dtype=torch.float64))


def test_the_ridge_solution_satisfies_its_equation():
    q = _problem()
    theta = solve(q, ridge=0.3)
    assert torch.allclose((q.gamma + 0.3 * torch.eye(12, dtype=torch.float64)) @ theta, q.g, atol=1e-12)


def test_l1_at_zero_is_the_unpenalised_solution_and_empty_past_lambda_max():
    q = _problem()
    assert torch.allclose(solve_l1(q, 0.0, tol=1e-15), solve(q), atol=1e-9)
    lam_max = float(q.g.abs().max())
    assert (solve_l1(q, lam_max * 1.0001) == 0).all()
    assert (solve_l1(q, lam_max * 0.99) != 0).sum() == 1


def test_l1_solutions_satisfy_the_kkt_conditions_and_leave_unpenalised_entries_free():
    q = _problem()
    w = torch.ones(12, dtype=torch.float64)
    w[:3] = 0.0  # three entries left unpenalised
    for lam in (0.05, 0.2, 0.6):
        theta = solve_l1(q, lam, penalize=w, tol=1e-15)
        r = q.g - q.gamma @ theta
        on = theta != 0
        assert torch.allclose(r[on], lam * w[on] * theta[on].sign(), atol=1e-8), lam
        assert (r[~on].abs() <= lam * w[~on] + 1e-8).all(), lam
        assert (theta[:3] != 0).all()
