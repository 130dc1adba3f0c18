"""Several iid observations from a single-observation posterior score: the diffused prior's score against
quadrature and autograd, and the Gaussian-weighted composition against the closed-form diffused posterior."""

import math

import pytest
import torch
from torch.distributions import Gamma, Independent, MultivariateNormal, Uniform

from scorematch.sbi import diffused_prior_score, takes_iid
from scorematch.sbi.npse_iid import compose

F64 = torch.float64


def _box_log_density(z: float, a: float, b: float, sigma: float) -> float:
    """log ∫_a^b N(z − u; 0, σ²) du / (b − a) by the trapezoidal rule on 200001 points."""
    u = torch.linspace(a, b, 200001, dtype=F64)
    dens = torch.exp(-0.5 * ((z - u) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    return math.log(float(torch.trapezoid(dens, u)) / (b - a))


@pytest.mark.parametrize("z, sigma", [(0.3, 0.5), (0.95, 0.05), (-0.99, 0.01), (0.0, 3.0), (0.999, 0.002)])
def test_diffused_box_prior_score_matches_quadrature(z, sigma):
    """A box [-1, 1] standardized by mean 0.5 and sd 2 (so [-0.75, 0.25] in z) diffused by σ: the score against a
    central difference of the quadrature's log-density, to 1e-4 relative."""
    prior = Independent(Uniform(-torch.ones(1, dtype=F64), torch.ones(1, dtype=F64)), 1)
    mean, sd = torch.tensor([0.5], dtype=F64), torch.tensor([2.0], dtype=F64)
    score = diffused_prior_score(prior, mean, sd)
    zz = (z - 0.5) / 2  # the point in standardized units
    a, b = -0.75, 0.25
    h = 1e-4 * sigma
    expect = (_box_log_density(zz + h, a, b, sigma) - _box_log_density(zz - h, a, b, sigma)) / (2 * h)
    got = float(score(torch.tensor([[zz]], dtype=F64), sigma))
    assert got == pytest.approx(expect, rel=1e-4, abs=1e-6)


def test_diffused_box_prior_score_is_finite_far_inside_and_zero_outside():
    """At σ = 10⁻³ the tails underflow in the naive difference Φ(u) − Φ(l): the score stays finite (zero at the
    centre, large and inward at the edge) and is left out beyond the box."""
    prior = Independent(Uniform(torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64)), 1)
    score = diffused_prior_score(prior, torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64))
    z = torch.tensor([[0.5, 0.5], [1e-4, 0.9999], [1.2, -0.3]], dtype=F64)
    s = score(z, 1e-3)
    assert torch.isfinite(s).all()
    assert s[0].abs().max() < 1e-8
    assert s[1, 0] > 100 and s[1, 1] < -100        # pushed inward at both edges
    assert torch.equal(s[2], torch.zeros(2, dtype=F64))


def test_diffused_gaussian_prior_score_matches_autograd():
    """N(m, C) standardized by (μ, s) and diffused by σ is N((m − μ)/s, C/(s sᵀ) + σ² I): the score against
    autograd of that density's log_prob."""
    g = torch.Generator().manual_seed(0)
    root = torch.randn(3, 3, generator=g, dtype=F64)
    cov = root @ root.T + 0.5 * torch.eye(3, dtype=F64)
    m = torch.randn(3, generator=g, dtype=F64)
    mu, sd = torch.tensor([0.1, -0.2, 0.3], dtype=F64), torch.tensor([1.5, 0.7, 2.0], dtype=F64)
    score = diffused_prior_score(MultivariateNormal(m, cov), mu, sd)
    z = torch.randn(5, 3, generator=g, dtype=F64).requires_grad_(True)
    for sigma in (0.01, 1.0, 4.0):
        law = MultivariateNormal((m - mu) / sd, cov / sd[:, None] / sd[None, :] + sigma**2 * torch.eye(3, dtype=F64))
        expect = torch.autograd.grad(law.log_prob(z).sum(), z)[0]
        assert torch.allclose(score(z.detach(), sigma), expect, atol=1e-10)


def test_priors_without_a_known_diffused_score_are_refused():
    gamma = Independent(Gamma(torch.ones(2, dtype=F64), torch.ones(2, dtype=F64)), 1)
    assert not takes_iid(gamma) and takes_iid(MultivariateNormal(torch.zeros(2), torch.eye(2)))
    with pytest.raises(ValueError, match="box-uniform and Gaussian priors; this prior is a Gamma"):
        diffused_prior_score(gamma, torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64))


def test_gaussian_weighted_composition_is_the_exact_diffused_posterior_score():
    """Prior N(0, c I), k Gaussian single posteriors N(mᵢ, vᵢ I) (so that their product over the prior^(k−1) is
    N(M, V I) with 1/V = Σ 1/vᵢ − (k − 1)/c): given the exact diffused scores and precisions, the weighted
    composition equals −(z − M)/(V + σ²) at every σ to 1e-10; the plain sum only as σ → 0."""
    g = torch.Generator().manual_seed(1)
    k, p, c = 5, 3, 1.0
    v = torch.tensor([0.4, 0.5, 0.6, 0.45, 0.55], dtype=F64)
    mi = 0.3 * torch.randn(k, p, generator=g, dtype=F64)
    prec = (1 / v).sum() - (k - 1) / c
    big_v = 1 / prec
    big_m = big_v * (mi / v[:, None]).sum(0)
    z = torch.randn(7, p, generator=g, dtype=F64)
    precisions = (torch.eye(p, dtype=F64)[None] / v[:, None, None], torch.eye(p, dtype=F64) / c)
    for sigma in (1e-3, 0.1, 1.0, 10.0):
        singles = torch.stack([-(z - mi[i]) / (v[i] + sigma**2) for i in range(k)])
        prior = -z / (c + sigma**2)
        exact = -(z - big_m) / (big_v + sigma**2)
        assert torch.allclose(compose(singles, prior, sigma, precisions), exact, atol=1e-10)
        plain = compose(singles, prior, sigma)
        assert torch.allclose(plain, exact, atol=1e-3 * float(exact.abs().max())) == (sigma < 0.01)
