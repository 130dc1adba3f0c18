"""Fisher divergence against closed forms on Gaussians; inputs as tensors, callables, Energy and Score."""

import pytest
import torch

from scorematch import Energy, Score
from scorematch.losses import explicit
from scorematch.metrics import fisher_divergence, relative_fisher_divergence

from tolerances import assert_close


def _gaussian(d, g):
    a = torch.randn(d, d, generator=g)
    p, mu = a @ a.T + 0.5 * torch.eye(d), torch.randn(d, generator=g)
    energy = Energy(lambda x: 0.5 * (((x - mu) @ p) * (x - mu)).sum(-1))
    return p, mu, energy


def _sample(p, mu, n, g):
    cov_chol = torch.linalg.cholesky(torch.linalg.inv(p))
    return mu + torch.randn(n, len(mu), generator=g) @ cov_chol.T


def test_exact_score_has_zero_divergence_whatever_the_form():
    g = torch.Generator().manual_seed(0)
    p, mu, energy = _gaussian(3, g)
    x = _sample(p, mu, 100, g)
    exact = -(x - mu) @ p
    for model in (exact, Score(lambda z: -(z - mu) @ p), lambda z: -(z - mu) @ p, energy):
        assert_close(fisher_divergence(model, energy, x), torch.tensor(0.0))
        assert_close(relative_fisher_divergence(model, exact, x), torch.tensor(0.0))


def test_shifted_mean_gives_squared_precision_times_shift_at_every_point():
    # s(x) = -P(x - μ - δ), s*(x) = -P(x - μ): s - s* = Pδ everywhere, so F = ‖Pδ‖² exactly
    g = torch.Generator().manual_seed(1)
    p, mu, energy = _gaussian(4, g)
    delta = torch.randn(4, generator=g)
    x = _sample(p, mu, 50, g)
    model = Score(lambda z: -(z - mu - delta) @ p)
    assert_close(fisher_divergence(model, energy, x), (p @ delta).square().sum())


def test_relative_divergence_of_a_scaled_score_is_the_squared_scale_error():
    # s = c s*: Σ‖(c-1)s*‖² / Σ‖s*‖² = (c-1)² exactly, on any points
    g = torch.Generator().manual_seed(2)
    p, mu, energy = _gaussian(3, g)
    x = _sample(p, mu, 30, g)
    assert_close(relative_fisher_divergence(lambda z: 0.25 * energy.score(z), energy, x), torch.tensor(0.5625))
    assert_close(relative_fisher_divergence(torch.zeros_like(x), energy, x), torch.tensor(1.0))


def test_no_half_twice_the_explicit_loss_difference_estimates_it():
    # E_p[explicit(s)] - E_p[explicit(s*)] = ½ E_p‖s - s*‖² (Stein's identity), so F = 2 × that difference
    g = torch.Generator().manual_seed(3)
    n, delta = 400_000, torch.tensor([1.0, -0.5])
    x = torch.randn(n, 2, generator=g)
    target, model = Score(lambda z: -z), Score(lambda z: -(z - delta))
    diff = 2 * (explicit(model, x) - explicit(target, x))
    f = fisher_divergence(model, target, x)
    assert_close(f, delta.square().sum())
    assert abs(diff.mean() - f) < 4 * diff.std() / n**0.5


def test_image_shaped_events():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(10, 2, 3, 3, generator=g)
    assert_close(fisher_divergence(lambda z: -z + 1.0, lambda z: -z, x), torch.tensor(18.0))


@pytest.mark.parametrize(
    ("score", "x", "match"),
    [
        (torch.zeros(5, 3), torch.randn(5, 2), r"shape of (the points|its input)"),
        (lambda z: z[:, :1], torch.randn(5, 2), r"shape of (the points|its input)"),
        (lambda z: z, torch.tensor([[0.0, float("nan")]]), "x contains NaN"),
        (lambda z: z * float("inf"), torch.ones(3, 2), "score contains NaN or infinite"),
        (lambda z: z, torch.zeros(0, 2), "at least 1 samples"),
        (lambda z: z, torch.zeros(4), r"shape \(n, \*event\)"),
    ],
)
def test_bad_inputs_raise_one_line_value_errors(score, x, match):
    with pytest.raises(ValueError, match=match):
        fisher_divergence(score, lambda z: -z, x)


def test_zero_target_and_non_callable_are_rejected():
    x = torch.randn(4, 2)
    with pytest.raises(ValueError, match="target score is zero"):
        relative_fisher_divergence(-x, torch.zeros_like(x), x)
    with pytest.raises(TypeError, match="score"):
        fisher_divergence(3.0, -x, x)
