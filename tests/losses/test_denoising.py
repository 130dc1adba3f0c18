"""Denoising SM: exact expectation over ε by Gauss–Hermite quadrature, compared with explicit SM."""

import math

import numpy as np
import pytest
import torch

from scorematch import Energy, Score
from scorematch.losses import denoising, explicit

from gaussian import quadratic_energy
from nets import make_net
from tolerances import assert_close


def _expected_over_noise(field, x, sigma, nodes=40, **kwargs):
    """E_ε[denoising(x)] for 2-D x, exact up to quadrature error (tensor-product Gauss–Hermite)."""
    t, w = np.polynomial.hermite_e.hermegauss(nodes)  # weight exp(−t²/2)
    t, w = torch.tensor(t), torch.tensor(w / math.sqrt(2 * math.pi))
    e1, e2 = torch.meshgrid(t, t, indexing="ij")
    eps = torch.stack([e1.reshape(-1), e2.reshape(-1)], -1)          # (Q, 2)
    weight = (w[:, None] * w[None, :]).reshape(-1)                   # (Q,)
    q, b = eps.shape[0], x.shape[0]
    xs = x.repeat(q, 1)
    noise = eps.repeat_interleave(b, 0)
    values = denoising(field, xs, sigma=sigma, noise=noise, **kwargs).reshape(q, b)
    return (weight[:, None] * values).sum(0)


@pytest.mark.parametrize("kind", ["energy", "score"])
def test_denoising_minus_constant_tends_to_explicit(kind):
    field = (Energy if kind == "energy" else Score)(make_net(kind, (2,)))
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(0))
    exact = explicit(field, x)
    errors = []
    for sigma in (0.2, 0.1, 0.05):
        dsm = _expected_over_noise(field, x, sigma) - 2 / (2 * sigma**2)  # D/(2σ²), D = 2
        errors.append((dsm - exact).abs().max().item())
    # the gap is E[ESM(x+σε)] − ESM(x) = O(σ²): halving σ divides it by about 4
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[0] / errors[1] > 3 and errors[1] / errors[2] > 3, errors
    assert errors[2] < 1e-2


def test_gaussian_gap_is_half_sigma_squared_trace_p_squared():
    # E(x) = ½(x−μ)ᵀP(x−μ): E_ε[DSM] − D/(2σ²) − ESM(x) = ½ σ² tr(P²) exactly
    g = torch.Generator().manual_seed(1)
    a = torch.randn(2, 2, generator=g)
    p, mu = a @ a.T + torch.eye(2), torch.randn(2, generator=g)
    field = Energy(quadratic_energy(mu, p))
    x = torch.randn(6, 2, generator=g)
    for sigma in (0.5, 0.1):
        gap = _expected_over_noise(field, x, sigma, nodes=8) - 1 / sigma**2 - explicit(field, x)
        assert_close(gap, torch.full((6,), 0.5 * sigma**2 * torch.trace(p @ p).item()), atol=1e-9, rtol=1e-9)


def test_sigma2_weighting_multiplies_by_sigma_squared():
    field = Score(make_net("score", (3,)))
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(2))
    plain = denoising(field, x, sigma=0.3, generator=torch.Generator().manual_seed(0))
    weighted = denoising(field, x, sigma=0.3, weighting="sigma2", generator=torch.Generator().manual_seed(0))
    custom = denoising(field, x, sigma=0.3, weighting=lambda s: 2 * s, generator=torch.Generator().manual_seed(0))
    assert_close(weighted, 0.09 * plain)
    assert_close(custom, 0.6 * plain)


def test_optimal_score_of_smoothed_gaussian_has_known_loss():
    # data N(0, I): the optimal score at noise σ is −x̃/(1+σ²), where ½E‖s + ε/σ‖² = D/(2σ²(1+σ²))
    sigma, n, d = 0.5, 200_000, 3
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(3))
    values = denoising(Score(lambda z: -z / (1 + sigma**2)), x, sigma=sigma,
                       generator=torch.Generator().manual_seed(4))
    expected = d / (2 * sigma**2 * (1 + sigma**2))
    assert abs(values.mean().item() - expected) < 4 * values.std().item() / math.sqrt(n)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(sigma=0.0), "sigma must be a finite number > 0"),
        (dict(sigma=-0.1), "sigma must be a finite number > 0"),
        (dict(sigma=float("nan")), "sigma must be a finite number > 0"),
        (dict(sigma=0.1, weighting="sigma"), "unknown weighting 'sigma'"),
        (dict(sigma=0.1, noise=torch.zeros(2, 3)), "noise must have the shape of x"),
    ],
)
def test_bad_options_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        denoising(Score(lambda z: -z), torch.randn(4, 3), **kwargs)
