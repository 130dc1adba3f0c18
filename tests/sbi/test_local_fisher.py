"""Local Fisher score matching: Fisher scoring with a closed-form local score reaches the exact maximum likelihood
and its standard errors — a Gaussian location model (features x) and a Gaussian scale model (features x²)."""

import math

import torch
from torch.distributions import Independent, Normal

from scorematch.sbi import Task, get_task
from scorematch.sbi.local import local_mle, local_score


def test_the_local_score_of_a_gaussian_location_model_is_its_smoothed_score():
    """x ~ N(θ, 0.1 I): the smoothed score at θ_t is (x − θ_t)/(0.1 + σ²), so A = I/(0.1 + σ²), c = −A θ_t, the
    least squares' coefficients within 4.5 of their standard errors √(var(ε/σ)/(m var x)) = √(100/(m · 0.11))."""
    task = get_task("gaussian_linear")
    theta = torch.linspace(-0.3, 0.3, 10, dtype=torch.float64)
    sigma = torch.full((10,), 0.1, dtype=torch.float64)
    m = 50000
    local = local_score(task, theta, m, sigma, generator=torch.Generator().manual_seed(0))
    k, se = 1 / (0.1 + 0.1**2), math.sqrt(100 / (m * 0.11))
    assert torch.allclose(local.A, k * torch.eye(10, dtype=torch.float64), atol=4.5 * se)
    assert torch.allclose(local.c, -k * theta, atol=4.5 * se * (1 + 3 * 0.3))
    assert torch.allclose(local.fisher.diagonal(), torch.full((10,), k, dtype=torch.float64), rtol=0.1)


def test_local_mle_reaches_the_mean_and_its_standard_error_on_gaussian_linear():
    task = get_task("gaussian_linear")
    xs = task.simulate(task.observation(1)[0].expand(10, -1).clone(), torch.Generator().manual_seed(7))
    # a location model's smoothed score has its root at the MLE for any σ: a wide one is exact and less noisy
    fit = local_mle(task, xs, sigma=torch.full((10,), 0.1, dtype=torch.float64),
                    generator=torch.Generator().manual_seed(1))
    assert float((fit.theta - xs.mean(0)).abs().max()) < 0.03           # the MLE is the mean; its se is 0.1
    # the information of the smoothed score, 1/(0.1 + σ²) per observation: se √(0.11/10) = 0.105
    assert torch.allclose(fit.se, torch.full((10,), math.sqrt(0.011), dtype=torch.float64), rtol=0.1)


def test_local_mle_with_features_reaches_a_scale_models_mle():
    """x ~ N(0, e^{2θ}): score −1 + x² e^{−2θ}, linear in φ = x²; MLE ½ log mean x², se 1/√(2n)."""
    prior = Independent(Normal(torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)), 1)

    def simulator(theta, g):
        return torch.exp(theta) * torch.randn(theta.shape, generator=g, dtype=theta.dtype)

    task = Task("scale", prior, simulator, ("log_sd",))
    xs = simulator(torch.full((50, 1), 0.7, dtype=torch.float64), torch.Generator().manual_seed(3))
    fit = local_mle(task, xs, features=lambda x: x.square(), n_simulations=8000,
                    generator=torch.Generator().manual_seed(0))
    mle, se = 0.5 * math.log(float(xs.square().mean())), 1 / math.sqrt(100)
    assert abs(float(fit.theta) - mle) < 0.3 * se
    assert abs(float(fit.se) / se - 1) < 0.1
