"""The continuous-time denoising objective against closed forms: for N(0, s²I) data under VE (m = 1) the kernel's
marginal is N(0, (s² + σ²)I), whose score −x/(s² + σ²) is the objective's minimiser, with the expected loss
½ d s² E_t[1/(s² + σ(t)²)] (λ = σ²)."""

import pytest
import torch

from scorematch import Score, losses
from scorematch.diffusion import VE, VP
from scorematch.losses import properties_of

S2, D = 2.0, 3


def scaled_exact(c):
    return Score(lambda x, sigma: -c * x / (S2 + sigma[:, None] ** 2))


def test_the_exact_marginal_score_has_the_closed_form_expected_loss():
    sde, n = VE(0.05, 10.0), 200_000
    g = torch.Generator().manual_seed(0)
    x = S2**0.5 * torch.randn(n, D, generator=g)
    loss = losses.continuous_denoising(scaled_exact(1.0), x, sde=sde, t_min=1e-3, generator=g)
    t = torch.linspace(1e-3, 1.0, 200_001, dtype=torch.float64)
    expected = 0.5 * D * S2 * torch.trapezoid(1 / (S2 + sde.std(t) ** 2), t) / (1 - 1e-3)
    assert abs(float(loss.mean()) - float(expected)) < 5 * float(loss.std()) / n**0.5, (loss.mean(), expected)


def test_the_exact_score_minimises_it_and_the_weightings_agree():
    sde = VE(0.05, 10.0)
    g = torch.Generator().manual_seed(1)
    x = S2**0.5 * torch.randn(50_000, D, generator=g)
    t = 1e-3 + (1 - 1e-3) * torch.rand(50_000, generator=g)
    z = torch.randn(50_000, D, generator=g)
    value = {c: float(losses.continuous_denoising(scaled_exact(c), x, sde=sde, t=t, noise=z).mean())
             for c in (0.9, 1.0, 1.1)}
    assert value[1.0] < value[0.9] and value[1.0] < value[1.1], value
    sigma_w = losses.continuous_denoising(scaled_exact(1.0), x, sde=sde, t=t, noise=z)
    likelihood_w = losses.continuous_denoising(scaled_exact(1.0), x, sde=sde, t=t, noise=z, weighting="likelihood")
    assert torch.allclose(likelihood_w, sigma_w * sde.g2(t) / sde.std(t) ** 2)


def test_it_is_declared_noise_conditional_and_checks_its_options():
    assert properties_of(losses.continuous_denoising).conditional
    assert properties_of(losses.continuous_denoising).order == 1
    x = torch.randn(4, 2)
    with pytest.raises(ValueError, match="weighting"):
        losses.continuous_denoising(scaled_exact(1.0), x, sde=VP(), weighting="nope")
    with pytest.raises(ValueError, match="t_min"):
        losses.continuous_denoising(scaled_exact(1.0), x, sde=VP(), t_min=1.5)


@pytest.mark.parametrize("sde", [VE(0.05, 10.0), VP(), VP(0.1, 30.0)])
def test_time_of_std_inverts_the_kernel_s_std(sde):
    t = torch.linspace(1e-4, 1.0, 101, dtype=torch.float64)
    assert torch.allclose(sde.time_of_std(sde.std(t)), t, atol=1e-9)


def test_log_sigma_times_draw_log_sigma_uniformly_with_the_same_closed_form_expectation():
    """``times="log-sigma"``: log σ(t) uniform on [log σ(t_min), log σ(1)] (a Kolmogorov–Smirnov distance within
    its 99.9% bound), and for N(0, s²I) data under VP (m² = 1 − σ²) the exact score −x/(m²s² + σ²) has the expected
    loss ½ d s² E[m²/(m²s² + σ²)] under that law of σ."""
    sde, n, t_min = VP(), 100_000, 1e-3
    g = torch.Generator().manual_seed(2)
    x = S2**0.5 * torch.randn(n, D, generator=g)
    seen = []

    def exact(z, sigma):
        seen.append(sigma.detach().double())
        return -z / (S2 * (1 - sigma[:, None] ** 2) + sigma[:, None] ** 2)

    loss = losses.continuous_denoising(Score(exact), x, sde=sde, t_min=t_min, times="log-sigma", generator=g)
    lo, hi = (float(v) for v in sde.std(torch.tensor([t_min, 1.0], dtype=torch.float64)).log())
    u = ((seen[0].log() - lo) / (hi - lo)).sort().values
    ks = float((u - torch.arange(1, n + 1, dtype=torch.float64) / n).abs().max())
    assert ks < 1.95 / n**0.5, ks
    sigma = torch.linspace(lo, hi, 200_001, dtype=torch.float64).exp()
    m2 = 1 - sigma**2
    expected = 0.5 * D * S2 * torch.trapezoid(m2 / (S2 * m2 + sigma**2), dx=1 / 200_000)
    assert abs(float(loss.mean()) - float(expected)) < 5 * float(loss.std()) / n**0.5, (loss.mean(), expected)
    with pytest.raises(ValueError, match="times"):
        losses.continuous_denoising(scaled_exact(1.0), x[:4], sde=sde, times="log")


def test_mixed_times_draw_every_other_sample_each_way():
    sde, n, t_min = VP(), 40_000, 1e-3
    seen = []

    def spy(z, sigma):
        seen.append(sigma.detach().double())
        return -z

    losses.continuous_denoising(Score(spy), torch.zeros(n, D), sde=sde, t_min=t_min, times="mixed",
                                generator=torch.Generator().manual_seed(3))
    lo, hi = (float(v) for v in sde.std(torch.tensor([t_min, 1.0], dtype=torch.float64)).log())
    by_sigma = ((seen[0][0::2].log() - lo) / (hi - lo)).sort().values
    by_time = ((sde.time_of_std(seen[0][1::2]) - t_min) / (1 - t_min)).sort().values
    grid = torch.arange(1, n // 2 + 1, dtype=torch.float64) / (n // 2)
    for u in (by_sigma, by_time):
        assert float((u - grid).abs().max()) < 1.95 / (n // 2) ** 0.5
