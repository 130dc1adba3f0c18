"""Analytic targets: closed-form scores against autograd, normalisation by quadrature, agreement with
torch.distributions, exact sampling checked by moments (in standard errors) and a radial KS test."""

import math

import numpy as np
import pytest
import torch
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from scorematch import Energy, Score
from scorematch.models.analytic import (
    ANALYTIC,
    Gaussian,
    GaussianMixture,
    RingMixture,
    circles,
    eight_gaussians,
    ncsn_toy,
    rings,
)

from tolerances import assert_close


def _spd(d, g):
    a = torch.randn(d, d, generator=g)
    return a @ a.T + 0.5 * torch.eye(d)


def _gaussian():
    g = torch.Generator().manual_seed(0)
    return Gaussian(torch.randn(3, generator=g), _spd(3, g))


def _gmm(d):
    g = torch.Generator().manual_seed(d)
    covs = torch.stack([_spd(d, g) / 4 for _ in range(3)])
    return GaussianMixture(torch.tensor([0.5, 0.3, 0.2]), 2 * torch.randn(3, d, generator=g), covs)


TARGETS = {  # name: (factory, grid half-width, grid spacing) — the grid only for 2-D targets
    "gaussian": (_gaussian, None, None),
    "gmm-3d": (lambda: _gmm(3), None, None),
    "gmm-2d": (lambda: _gmm(2), 10.0, 0.04),
    "8gaussians": (eight_gaussians, 4.0, 0.02),
    "ncsn_toy": (ncsn_toy, 14.0, 0.05),
    "rings": (rings, 4.0, 0.02),
    "circles": (circles, 3.0, 0.01),
    # a ring at the origin, one narrower than its radius is far from 0 (the erf term matters), per-ring widths
    "ring-mixture": (lambda: RingMixture([0.0, 0.5, 2.0], [0.2, 0.3, 0.5], [0.3, 0.4, 0.1]), 4.0, 0.01),
}
GRID = [name for name, (_, half, _) in TARGETS.items() if half is not None]
RINGS = ["rings", "circles", "ring-mixture"]


def _points(target, seed=1):
    """Samples and broad points around the mean (never the origin: probability 0)."""
    g = torch.Generator().manual_seed(seed)
    spread = 3 * torch.randn(64, target.dim, generator=g) + target.mean
    return torch.cat([target.sample(64, generator=g), spread])


def _grid(half, h):
    t = torch.arange(-half + h / 2, half, h)                       # midpoints
    xx, yy = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], -1), h * h


@pytest.mark.parametrize("name", list(TARGETS))
def test_score_equals_autograd_of_log_prob(name):
    target = TARGETS[name][0]()
    x = _points(target).requires_grad_(True)
    (grad,) = torch.autograd.grad(target.log_prob(x).sum(), x)
    assert_close(target.score(x.detach()), grad)
    assert_close(Energy(target.energy).score(x.detach()), target.score(x.detach()))
    assert_close(Score(target.score).score(x.detach()), target.score(x.detach()))
    assert_close(target.energy(x.detach()), -target.log_prob(x.detach()))


@pytest.mark.parametrize("name", GRID)
def test_density_integrates_to_one_and_to_its_moments(name):
    factory, half, h = TARGETS[name]
    target = factory()
    x, area = _grid(half, h)
    p = target.log_prob(x).exp() * area
    # midpoint rule: spectrally accurate for these smooth, well-resolved densities; the cone of a ring
    # mixture at the origin (a kink) costs O(h³)
    assert abs(p.sum().item() - 1) < 1e-7
    mean = p @ x
    assert_close(mean, target.mean, atol=1e-9, rtol=0)
    centred = x - mean
    assert_close((p[:, None] * centred).T @ centred, target.cov, atol=1e-9, rtol=0)


def test_gaussian_and_mixture_log_prob_equal_torch_distributions():
    g = torch.Generator().manual_seed(3)
    x = 2 * torch.randn(50, 3, generator=g)
    gauss = _gaussian()
    assert_close(gauss.log_prob(x), MultivariateNormal(gauss.mean, gauss.cov).log_prob(x))
    gmm = _gmm(3)
    reference = MixtureSameFamily(Categorical(probs=gmm.weights), MultivariateNormal(gmm.means, gmm.covs))
    assert_close(gmm.log_prob(x), reference.log_prob(x))
    precision = torch.linalg.inv(gauss.cov)
    same = Gaussian(gauss.mean, precision=precision)
    assert_close(same.log_prob(x), gauss.log_prob(x), rtol=1e-9, atol=1e-9)
    assert_close(same.score(x), -(x - gauss.mean) @ precision, rtol=1e-9, atol=1e-9)


