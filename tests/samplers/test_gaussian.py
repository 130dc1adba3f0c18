"""ULA, MALA and HMC on a correlated Gaussian: ULA matches its own closed-form stationary law (bias O(ε)),
MALA and HMC match the target at a step where ULA's bias is plain."""

import math

import pytest
import torch

from scorematch import Energy
from scorematch.models.analytic import Gaussian
from scorematch.samplers import diagnose, hmc, langevin, mala, sample

TARGET = Gaussian([1.0, -1.0], [[1.0, 0.8], [0.8, 1.0]]).to(torch.float64)  # precision eigenvalues 5 and 0.556


def ula_cov(eps):
    """Stationary covariance of x ← x + (ε/2)s(x) + √ε z on TARGET: per eigenvalue λ of P, 1/(λ(1 − ελ/4))."""
    lam, q = torch.linalg.eigh(torch.linalg.inv(TARGET.cov))
    return q @ torch.diag(1 / (lam * (1 - eps * lam / 4))) @ q.T
N_CHAINS = 10_000


def _run(kernel, steps=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    x0 = TARGET.sample(N_CHAINS, g)  # start at the target: what remains is the sampler's own bias
    return sample(kernel, x0, steps, generator=g)


def _ula_steps(eps):
    """Enough ULA steps to reach its stationary law from the target: the slowest direction contracts by
    1 − ελ_min/2 per step (λ_min = 1/1.8), so its variance is 1e-3 from stationary after ≈ 12/ε steps."""
    return min(400, math.ceil(12 / eps))


def _z_scores(x, cov):
    """z of the sample mean and of the variance along each eigenvector of ``cov`` (sd of a variance: v√(2/n))."""
    n = x.shape[0]
    lam, q = torch.linalg.eigh(cov)
    proj = (x - TARGET.mean) @ q
    z_mean = proj.mean(0) / (lam / n).sqrt()
    z_var = (proj.var(0) - lam) / (lam * math.sqrt(2 / n))
    return torch.cat([z_mean, z_var])


@pytest.mark.parametrize("eps", [0.3, 0.1, 0.03])
def test_ula_matches_its_closed_form_stationary_law(eps):
    x = _run(langevin(TARGET, eps), _ula_steps(eps))
    assert _z_scores(x, ula_cov(eps)).abs().max() < 4


def test_ula_bias_is_visible_at_a_large_step_and_shrinks_with_the_step():
    z = {eps: _z_scores(_run(langevin(TARGET, eps), _ula_steps(eps)), TARGET.cov).abs().max().item()
         for eps in (0.3, 0.1, 0.01)}
    assert z[0.3] > 20 and z[0.3] > z[0.1] > z[0.01], z
    assert z[0.01] < 4, z


@pytest.mark.parametrize("model", [TARGET, Energy(TARGET.energy)], ids=["analytic", "autograd"])
def test_mala_is_unbiased_at_the_step_where_ula_is_not(model):
    kernel = mala(model, 0.3)
    x = _run(kernel)
    assert _z_scores(x, TARGET.cov).abs().max() < 4
    diag = diagnose(kernel, x[:500], 50, generator=torch.Generator().manual_seed(1))
    assert 0.3 < diag.acceptance_rate.mean() < 0.99


def test_hmc_reproduces_mean_and_covariance():
    x = _run(hmc(Energy(TARGET.energy), 0.25, 5))
    assert _z_scores(x, TARGET.cov).abs().max() < 4


@pytest.mark.slow
def test_mala_converges_from_a_far_start():
    g = torch.Generator().manual_seed(2)
    x = sample(mala(TARGET, 0.2), torch.full((N_CHAINS, 2), 6.0), 600, generator=g)
    assert _z_scores(x, TARGET.cov).abs().max() < 4
