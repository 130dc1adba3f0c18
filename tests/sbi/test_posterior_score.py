"""Neural posterior score estimation: a trained network on gaussian_linear against its closed-form posterior, and
the support of a bounded prior."""

import math

import pytest
import torch

from scorematch.sbi import get_task, npse_sample, train_npse


def test_npse_recovers_the_gaussian_linear_posterior_for_one_and_for_iid_observations():
    """gaussian_linear: p(θ | x₁…x_k) = N(Σx/(k + 1), 0.1/(k + 1) I). 3000 simulations, 1500 steps: for one
    observation the mean within 0.08 (the posterior sd is 0.22) and the sd within 20%; for 4 iid observations,
    composed with Gaussian weights, the mean within 0.6 posterior sds (0.14, the single networks' errors add) and
    the sd within 35% (at this budget; 10⁴ simulations give C2ST 0.567 in make sbi-bench); a malformed
    observation is one line."""
    task = get_task("gaussian_linear")
    g = torch.Generator().manual_seed(0)
    theta, x = task.simulations(3000, g)
    fit = train_npse(theta, x, steps=1500, hidden=64, generator=g)
    assert fit.best_step > 0 and len(fit.history) > 1
    x0 = task.observation(1)[1]
    draws = npse_sample(fit, task.prior, x0, 2000, steps=200, generator=torch.Generator().manual_seed(1))
    assert draws.shape == (2000, 10)
    assert (draws.mean(0) - x0 / 2).abs().max() < 0.08, draws.mean(0) - x0 / 2
    assert ((draws.std(0) / math.sqrt(0.05)) - 1).abs().max() < 0.2, draws.std(0) / math.sqrt(0.05)
    theta0 = task.observation(1)[0]
    xs = task.simulate(theta0.expand(4, -1).clone(), torch.Generator().manual_seed(3))
    draws = npse_sample(fit, task.prior, xs, 1000, steps=200, generator=torch.Generator().manual_seed(4))
    sd = math.sqrt(0.1 / 5)
    assert draws.shape == (1000, 10)
    assert ((draws.mean(0) - xs.sum(0) / 5) / sd).abs().max() < 0.6, (draws.mean(0) - xs.sum(0) / 5) / sd
    assert ((draws.std(0) / sd) - 1).abs().max() < 0.35, draws.std(0) / sd
    with pytest.raises(ValueError, match=r"npse takes observations of 10 numbers, \(d,\) or \(k, d\); got shape"):
        npse_sample(fit, task.prior, torch.zeros(2, 3, 10), 10)


def test_npse_draws_stay_inside_a_bounded_prior():
    """two_moons' prior is the box [-1, 1]²: every draw inside it, and draws reproducible from the generator."""
    task = get_task("two_moons")
    g = torch.Generator().manual_seed(0)
    theta, x = task.simulations(500, g)
    fit = train_npse(theta, x, steps=100, hidden=16, depth=1, generator=g)
    x0 = task.observation(1)[1]
    a = npse_sample(fit, task.prior, x0, 300, steps=50, generator=torch.Generator().manual_seed(2))
    b = npse_sample(fit, task.prior, x0, 300, steps=50, generator=torch.Generator().manual_seed(2))
    assert a.shape == (300, 2) and (a.abs() <= 1).all() and torch.equal(a, b)
