"""The inference tasks: each simulator against its own exact likelihood, each exact posterior sampler against the
likelihood times the prior (importance weights on prior draws), the fixed observations, and user task files."""

import math

import pytest
import torch

from scorematch.sbi import TASKS, Task, get_task, load_task, sample_prior


@pytest.mark.parametrize("name", list(TASKS))
def test_simulations_have_the_declared_shapes_and_fixed_observations(name):
    task = get_task(name)
    theta, x = task.simulations(7, torch.Generator().manual_seed(0))
    assert theta.shape == (7, task.dim_parameters) and x.ndim == 2 and torch.isfinite(x).all()
    a, b = task.observation(3), task.observation(3)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(task.observation(4)[1], a[1])
    assert torch.isfinite(task.log_likelihood(a[0][None], a[1][None])).all()


@pytest.mark.parametrize("name", list(TASKS))
def test_the_simulator_draws_from_the_exact_likelihood(name):
    """For one θ, the simulator's draws x_i against the likelihood: the mean log-likelihood of the draws is the
    negative entropy of p(x | θ), estimated a second way by importance sampling with a wide Gaussian proposal
    (E_q[p log p / q], q a Gaussian twice as wide as the draws); the two agree within 4 standard errors when the
    simulator and the likelihood describe one law."""
    task = get_task(name)
    g = torch.Generator().manual_seed(1)
    theta0 = task.observation(1)[0]
    n = 20000
    x = task.simulate(theta0.expand(n, -1).clone(), g)
    ll = task.log_likelihood(theta0.expand(n, -1), x)
    direct, se_direct = float(ll.mean()), float(ll.std()) / math.sqrt(n)
    mean, cov = x.mean(0), 4 * torch.cov(x.T)                      # a Gaussian twice as wide as the draws
    chol = torch.linalg.cholesky(cov)
    y = mean + torch.randn(200000, x.shape[1], generator=g, dtype=x.dtype) @ chol.T
    log_q = torch.distributions.MultivariateNormal(mean, scale_tril=chol).log_prob(y)
    log_p = task.log_likelihood(theta0.expand(y.shape[0], -1), y)
    w = (log_p - log_q).exp()
    assert abs(float(w.mean()) - 1) < 0.05                        # the likelihood integrates to 1 in x
    terms = torch.where(w > 0, w * log_p, torch.zeros_like(w))
    other, se_other = float(terms.mean()), float(terms.std()) / math.sqrt(y.shape[0])
    assert abs(direct - other) < 4 * math.hypot(se_direct, se_other) + 0.02, (direct, other)


@pytest.mark.parametrize("name", ["gaussian_linear", "two_moons", "gaussian_mixture", "slcp"])
def test_the_posterior_sampler_matches_likelihood_times_prior(name):
    """Reference draws against prior draws weighted by the likelihood (self-normalised importance sampling):
    means and standard deviations per parameter within 5 standard errors of each. slcp's reference is SMC on the
    exact likelihood, checked on observation 1, where 2·10⁶ prior draws leave an effective sample size of ~900."""
    task = get_task(name)
    g = torch.Generator().manual_seed(2)
    x = task.observation(1 if name == "slcp" else 2)[1]
    n_ref = 4000 if name == "slcp" else 20000
    ref = task.reference_posterior(x, n_ref, g)
    theta = sample_prior(task.prior, 2_000_000 if name in ("gaussian_mixture", "slcp") else 400_000, g)
    w = torch.softmax(task.log_likelihood(theta, x.expand(theta.shape[0], -1)), 0)
    ess = float(1 / w.square().sum())
    assert ess > 500
    for j in range(task.dim_parameters):
        m_is = float((w * theta[:, j]).sum())
        sd_is = float((w * (theta[:, j] - m_is).square()).sum().sqrt())
        m_ref, sd_ref = float(ref[:, j].mean()), float(ref[:, j].std())
        se = sd_ref * math.sqrt(1 / n_ref + 1 / ess)
        assert abs(m_ref - m_is) < 5 * se, (j, m_ref, m_is)
        assert abs(sd_ref - sd_is) < 5 * se + 0.02 * sd_ref, (j, sd_ref, sd_is)


def test_gaussian_linear_posterior_is_the_closed_form():
    task = get_task("gaussian_linear")
    x = task.observation(1)[1]
    ref = task.reference_posterior(x, 50000, torch.Generator().manual_seed(3))
    assert torch.allclose(ref.mean(0), x / 2, atol=4 * math.sqrt(0.05 / 50000))
    assert torch.allclose(ref.var(0), torch.full((10,), 0.05, dtype=ref.dtype), rtol=0.05)


def test_unknown_task_and_missing_reference_are_one_line_errors():
    with pytest.raises(ValueError, match=r"unknown task 'moons'.*two_moons"):
        get_task("moons")
    slcp = get_task("slcp")
    task = Task("no_reference", slcp.prior, slcp.simulator, slcp.parameter_names, slcp.log_likelihood)
    with pytest.raises(ValueError, match="no exact posterior"):
        task.reference_posterior(task.observation(1)[1], 10)


def test_a_task_file_with_prior_and_simulator_loads(tmp_path):
    f = tmp_path / "mysim.py"
    f.write_text("import torch\n"
                 "prior = torch.distributions.Independent(torch.distributions.Normal(torch.zeros(3), torch.ones(3)), 1)\n"
                 "parameter_names = ['a', 'b', 'c']\n"
                 "def simulator(theta, generator):\n"
                 "    return theta + torch.randn(theta.shape, generator=generator)\n")
    task = load_task(f)
    assert task.parameter_names == ("a", "b", "c") and task.log_likelihood is None
    theta, x = task.simulations(5, torch.Generator().manual_seed(0))
    assert theta.shape == x.shape == (5, 3)
    bad = tmp_path / "bad.py"
    bad.write_text("prior = 3\n")
    with pytest.raises(ValueError, match="needs `prior`"):
        load_task(bad)
    with pytest.raises(ValueError, match=r"existing \.py file"):
        load_task(tmp_path / "missing.py")