def test_far_from_every_component_log_prob_and_score_stay_exact():
    toy = ncsn_toy()
    for centre, log_w in (((5.0, 5.0), math.log(0.8)), ((-5.0, -5.0), math.log(0.2))):
        x = 60 * torch.tensor([centre])                          # exp(log N) underflows: needs log-sum-exp
        expected = log_w - 0.5 * (x - torch.tensor(centre)).square().sum(-1) - math.log(2 * math.pi)
        assert_close(toy.log_prob(x), expected)
        assert_close(toy.score(x), -(x - torch.tensor(centre)))
    ring = rings()
    x = torch.tensor([[60.0, 80.0]])                             # radius 100: only the outer ring counts
    assert_close(ring.score(x), (3.0 - 100.0) / 0.08**2 * torch.tensor([[0.6, 0.8]]))


def test_ring_score_is_zero_at_the_origin_and_bounded_near_it():
    ring = RingMixture([1.0], [1.0], 0.5)
    origin = torch.zeros(1, 2)
    assert torch.equal(ring.score(origin), torch.zeros(1, 2))
    assert torch.isfinite(ring.log_prob(origin)).all()
    near = torch.tensor([[1e-12, 0.0]])                           # the one-sided slope R/s² = 4 along x/‖x‖
    assert_close(ring.score(near), torch.tensor([[4.0, 0.0]]), rtol=1e-9, atol=1e-9)


def _assert_moments(target, n, seed, z=4.5):
    """Sample mean and covariance within ``z`` standard errors (estimated from the sample) of the truth."""
    x = target.sample(n, generator=torch.Generator().manual_seed(seed))
    assert x.shape == (n, target.dim) and torch.isfinite(x).all()
    mean_err = (x.mean(0) - target.mean) / (target.cov.diagonal() / n).sqrt()
    assert mean_err.abs().max() < z, mean_err
    c = x - target.mean
    products = c[:, :, None] * c[:, None, :]
    cov_err = (products.mean(0) - target.cov) / (products.std(0) / math.sqrt(n))
    assert cov_err.abs().max() < z, cov_err


@pytest.mark.parametrize("name", list(TARGETS))
def test_samples_match_mean_and_covariance(name):
    _assert_moments(TARGETS[name][0](), 100_000, seed=4)


@pytest.mark.parametrize("name", RINGS)
def test_ring_radius_has_the_exact_distribution(name):
    target, n = TARGETS[name][0](), 100_000
    x = target.sample(n, generator=torch.Generator().manual_seed(5))
    radius, angle = x.norm(dim=-1), torch.atan2(x[:, 1], x[:, 0])
    # radial density 2πr p(r, 0), integrated numerically (trapezoid) from the normalised log_prob
    r = torch.linspace(0, float((target.radii + 12 * target.width).max()), 200_001)
    f = 2 * math.pi * r * target.log_prob(torch.stack([r, torch.zeros_like(r)], -1)).exp()
    cdf = torch.cat([torch.zeros(1), torch.cumulative_trapezoid(f, r)])
    assert abs(cdf[-1].item() - 1) < 1e-8
    mean_radius = torch.trapezoid(r * f, r)
    assert abs(radius.mean() - mean_radius) < 4.5 * radius.std() / math.sqrt(n)
    # Kolmogorov–Smirnov: √n·sup|F − F_n| < 1.95 at level 0.001
    model_cdf = torch.from_numpy(np.interp(radius.sort().values.numpy(), r.numpy(), cdf.numpy()))
    steps = torch.arange(1, n + 1) / n
    ks = torch.maximum((model_cdf - steps).abs(), (model_cdf - steps + 1 / n).abs()).max()
    assert math.sqrt(n) * ks < 1.95, ks
    # the angle is uniform: its first two Fourier coefficients vanish
    for coefficient in (angle.cos(), angle.sin(), (2 * angle).cos(), (2 * angle).sin()):
        assert abs(coefficient.mean()) < 4.5 * math.sqrt(0.5 / n)


