"""The probability-flow likelihood against closed forms: a Gaussian mixture diffused by a linear SDE is a Gaussian
mixture at every t (``diffused_mixture``), so with its exact score in the ODE the log-likelihood must equal the
mixture's log-density at t0 to the solver's tolerance, in 2-D and 16-D; Hutchinson's estimate must agree within its
stated standard error."""

import math

import pytest
import torch

from scorematch import Score
from scorematch.diffusion import VE, VP, SubVP
from scorematch.diffusion.likelihood import log_likelihood, sigma_conditioned
from scorematch.diffusion.marginals import diffused_mixture, time_score
from scorematch.models import Gaussian, GaussianMixture


def mixture(d: int, seed: int = 0) -> GaussianMixture:
    g = torch.Generator().manual_seed(seed)
    means = 3 * torch.randn(3, d, generator=g, dtype=torch.float64)
    a = torch.randn(3, d, d, generator=g, dtype=torch.float64) / math.sqrt(d)
    covs = 0.3 * a @ a.mT + 0.2 * torch.eye(d, dtype=torch.float64)
    return GaussianMixture([0.2, 0.3, 0.5], means, covs)


@pytest.mark.parametrize("d", [2, 16])
@pytest.mark.parametrize("sde", [VP(), VE(0.01, 20.0), SubVP()], ids=repr)
def test_with_the_exact_score_the_ode_gives_the_mixture_s_log_density(sde, d):
    p0, t0 = mixture(d), 1e-3
    x = diffused_mixture(p0, sde, t0).sample(20, generator=torch.Generator().manual_seed(1))
    out = log_likelihood(time_score(p0, sde), x, sde, t0=t0, terminal_log_prob=diffused_mixture(p0, sde, 1.0).log_prob,
                         rtol=1e-7, atol=1e-7)
    exact = diffused_mixture(p0, sde, t0).log_prob(x)
    assert (out.log_prob - exact).abs().max() < 1e-4 * d, (out.log_prob - exact).abs().max()
    assert out.nfe > 10 and (out.se == 0).all()


def test_the_prior_stands_in_for_the_terminal_law_where_the_sde_reaches_it():
    sde, p0 = VP(), mixture(2)
    x = p0.sample(50, generator=torch.Generator().manual_seed(2))
    out = log_likelihood(time_score(p0, sde), x, sde, t0=1e-3)       # ends at N(0, I): VP's x_1 is within 1e-2
    assert (out.log_prob - diffused_mixture(p0, sde, 1e-3).log_prob(x)).abs().max() < 0.05


def test_hutchinson_agrees_within_its_standard_error():
    a = torch.randn(10, 10, generator=torch.Generator().manual_seed(5))   # correlated: Rademacher probes vary
    sde, p0 = VP(), Gaussian(torch.zeros(10), 0.1 * a @ a.T + 0.1 * torch.eye(10))
    x = p0.sample(40, generator=torch.Generator().manual_seed(3))
    end = diffused_mixture(p0, sde, 1.0).log_prob
    exact = log_likelihood(time_score(p0, sde), x, sde, t0=1e-3, terminal_log_prob=end).log_prob
    est = log_likelihood(time_score(p0, sde), x, sde, t0=1e-3, terminal_log_prob=end, divergence="hutchinson",
                         n_probes=16, generator=torch.Generator().manual_seed(4))
    assert (est.se > 0).all()
    z = (est.log_prob - exact) / est.se
    assert z.abs().max() < 5 and 0.3 < z.square().mean() < 2.0, z   # standardized errors of about unit size


def test_a_sigma_conditioned_model_is_read_at_the_kernel_s_sigma():
    sde, s2 = VE(0.01, 10.0), 2.0
    model = Score(lambda x, sigma: -x / (s2 + sigma[:, None] ** 2))   # N(0, s² I) data: the exact VE marginal score
    x = torch.randn(10, 2, dtype=torch.float64)
    out = log_likelihood(sigma_conditioned(model, sde), x, sde, t0=1e-3,
                         terminal_log_prob=Gaussian(torch.zeros(2), (s2 + float(sde.std(torch.tensor(1.0))) ** 2)
                                                    * torch.eye(2)).log_prob, rtol=1e-7, atol=1e-7)
    expected = Gaussian(torch.zeros(2), (s2 + float(sde.std(torch.tensor(1e-3))) ** 2) * torch.eye(2)).log_prob(x)
    assert torch.allclose(out.log_prob, expected, atol=1e-4)


def test_bad_options_are_refused():
    x = torch.zeros(2, 2)
    with pytest.raises(ValueError, match="divergence"):
        log_likelihood(lambda z, t: -z, x, VP(), divergence="nope")
    with pytest.raises(ValueError, match="t0"):
        log_likelihood(lambda z, t: -z, x, VP(), t0=2.0)


def test_one_probe_gives_no_standard_error_rather_than_a_zero_one():
    from scorematch.diffusion import VP, log_likelihood

    x = torch.zeros(3, 2, dtype=torch.float64)
    one = log_likelihood(lambda z, t: -z, x, VP(), divergence="hutchinson", n_probes=1,
                         generator=torch.Generator().manual_seed(0))
    exact = log_likelihood(lambda z, t: -z, x, VP())
    assert torch.isnan(one.se).all() and (exact.se == 0).all()


def test_beyond_prior_flags_no_prior_draw_and_every_point_an_over_sharp_score_throws_out():
    """No draw of the prior is flagged (10⁵ per dimension; the rule's chance is below 1e-12). A score far sharper
    than the data's at small noise (an overfitted network's, −2x/σ(t)²) makes the forward ODE expand like
    (t/t₀) and carries the end points far out, and they are flagged; the right score's are not."""
    from scorematch.diffusion import VE, VP
    from scorematch.diffusion.likelihood import beyond_prior

    g = torch.Generator().manual_seed(0)
    for sde in (VP(), VE(0.01, 5.0)):
        for d in (1, 2, 16, 64):
            assert not beyond_prior(sde.prior_sample((100000, d), generator=g, dtype=torch.float64), sde).any()
    sde = VP()

    def over_sharp(x, t):
        return -2 * x / sde.std(t) ** 2

    out = log_likelihood(over_sharp, torch.full((3, 2), 0.5, dtype=torch.float64), sde, t0=1e-3)
    assert beyond_prior(out.x1, sde).all()
    fine = log_likelihood(lambda x, t: -x, torch.full((3, 2), 0.5, dtype=torch.float64), sde, t0=1e-3)
    assert not beyond_prior(fine.x1, sde).any()
