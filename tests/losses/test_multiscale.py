"""Multi-scale denoising (NCSN): σ drawing, weighting, and the known loss of the exact noise-conditional score."""

import math

import pytest
import torch

from scorematch import Energy, Score
from scorematch.losses import denoising, draw_sigmas, multiscale_denoising
from scorematch.schedules import geometric_sigmas

from tolerances import assert_close


def test_geometric_ladder():
    ladder = geometric_sigmas(10.0, 0.01, 10)
    assert ladder.shape == (10,)
    assert_close(ladder[0], torch.tensor(10.0))
    assert_close(ladder[-1], torch.tensor(0.01))
    ratios = ladder[:-1] / ladder[1:]
    assert_close(ratios, torch.full((9,), 1000 ** (1 / 9)))


def test_sigmas_from_a_ladder_are_uniform_over_it():
    ladder = torch.tensor([1.0, 0.5, 0.25, 0.125])
    s = draw_sigmas(torch.zeros(40_000, 2), sigmas=ladder, generator=torch.Generator().manual_seed(0))
    counts = torch.stack([(s == v).sum() for v in ladder]).double()
    assert counts.sum() == 40_000
    assert (counts / 40_000 - 0.25).abs().max() < 0.01  # sd of a frequency ≈ 0.002


def test_sigmas_from_a_range_are_log_uniform():
    s = draw_sigmas(torch.zeros(40_000, 2), sigma_range=(0.01, 1.0), generator=torch.Generator().manual_seed(0))
    assert s.min() >= 0.01 and s.max() <= 1.0
    u = (s.log() - math.log(0.01)) / (math.log(1.0) - math.log(0.01))  # should be U(0, 1)
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005


@pytest.mark.parametrize("kind", ["energy", "score"])
def test_exact_conditional_score_attains_the_known_loss(kind):
    # data N(0, I_d); at noise σ the optimum is s(x̃, σ) = −x̃/(1+σ²) and ½E‖σ s + ε‖² = d / (2(1+σ²))
    d, n = 2, 200_000
    if kind == "score":
        field = Score(lambda z, sigma: -z / (1 + sigma[:, None] ** 2))
    else:
        field = Energy(lambda z, sigma: 0.5 * (z**2).sum(-1) / (1 + sigma**2))
    ladder = torch.tensor([2.0, 0.5])
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(2))
    values = multiscale_denoising(field, x, sigmas=ladder, generator=g)
    sig = draw_sigmas(x, sigmas=ladder, generator=torch.Generator().manual_seed(1))  # σ is drawn first
    for level in ladder:
        v = values[sig == level]
        expected = d / (2 * (1 + level**2))
        assert abs(v.mean() - expected) < 4 * v.std() / math.sqrt(v.numel())


def test_single_level_equals_sigma2_weighted_denoising():
    field = Score(lambda z, sigma: -z * (1 + sigma[:, None]))
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(3))
    eps = torch.randn(6, 3, generator=torch.Generator().manual_seed(4))
    ms = multiscale_denoising(field, x, sigmas=[0.3], noise=eps)
    plain = denoising(Score(lambda z: -z * 1.3), x, sigma=0.3, noise=eps, weighting="sigma2")
    assert_close(ms, plain)
    unweighted = multiscale_denoising(field, x, sigmas=[0.3], noise=eps, weighting="none")
    assert_close(unweighted, plain / 0.09)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(), "exactly one of sigmas"),
        (dict(sigmas=[1.0], sigma_range=(0.1, 1.0)), "exactly one of sigmas"),
        (dict(sigmas=[1.0, 0.0]), "every sigma must be finite and > 0"),
        (dict(sigmas=[]), "at least one noise level"),
        (dict(sigma_range=(1.0, 0.1)), "min <= max"),
        (dict(sigma_range=(0.0, 1.0)), "sigma_range min must be a finite number > 0"),
        (dict(sigma_range=0.5), "sigma_range must be a"),
        (dict(sigmas=[1.0], weighting="nope"), "unknown weighting"),
    ],
)
def test_bad_options_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        multiscale_denoising(Score(lambda z, s: -z), torch.randn(4, 3), **kwargs)


@pytest.mark.parametrize(
    ("args", "message"),
    [((0.0, 0.1, 3), "sigma_max"), ((1.0, 2.0, 3), "must not exceed"), ((1.0, 0.1, 0), "n must be"),
     ((1.0, 0.1, 1), "one level")],
)
def test_bad_ladders_raise_value_error(args, message):
    with pytest.raises(ValueError, match=message):
        geometric_sigmas(*args)