def test_ring_weights_are_probabilities_of_the_rings():
    target, n = RingMixture([1.0, 3.0], [0.25, 0.75], 0.1), 40_000
    radius = target.sample(n, generator=torch.Generator().manual_seed(6)).norm(dim=-1)
    share = (radius > 2).double().mean().item()
    assert abs(share - 0.75) < 4.5 * math.sqrt(0.75 * 0.25 / n)


@pytest.mark.parametrize("name", list(TARGETS))
def test_same_seed_same_samples_different_seed_different(name):
    target = TARGETS[name][0]()
    a = target.sample(500, generator=torch.Generator().manual_seed(7))
    b = target.sample(500, generator=torch.Generator().manual_seed(7))
    c = target.sample(500, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("name", list(TARGETS))
def test_dtype_follows_the_input_and_to_moves_the_parameters(name):
    target = TARGETS[name][0]()
    x = _points(target)
    assert target.sample(3).dtype == torch.float64
    x32 = x.float()
    assert target.log_prob(x32).dtype == torch.float32 and target.score(x32).dtype == torch.float32
    single = target.to(torch.float32)
    assert single.sample(3).dtype == torch.float32 and type(single) is type(target)
    assert_close(single.log_prob(x32), target.log_prob(x), rtol=1e-4, atol=1e-4)
    assert_close(single.score(x32), target.score(x), rtol=1e-4, atol=1e-3)


def test_factories_have_their_documented_parameters():
    e = eight_gaussians()
    assert e.means.dtype == torch.float64 and eight_gaussians(dtype=torch.float32).means.dtype == torch.float32
    assert_close(e.means.norm(dim=-1), torch.full((8,), 2.0))
    assert_close(torch.atan2(e.means[:, 1], e.means[:, 0]).remainder(2 * math.pi), torch.arange(8) * math.pi / 4)
    assert_close(e.covs, 0.04 * torch.eye(2).expand(8, 2, 2))
    assert_close(e.weights, torch.full((8,), 1 / 8))
    assert rings().radii.tolist() == [0.75, 1.5, 2.25, 3.0] and rings().width.tolist() == [0.08] * 4
    assert circles().radii.tolist() == [2.0, 1.0] and circles().weights.tolist() == [0.5, 0.5]
    toy = ncsn_toy()
    assert toy.weights.tolist() == [0.2, 0.8] and toy.means.tolist() == [[-5.0, -5.0], [5.0, 5.0]]
    assert torch.equal(toy.covs, torch.eye(2).expand(2, 2, 2))
    assert set(ANALYTIC) == {"8gaussians", "rings", "circles"}
    assert {name: type(f()) for name, f in ANALYTIC.items()} == {
        "8gaussians": GaussianMixture, "rings": RingMixture, "circles": RingMixture}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Gaussian([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]]), "positive definite"),
        (lambda: Gaussian([0.0, 0.0], [[1.0, 0.5], [0.0, 1.0]]), "symmetric"),
        (lambda: Gaussian([0.0, 0.0], torch.eye(3)), r"covs must have shape \(1, 2, 2\)"),
        (lambda: Gaussian([0.0], [[1.0]], precision=[[1.0]]), "exactly one of cov or precision"),
        (lambda: Gaussian([0.0, 0.0], precision=-torch.eye(2)), "precision must be"),
        (lambda: Gaussian([0.0, 0.0], precision=torch.eye(3)), r"precision must be a symmetric positive definite \(2, 2\)"),
        (lambda: Gaussian([float("nan")], [[1.0]]), "mean must be finite"),
        (lambda: GaussianMixture([1.0, -1.0], torch.zeros(2, 1), torch.ones(2, 1, 1)), "weights must be 2"),
        (lambda: GaussianMixture([0.0, 0.0], torch.zeros(2, 1), torch.ones(2, 1, 1)), "positive sum"),
        (lambda: RingMixture([1.0, -1.0], [1.0, 1.0], 0.1), "radii must be"),
        (lambda: RingMixture([1.0, 2.0], [1.0, 1.0], 0.0), "width must be > 0"),
        (lambda: RingMixture([1.0, 2.0], [1.0, 1.0], [0.1, 0.1, 0.1]), "one per ring"),
        (lambda: rings().log_prob(torch.zeros(4, 3)), r"x must have shape \(B, 2\)"),
        (lambda: rings().sample(0), "n must be an integer >= 1"),
    ],
)
def test_bad_parameters_raise_one_line_value_errors(build, message):
    with pytest.raises(ValueError, match=message) as info:
        build()
    assert "\n" not in str(info.value)
