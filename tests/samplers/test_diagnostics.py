"""Split R̂ and ESS against closed forms (iid and AR(1) chains), and both flag chains stuck in their own modes."""

import math

import pytest
import torch

from scorematch import Energy
from scorematch.models.analytic import GaussianMixture
from scorematch.samplers import mala
from scorematch.samplers.chains import run_chains
from scorematch.samplers.diagnostics import effective_sample_size, split_rhat
from scorematch.samplers.named import draw


def _ar1(rho, n=2000, chains=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    e = torch.randn(n, chains, generator=g)
    x = torch.empty(n, chains)
    x[0] = e[0]
    for t in range(1, n):
        x[t] = rho * x[t - 1] + math.sqrt(1 - rho**2) * e[t]
    return x


@pytest.mark.parametrize(("rho", "tol"), [(0.0, 0.1), (0.5, 0.12), (0.9, 0.2)])
def test_ess_of_ar1_chains_matches_n_times_1_minus_rho_over_1_plus_rho(rho, tol):
    x = _ar1(rho)
    truth = x.numel() * (1 - rho) / (1 + rho)
    assert abs(effective_sample_size(x).item() / truth - 1) < tol
    assert split_rhat(x).item() < 1.01 + 0.02 * rho   # R̂'s own noise grows as the ESS per chain falls


def test_rhat_flags_chains_in_different_places_or_of_different_scales():
    x = _ar1(0.5, n=400)
    assert split_rhat(x + torch.arange(8.0)).item() > 1.5                       # locations differ
    assert split_rhat(x * torch.tensor([1.0] * 4 + [4.0] * 4)).item() > 1.01     # only scales differ: the folded R̂
    drift = x + torch.linspace(0, 3, 400).unsqueeze(1)                            # not stationary: split halves differ
    assert split_rhat(drift).item() > 1.1


def test_several_quantities_and_ties():
    x = torch.stack([_ar1(0.3, n=200), torch.zeros(200, 8).bernoulli_(0.5)], -1)   # a 0/1 quantity: all ties
    r, ess = split_rhat(x), effective_sample_size(x)
    assert r.shape == (2,) and ess.shape == (2,) and torch.isfinite(r).all() and (r < 1.05).all()


def test_a_sampler_stuck_in_its_modes_is_flagged_and_smc_is_not():
    """MALA chains started in both of two far-apart modes never cross: R̂ flags them, the draw says so; SMC on the
    same energy gives the 0.2 / 0.8 weights and no warning."""
    target = GaussianMixture(torch.tensor([0.2, 0.8]), torch.tensor([[-2.5, 0.0], [2.5, 0.0]]),
                             0.25**2 * torch.eye(2).expand(2, 2, 2))
    model = Energy(lambda x: -target.log_prob(x))
    g = torch.Generator().manual_seed(0)
    x0 = target.sample(400, g)
    stuck = run_chains(mala(model, 0.05), x0, 300, generator=g)
    assert stuck.rhat > 1.2 and 0.3 < stuck.accept_prob < 1
    x, report = draw("mala", model, 400, (2,), steps=300)
    assert not report["trusted"] and any("not mixed" in w for w in report["warnings"])
    x, report = draw("smc", model, 2000, (2,))
    assert report["trusted"] and report["warnings"] == [] and abs((x[:, 0] < 0).double().mean() - 0.2) < 0.03


def test_too_few_draws_are_refused():
    with pytest.raises(ValueError, match="n >= 4"):
        split_rhat(torch.zeros(3, 2))
