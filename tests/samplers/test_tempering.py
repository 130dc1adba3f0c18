"""Parallel tempering: every replica keeps its tempered Gaussian (closed form) through moves and swaps, and the
β = 1 replica carries the weights of two far-apart modes."""

import torch

from scorematch import Energy
from scorematch.models.analytic import GaussianMixture
from scorematch.samplers import diagnose
from scorematch.samplers.state import evaluate
from scorematch.samplers.tempered import Base
from scorematch.samplers.tempering import adapt_tempering, default_betas, parallel_tempering, tempering_step


def test_each_replica_keeps_its_tempered_gaussian():
    """Target N(1, 0.5²), base N(0, 2²): π_β is Gaussian with precision (1-β)/4 + 4β and mean 4β / precision.
    Replicas started at exact draws of their own π_β stay there (means within 0.05, variances within 8%)."""
    betas = default_betas(5, 0.01)
    model, base = Energy(lambda x: 2.0 * (x - 1.0).square().sum(-1)), Base((1,), 0.0, 2.0)
    prec = (1 - betas) / 4 + 4 * betas
    mean, sd = 4 * betas / prec, prec.rsqrt()
    g = torch.Generator().manual_seed(0)
    b = 4000
    kernel = parallel_tempering(model, base, 0.5 / prec, betas)
    start = (mean.repeat_interleave(b) + sd.repeat_interleave(b) * torch.randn(5 * b, generator=g)).unsqueeze(1)
    state = kernel.init(torch.zeros(b, 1))
    state = state._replace(replicas=evaluate(model, start, need_energy=True))   # replica k at its own π_β
    for _ in range(60):
        state = tempering_step(state, model, base, betas, 0.5 / prec, generator=g)[0]
    x = state.replicas.x.view(5, b)
    torch.testing.assert_close(x.mean(1), mean, rtol=0, atol=0.05)
    torch.testing.assert_close(x.var(1) / sd.square(), torch.ones(5, dtype=x.dtype), rtol=0, atol=0.08)
    assert (state.swap_rate > 0.2).all()


def test_the_cold_replica_carries_the_mode_weights():
    target = GaussianMixture(torch.tensor([0.2, 0.8]), torch.tensor([[-2.5, 0.0], [2.5, 0.0]]),
                             0.25**2 * torch.eye(2).expand(2, 2, 2))
    model, base = Energy(lambda x: -target.log_prob(x)), Base((2,), 0.0, 2.0)
    g = torch.Generator().manual_seed(1)
    state, eps = adapt_tempering(model, base, torch.randn(1000, 2, generator=g), 200, generator=g)
    out = diagnose(parallel_tempering(model, base, eps), state, 300, generator=g)
    assert abs((out.x[:, 0] < 0).double().mean().item() - 0.2) < 0.03
    assert abs(out.mean_accept_prob.mean().item() - 0.57) < 0.1
