"""The score estimators with no network: the KDE score against its closed form and against denoising score
matching's optimum, the Stein estimator's out-of-sample rule against the augmented solve, the error of each falling
with the sample size at the stated rate, and each used where a score model is."""

import math

import pytest
import torch

from scorematch.baselines import KDEScore, SpectralSteinScore, SteinScore
from scorematch.metrics import relative_fisher_divergence
from scorematch.samplers.named import draw

COV = [[1.0, 0.5], [0.5, 2.0]]


def _gaussian(n, seed):
    cov = torch.tensor(COV)
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)) @ torch.linalg.cholesky(cov).T


def _true_score(x):
    return -x @ torch.linalg.inv(torch.tensor(COV))


def test_the_kde_score_is_the_score_of_the_smoothed_empirical_law():
    """∇ log of (1/n)Σ N(x; xᵢ, σ²I), built from torch.distributions and differentiated by autograd."""
    x, sigma = _gaussian(50, 0), 0.3
    law = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(50)),
        torch.distributions.Independent(torch.distributions.Normal(x, sigma), 1))
    q = (3 * torch.randn(40, 2, generator=torch.Generator().manual_seed(1))).requires_grad_()
    expected = torch.autograd.grad(law.log_prob(q).sum(), q)[0]
    estimator = KDEScore(x, bandwidth=sigma)
    torch.testing.assert_close(estimator.score(q.detach()), expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(estimator.log_density(q.detach()), law.log_prob(q).detach(), rtol=1e-12, atol=1e-12)


def test_the_kde_score_is_the_optimum_of_denoising_score_matching_on_the_sample():
    """DSM at σ on n points: E‖s(xᵢ + σε) + ε/σ‖² is minimal where E[h(x̃)·(s(x̃) − (xᵢ − x̃)/σ²)] = 0 for every
    test function h; with the KDE score this holds to Monte-Carlo error (10⁶ draws, 5 standard errors)."""
    x, sigma = torch.tensor([[-1.0], [0.2], [1.5]]), 0.5
    estimator = KDEScore(x, bandwidth=sigma)
    g = torch.Generator().manual_seed(0)
    i = torch.randint(0, 3, (10**6,), generator=g)
    noisy = x[i] + sigma * torch.randn(10**6, 1, generator=g)
    residual = (estimator.score(noisy) - (x[i] - noisy) / sigma**2).squeeze(1)
    for h in (noisy.squeeze(1), torch.sin(3 * noisy.squeeze(1)), torch.ones(10**6)):
        terms = h * residual
        assert abs(float(terms.mean())) < 5 * float(terms.std()) / 1000


def test_the_stein_estimator_out_of_sample_is_the_estimate_on_the_augmented_sample():
    x = _gaussian(60, 0)
    estimator = SteinScore(x, eta=0.05)
    q = torch.tensor([[0.3, -1.2], [2.0, 1.0]])
    for row in range(2):
        augmented = SteinScore(torch.cat([x, q[row:row + 1]]), bandwidth=estimator.bandwidth, eta=0.05)
        torch.testing.assert_close(estimator.score(q[row:row + 1])[0], augmented.at_samples()[-1],
                                   rtol=1e-9, atol=1e-9)


def _error(cls, n, reps=3):
    test = _gaussian(2000, 99)
    truth = _true_score(test)
    return sum(float(relative_fisher_divergence(cls(_gaussian(n, rep)).score(test), truth, test))
               for rep in range(reps)) / reps


@pytest.mark.parametrize("cls, slope", [(KDEScore, -0.15), (SteinScore, -0.3), (SpectralSteinScore, -0.3)])
def test_the_error_falls_with_the_sample_size(cls, slope):
    """Relative Fisher divergence on a 2-D Gaussian at n = 100 and 1600 (3 samples each): measured slopes of
    log-error against log n are about −0.25 for the KDE score at Scott's bandwidth (theory: −1/3, the variance
    term n⁻¹σ⁻⁽ᴰ⁺²⁾ with σ ∝ n^(−1/6)), −0.65 for the Stein and −0.57 for the spectral Stein estimator; the test
    asks for at most ``slope``."""
    small, large = _error(cls, 100), _error(cls, 1600)
    measured = math.log(large / small) / math.log(16)
    assert measured < slope, (cls.__name__, small, large, measured)


@pytest.mark.parametrize("cls", [KDEScore, SteinScore, SpectralSteinScore])
def test_an_estimator_is_a_score_model_for_the_samplers(cls):
    """Langevin on an estimated score has the right spread: for the KDE, its own law's covariance Σ̂ + h²I (the data's
    plus the kernel's, 10%); for the Stein estimators (no closed form at n = 400), the truth's within 30% (relative
    Frobenius) and its correlation 0.35 within 0.1."""
    x = _gaussian(400, 0)
    estimator = cls(x)
    samples, report = draw("langevin", estimator, 400, (2,), steps=200, step_size=0.05, seed=0)
    assert samples.shape == (400, 2) and report["nonfinite"] == 0
    cov = torch.cov(samples.double().T)
    if cls is KDEScore:
        expected = torch.cov(x.T) + estimator.bandwidth**2 * torch.eye(2)
        assert float((cov - expected).norm() / expected.norm()) < 0.1
    else:
        expected = torch.tensor(COV)
        assert float((cov - expected).norm() / expected.norm()) < 0.3
        assert float(cov[0, 1] / (cov[0, 0] * cov[1, 1]).sqrt()) == pytest.approx(0.5 / 2**0.5, abs=0.1)


def test_estimators_refuse_bad_samples():
    with pytest.raises(ValueError, match="n >= 2"):
        KDEScore(torch.zeros(1, 2))
    with pytest.raises(ValueError, match="NaN"):
        SteinScore(torch.tensor([[0.0, 1.0], [math.nan, 0.0]]))
    with pytest.raises(ValueError, match="event shape"):
        KDEScore(torch.randn(5, 2)).score(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="event shape"):
        KDEScore(torch.randn(5, 2)).log_density(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="max_points must be an integer >= 2"):
        KDEScore(torch.randn(5, 2), max_points=1)
    with pytest.raises(ValueError, match="n_eigen must be an integer >= 1"):
        SpectralSteinScore(torch.randn(20, 2), n_eigen=0)


def test_spectral_stein_never_divides_by_round_off_eigenvalues():
    """With the whole spectrum asked for, the eigenvalues at round-off are left out: the estimate stays of the size
    of the true score (|s| ≲ 5 on these points), instead of growing like 1/λ."""
    x = _gaussian(60, 0)
    est = SpectralSteinScore(x, spectrum=1.0)
    assert est.n_eigen < 60 and float(est.score(x).abs().max()) < 20


def test_the_kde_score_is_differentiable_for_the_held_out_criterion():
    """The divergence of the KDE score by autograd through ``score`` equals the Laplacian of ``log_density`` (autograd
    twice), so the held-out Hyvärinen loss of an estimator needs no truth."""
    from scorematch import Score
    from scorematch.metrics import hyvarinen_loss

    est = KDEScore(_gaussian(30, 0), bandwidth=0.5)
    q = torch.randn(6, 2, generator=torch.Generator().manual_seed(2))
    z = q.clone().requires_grad_()
    grad = torch.autograd.grad(est.log_density(z).sum(), z, create_graph=True)[0]
    laplacian = sum(torch.autograd.grad(grad[:, i].sum(), z, retain_graph=True)[0][:, i] for i in range(2))
    expected = 0.5 * grad.detach().square().sum(1) + laplacian.detach()
    torch.testing.assert_close(hyvarinen_loss(Score(est), q), expected, rtol=1e-10, atol=1e-10)
