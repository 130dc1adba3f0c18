"""The forward SDEs against their closed forms: the kernel's mean and variance solve m' = a m and
(σ²)' = 2a σ² + g² (checked by autograd at many t), an Euler–Maruyama simulation of the SDE reaches the kernel's law,
and the priors' log-densities are Normal's."""

import math

import pytest
import torch

from scorematch.diffusion import VE, VP, SubVP

SDES = [VE(0.01, 50.0), VE(0.1, 5.0), VP(), VP(0.5, 5.0), SubVP(), SubVP(0.5, 5.0)]


@pytest.mark.parametrize("sde", SDES, ids=repr)
def test_the_kernel_solves_the_moment_equations(sde):
    t = torch.linspace(0.01, 1.0, 50, dtype=torch.float64, requires_grad=True)
    m, var = sde.mean_coef(t), sde.std(t) ** 2
    dm = torch.autograd.grad(m.sum(), t, retain_graph=True)[0] if m.requires_grad else torch.zeros_like(t)
    dvar, = torch.autograd.grad(var.sum(), t)
    a, g2 = sde.a(t).detach(), sde.g2(t).detach()
    assert torch.allclose(dm, a * m.detach(), rtol=1e-9, atol=1e-12)
    assert torch.allclose(dvar, 2 * a * var.detach() + g2, rtol=1e-9, atol=1e-9)
    zero = torch.zeros((), dtype=torch.float64)
    assert float(sde.mean_coef(zero)) == 1.0 and float(sde.std(zero)) == 0.0


@pytest.mark.parametrize("sde", [VE(0.1, 5.0), VP(0.5, 5.0), SubVP(0.5, 5.0)], ids=repr)
def test_euler_maruyama_reaches_the_kernel(sde):
    g = torch.Generator().manual_seed(0)
    n, steps, x0 = 20000, 1000, torch.tensor([1.5, -0.5], dtype=torch.float64)
    x, dt = x0.expand(n, 2).clone(), 1.0 / steps
    for i in range(steps):
        t = torch.full((n,), i * dt, dtype=torch.float64)
        x = x + sde.drift(x, t) * dt + sde.diffusion(t)[:, None] * math.sqrt(dt) * torch.randn(n, 2, generator=g,
                                                                                             dtype=torch.float64)
    one = torch.ones((), dtype=torch.float64)
    mean, std = sde.mean_coef(one) * x0, sde.std(one)
    # the sample mean within 5 standard errors; the variance within 5 of its standard errors (√(2/n) relative)
    # and the O(dt) bias of the scheme
    assert (x.mean(0) - mean).abs().max() < 5 * std / math.sqrt(n), (x.mean(0), mean)
    assert ((x.var(0) / std**2) - 1).abs().max() < 5 * math.sqrt(2 / n) + 0.01, (x.var(0), std**2)


@pytest.mark.parametrize("sde", SDES, ids=repr)
def test_the_marginal_and_the_prior(sde):
    x0 = torch.randn(7, 3, dtype=torch.float64)
    z = torch.randn(7, 3, dtype=torch.float64)
    t = torch.rand(7, dtype=torch.float64)
    expected = sde.mean_coef(t)[:, None] * x0 + sde.std(t)[:, None] * z
    assert torch.allclose(sde.marginal(x0, t, z), expected)
    x = sde.prior_sample((5, 3), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    normal = torch.distributions.Normal(0.0, sde.prior_std)
    assert torch.allclose(sde.prior_log_prob(x), normal.log_prob(x).sum(1))


def test_bad_schedules_are_refused():
    with pytest.raises(ValueError, match="sigma_max"):
        VE(1.0, 0.5)
    with pytest.raises(ValueError, match="beta_min"):
        VP(-1.0, 20.0)
