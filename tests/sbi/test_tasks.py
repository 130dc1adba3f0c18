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


@pytest.mark.parametrize("name", [t for t in TASKS if t != "bernoulli_glm"])  # its data are lattice-valued
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


def test_bernoulli_glm_statistics_are_sufficient_and_its_reference_matches_importance_weights():
    """bernoulli_glm's x = Xᵀy: its mean is Xᵀ sigmoid(Xθ) (the draws' means within 5 standard errors); its
    ``log_likelihood(θ, x)`` is the spike train's Bernoulli log-likelihood for every θ up to one constant; and the
    SMC reference agrees with self-normalised importance weights on draws from a Gaussian fitted to it."""
    from scorematch.sbi.tasks import _glm_design

    task, design, g = get_task("bernoulli_glm"), _glm_design(), torch.Generator().manual_seed(3)
    theta0, x0 = task.observation(2)
    assert float(x0[0]) == round(float(x0[0])) and 0 <= float(x0[0]) <= 100      # the first statistic counts spikes
    x = task.simulate(theta0.expand(4000, -1).clone(), g)
    mean = torch.sigmoid(design @ theta0) @ design
    assert ((x.mean(0) - mean).abs() < 5 * x.std(0) / math.sqrt(4000)).all()
    y = (torch.rand(100, generator=g, dtype=torch.float64) < 0.3).double()
    thetas = sample_prior(task.prior, 50, g)
    bern = torch.distributions.Bernoulli(logits=thetas @ design.T).log_prob(y).sum(-1)
    ours = task.log_likelihood(thetas, (y @ design).expand(50, -1))
    assert torch.allclose(bern - ours, (bern - ours)[0].expand(50), atol=1e-9)
    ref = task.reference_posterior(x0, 4000, g)
    q = torch.distributions.MultivariateNormal(ref.mean(0), 2 * torch.cov(ref.T))
    z = q.sample((100000,))
    w = torch.softmax(task.log_likelihood(z, x0.expand(len(z), -1)) + task.prior.log_prob(z) - q.log_prob(z), 0)
    ess = float(1 / w.square().sum())
    assert ess > 5000
    m_is = (w[:, None] * z).sum(0)
    sd_is = (w[:, None] * (z - m_is).square()).sum(0).sqrt()
    se = sd_is * math.sqrt(1 / 4000 + 1 / ess)
    assert ((ref.mean(0) - m_is).abs() < 5 * se).all(), (ref.mean(0), m_is)
    assert ((ref.std(0) - sd_is).abs() < 5 * se + 0.03 * sd_is).all(), (ref.std(0), sd_is)
