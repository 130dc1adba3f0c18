"""Amortised Fisher score matching: the θ* trick's minimiser in closed form, iid score addition, the posterior
model, and a trained network on gaussian_linear against its closed-form smoothed score and posterior."""

import math

import torch

from scorematch.metrics import c2st
from scorematch.samplers.smc import smc
from scorematch.sbi import get_task
from scorematch.sbi.fisher import (
    FisherScoreNet,
    fisher_loss,
    fisher_simulations,
    noise_width,
    posterior_model,
    train_fisher,
)


class _Linear:
    """s(x, θ) = a (x − θ): the score family that holds gaussian_linear's smoothed likelihood score."""

    def __init__(self, a: float):
        self.a = a

    def score(self, x, theta, create_graph=False):
        return self.a * (x - theta)


def test_the_theta_star_trick_is_minimised_by_the_smoothed_likelihood_score():
    """With x | θ* ~ N(θ*, 0.1 I) and θ* = θ + σε the expected loss of s = a(x − θ) is, per coordinate,
    ½[(σ²a − 1)² + 0.1 σ²a²], minimised at a = 1/(0.1 + σ²): the score of the likelihood smoothed at width σ.
    The Monte Carlo loss over a grid of a (common simulations) must put its minimum there."""
    task = get_task("gaussian_linear")
    sigma = noise_width(task.prior)
    assert torch.allclose(sigma, torch.full((10,), 0.3 * math.sqrt(0.1), dtype=sigma.dtype))
    theta, eps, x = fisher_simulations(task, 200000, sigma, torch.Generator().manual_seed(0))
    a_star = 1 / (0.1 + float(sigma[0]) ** 2)
    grid = torch.linspace(0.5 * a_star, 1.5 * a_star, 41)
    losses = torch.stack([fisher_loss(_Linear(float(a)), theta, eps, x, sigma) for a in grid])
    s2 = float(sigma[0]) ** 2
    closed = 10 * 0.5 * ((s2 * grid - 1) ** 2 + 0.1 * s2 * grid**2)
    assert torch.allclose(losses.float(), closed.float(), rtol=0.01)
    coef = torch.linalg.lstsq(torch.stack([grid**2, grid, torch.ones_like(grid)], 1).double(),
                              losses[:, None].double()).solution[:, 0]
    assert abs(float(-coef[1] / (2 * coef[0])) / a_star - 1) < 0.03


def test_scores_of_iid_observations_add_to_the_prior_score():
    task = get_task("two_moons")
    net = FisherScoreNet(2, 2, hidden=16, depth=2)
    xs = torch.randn(3, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    theta = 0.5 * torch.rand(5, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    post = posterior_model(net, task.prior, xs)
    expected = sum(net.score(x.expand(5, -1), theta) for x in xs)     # the uniform prior's score is 0 inside
    assert torch.allclose(post.score(theta), expected, atol=1e-10)
    energy = sum(net.energy(x.expand(5, -1), theta) for x in xs).detach() - task.prior.log_prob(theta)
    assert torch.allclose(post.energy(theta), energy, atol=1e-10)
    assert torch.isinf(post.energy(torch.tensor([[1.5, 0.0]], dtype=torch.float64))).all()   # outside the prior


def test_the_energy_network_score_is_minus_its_theta_gradient():
    net = FisherScoreNet(3, 2, hidden=8, depth=2)
    x, theta = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    th = theta.clone().requires_grad_()
    (grad,) = torch.autograd.grad(net.energy(x, th).sum(), th)
    assert torch.allclose(net.score(x, theta), -grad)


def test_a_trained_network_recovers_the_gaussian_linear_posterior():
    """4000 simulations, 400 steps: the learned score within 25% (relative mean square) of the smoothed closed form
    (x − θ)/(0.1 + σ²) at posterior draws, and SMC's posterior of observation 1 within 0.1 of its mean x/2 + bias
    and told from the exact (smoothed) posterior with C2ST ≤ 0.7 (the prior's draws: 0.76)."""
    task = get_task("gaussian_linear")
    fit = train_fisher(task, 4000, steps=400, hidden=64, patience=None, generator=torch.Generator().manual_seed(0))
    x0 = task.observation(1)[1]
    s2 = float(fit.sigma[0]) ** 2
    # the posterior with the smoothed likelihood N(x; θ, (0.1 + σ²) I): precision 10 + 1/(0.1 + σ²)
    var = 1 / (10 + 1 / (0.1 + s2))
    mean = var * x0 / (0.1 + s2)
    ref = mean + math.sqrt(var) * torch.randn(1000, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    learned = fit.model.score(x0.expand(1000, -1), ref)
    exact = (x0 - ref) / (0.1 + s2)
    assert float((learned - exact).square().sum(-1).mean() / exact.square().sum(-1).mean()) < 0.25
    out = smc(posterior_model(fit, task.prior, x0), 1000, (10,), base_std=0.5, steps_per_temperature=5,
              generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert float((out.x.mean(0) - mean).abs().max()) < 0.1
    assert float(c2st(out.x.float(), ref.float(), generator=torch.Generator().manual_seed(0))) <= 0.7


def test_training_is_reproducible_from_its_generator_and_leaves_the_global_state_alone():
    task = get_task("two_moons")
    state = torch.random.get_rng_state()
    fits = [train_fisher(task, 200, steps=20, hidden=8, depth=1, eval_every=10,
                         generator=torch.Generator().manual_seed(5)) for _ in range(2)]
    assert torch.equal(torch.random.get_rng_state(), state)
    for a, b in zip(fits[0].model.state_dict().values(), fits[1].model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
