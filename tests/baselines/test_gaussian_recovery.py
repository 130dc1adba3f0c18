"""Contrastive divergence, persistent CD and NCE on a Gaussian target: each recovers the mean and the precision
(relative Frobenius error), and NCE's learned log Z equals the analytic log-normalizer of the energy it learned.

The model is the Gaussian family itself (E = ½(x−μ)ᵀP(x−μ), P = LLᵀ), so what is measured is the estimator, not a
network's capacity. Tolerances: the sampling error of 4000 points and the SGD noise left by 600 Adam steps are a
few per cent; the unadjusted inner Langevin sampler of CD at ε = 0.05 widens a unit-precision Gaussian by
1/(1 − ε/4) ≈ 1.3%. Mean within 0.1, precision within 15%, log Z within 0.05. Persistent CD runs without restarts
here: a chain restarted from N(0, I) and moved 10 steps is not yet at the model, and 5% of such negatives shift
the learned mean by about 0.2 — the restarts keep the buffer diverse on multi-modal data at the price of this bias.
"""

import functools
import math

import pytest
import torch

from losses.gaussian import GaussianFamily
from scorematch import Energy, fit
from scorematch.baselines import (
    PersistentContrastiveDivergence,
    contrastive_divergence,
    noise_contrastive,
)

MEAN = torch.tensor([1.0, -0.5], dtype=torch.float64)
COV = torch.tensor([[1.0, 0.6], [0.6, 2.0]], dtype=torch.float64)


def _target(d):
    """d = 2: the mean and covariance above; d = 4: a block-diagonal pair of them."""
    if d == 2:
        return MEAN, COV
    return torch.cat([MEAN, -MEAN]), torch.block_diag(COV, 0.5 * COV)


def _data(n=4000, seed=0, d=2):
    mean, cov = _target(d)
    g = torch.Generator().manual_seed(seed)
    return mean + torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T


def _train(objective, *, steps=600, learn_log_z=False, lr=0.03, d=2, n=4000):
    torch.manual_seed(0)
    family = GaussianFamily(d, kind="energy")
    model = Energy(family, learn_log_z=learn_log_z)
    fit(model, _data(n, d=d), objective, steps=steps, batch_size=256, lr=lr, lr_schedule="cosine", ema_decay=None,
        val_fraction=None, clip_grad_norm=None, generator=torch.Generator().manual_seed(1), progress=False)
    return model, family


def _errors(family):
    mean, cov = _target(family.mu.numel())
    precision = torch.linalg.inv(cov)
    p = family.precision().detach()
    return float((family.mu.detach() - mean).norm()), float((p - precision).norm() / precision.norm())


@pytest.mark.parametrize("name, objective", [
    ("cd", functools.partial(contrastive_divergence, steps=10, step_size=0.05, alpha=0.0)),
    ("cd-mala", functools.partial(contrastive_divergence, steps=10, step_size=0.1, alpha=0.0, sampler="mala")),
    ("pcd", PersistentContrastiveDivergence(buffer_size=1000, steps=10, step_size=0.1, alpha=0.0,
                                            restart_fraction=0.0)),
])
def test_contrastive_divergence_recovers_a_gaussian(name, objective):
    _, family = _train(objective)
    mean_error, precision_error = _errors(family)
    assert mean_error < 0.1 and precision_error < 0.15, (name, mean_error, precision_error)


def test_nce_recovers_a_gaussian_and_its_log_normalizer():
    noise = torch.distributions.MultivariateNormal(torch.zeros(2), 4.0 * torch.eye(2))  # any law with log_prob/sample
    torch.manual_seed(0)
    model, family = _train(functools.partial(noise_contrastive, noise=noise, ratio=4), steps=800, learn_log_z=True)
    mean_error, precision_error = _errors(family)
    assert mean_error < 0.1 and precision_error < 0.15, (mean_error, precision_error)
    p = family.precision().detach()
    analytic = math.log(2 * math.pi) - 0.5 * float(torch.logdet(p))  # log ∫ exp(−½(x−μ)ᵀP(x−μ)) dx, d = 2
    assert float(model.log_z.detach()) == pytest.approx(analytic, abs=0.05)


def test_nce_asks_for_a_learned_log_normalizer():
    x = _data(8)
    with pytest.raises(TypeError, match="learn_log_z=True"):
        noise_contrastive(Energy(GaussianFamily(2, kind="energy")), x, noise=torch.distributions.MultivariateNormal(
            torch.zeros(2), torch.eye(2)))


@pytest.mark.slow  # fast twins: the 2-D tests above
@pytest.mark.parametrize("name", ["cd", "pcd", "nce"])
def test_each_method_recovers_a_4d_gaussian_from_more_data(name):
    """Full size: 16000 points of a 4-D Gaussian, 1500 steps; the same tolerances on a harder problem."""
    objective = {"cd": functools.partial(contrastive_divergence, steps=10, step_size=0.05, alpha=0.0),
                 "pcd": PersistentContrastiveDivergence(buffer_size=2000, steps=10, step_size=0.1, alpha=0.0,
                                                        restart_fraction=0.0),
                 "nce": functools.partial(noise_contrastive, ratio=8, noise=torch.distributions.MultivariateNormal(
                     torch.zeros(4), 4.0 * torch.eye(4)))}[name]
    model, family = _train(objective, steps=1500, d=4, n=16000, learn_log_z=name == "nce")
    mean_error, precision_error = _errors(family)
    assert mean_error < 0.1 and precision_error < 0.15, (name, mean_error, precision_error)
    if name == "nce":
        analytic = 2 * math.log(2 * math.pi) - 0.5 * float(torch.logdet(family.precision().detach()))
        assert float(model.log_z.detach()) == pytest.approx(analytic, abs=0.05)
