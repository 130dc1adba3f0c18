"""The inner sampler of contrastive divergence against closed forms on N(0, 1): Langevin with a free noise scale η
has the stationary variance (η²/ε)/(1 − ε/4), a tempered law when η ≠ √ε; MALA keeps N(0, 1) for any η. And the
objectives' bad settings are one-line errors."""

import pytest
import torch

from scorematch import Energy
from scorematch.baselines import GaussianNoise, PersistentContrastiveDivergence, contrastive_divergence, mcmc_negatives

STANDARD = Energy(lambda x: 0.5 * (x**2).sum(-1))


@pytest.mark.parametrize("sampler, eps, eta, variance", [
    ("langevin", 0.01, 0.2, (0.2**2 / 0.01) / (1 - 0.01 / 4)),   # x' = (1 − ε/2)x + ηz: v = η²/(1 − (1 − ε/2)²)
    ("langevin", 0.1, None, 1 / (1 - 0.1 / 4)),                  # η = √ε: only the O(ε) bias of the step
    ("mala", 0.5, 1.5, 1.0),                                     # Metropolis: exact for any proposal scale
])
def test_the_stationary_variance_of_the_inner_sampler(sampler, eps, eta, variance):
    g = torch.Generator().manual_seed(0)
    x0 = variance**0.5 * torch.randn(40000, 1, generator=g)      # start at the stationary law
    x = mcmc_negatives(STANDARD, x0, steps=300, step_size=eps, noise_scale=eta, sampler=sampler, generator=g)
    assert float(x.var()) == pytest.approx(variance, rel=0.03)  # 40000 chains: a few per cent at most


def test_bad_settings_are_one_line_errors():
    x = torch.randn(8, 2)
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
        contrastive_divergence(STANDARD, x, alpha=-1.0)
    with pytest.raises(ValueError, match="noise_scale must be a finite number > 0"):
        PersistentContrastiveDivergence(noise_scale=0.0)
    with pytest.raises(ValueError, match=r"buffer_size \(4\) must be at least the batch size \(8\)"):
        PersistentContrastiveDivergence(buffer_size=4)(STANDARD, x)
    with pytest.raises(ValueError, match="at least 2 finite points"):
        GaussianNoise.fit(torch.tensor([[0.0, float("nan")], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="not positive definite"):
        GaussianNoise(torch.zeros(2), torch.tensor([[1.0, 2.0], [2.0, 1.0]]))
    from scorematch.baselines import noise_contrastive

    model = Energy(lambda z: 0.5 * (z**2).sum(-1))
    model.log_z = torch.zeros(())
    with pytest.raises(ValueError, match=r"draws points of shape \(3,\); the data have \(2,\)"):
        noise_contrastive(model, x, noise=GaussianNoise(torch.zeros(3), torch.eye(3)))
