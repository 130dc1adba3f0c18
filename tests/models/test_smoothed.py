"""The smoothed mixture: its score is autograd of its log density, σ → 0 gives the mixture itself, and it is the
law of mixture samples plus N(0, σ²I) noise."""

import torch

from scorematch.models.analytic import GaussianMixture, eight_gaussians
from scorematch.models.smoothed import SmoothedMixture

from tolerances import assert_close


def _mixture():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 2, 2, generator=g)
    return GaussianMixture([0.2, 0.5, 0.3], 3 * torch.randn(3, 2, generator=g), a @ a.mT + 0.1 * torch.eye(2))


def test_score_is_autograd_of_log_prob_with_one_sigma_per_sample():
    q = SmoothedMixture(_mixture())
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    sigma = torch.tensor([0.01, 0.1, 0.5, 1.0, 3.0, 10.0])
    (grad,) = torch.autograd.grad(q.log_prob(x, sigma).sum(), x)
    assert_close(q.score(x, sigma), grad)


def test_zero_noise_is_the_mixture():
    m = _mixture()
    q = SmoothedMixture(m)
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(2))
    assert_close(q.log_prob(x, 0.0), m.log_prob(x))
    assert_close(q.score(x, 0.0), m.score(x))


def test_matches_the_mixture_with_widened_covariances():
    m, sigma = eight_gaussians(dtype=torch.float64), 0.7
    wide = GaussianMixture(m.weights, m.means, m.covs + sigma**2 * torch.eye(2))
    x = 3 * torch.randn(7, 2, generator=torch.Generator().manual_seed(3))
    assert_close(SmoothedMixture(m).log_prob(x, sigma), wide.log_prob(x))
    assert_close(SmoothedMixture(m).score(x, sigma), wide.score(x))
