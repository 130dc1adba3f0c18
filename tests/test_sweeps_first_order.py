"""The gradient and directional sweeps (scorematch.sweeps) against autograd, and every loss and sampler that
uses them against the same model with ``analytic=False`` (float64, round-off tolerance)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from scorematch import Energy
from scorematch.derivatives import energy_and_score, value_and_quadratic_form
from scorematch.losses import denoising, multiscale_denoising, sliced
from scorematch.models import EnergyMLP, NoiseConditionalEnergyMLP
from scorematch.samplers import annealed_langevin, hmc, langevin, mala, sample
from scorematch.sweeps import energy_and_grad, energy_directional

from tolerances import assert_close

ACTS = [nn.SiLU, nn.Softplus, nn.Tanh, nn.GELU, lambda: nn.GELU(approximate="tanh"), lambda: nn.ELU(alpha=0.7),
        nn.Sigmoid, nn.Identity, nn.ReLU, lambda: nn.LeakyReLU(0.1)]


def mlp(d: int, act, width: int = 9, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(d, width), act(), nn.Linear(width, width), act(), nn.Linear(width, 1))
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=1.5 / m.in_features**0.5)
            nn.init.normal_(m.bias, std=0.5)
    return net


NETS = {
    "seq_d3": lambda: mlp(3, nn.SiLU),
    "seq_d12_tanh": lambda: mlp(12, nn.Tanh),
    "energy_mlp_image": lambda: EnergyMLP((2, 3, 2), hidden=10, depth=3),
    "linear_pairs": lambda: nn.Sequential(nn.Linear(3, 5), nn.Linear(5, 4), nn.Softplus(), nn.Linear(4, 6),
                                          nn.GELU(), nn.Sigmoid(), nn.Linear(6, 1, bias=False)),
}


def event_of(net) -> tuple[int, ...]:
    return net.event_shape if isinstance(net, EnergyMLP) else (net[0].in_features,)


def grads(out: torch.Tensor, model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    return list(torch.autograd.grad(out.sum(), [*model.parameters(), x], allow_unused=True, materialize_grads=True))


@pytest.mark.parametrize("act", ACTS, ids=lambda a: getattr(a, "__name__", "custom"))
def test_energy_and_grad_matches_autograd(act):
    net = mlp(4, act)
    x = torch.randn(7, 4) * 1.5
    e, g = energy_and_grad(net, x)
    e_ref, s_ref = energy_and_score(lambda z: net(z).squeeze(-1), x)
    assert_close(e, e_ref)
    assert_close(g, -s_ref)
    with torch.no_grad():  # the graph-free path: each activation's fused backward kernel
        e0, g0 = energy_and_grad(net, x)
        none, g1 = energy_and_grad(net, x, need_energy=False)
    assert_close(e0, e_ref)
    assert_close(g0, -s_ref)
    assert none is None
    assert_close(g1, -s_ref)
    assert_close(energy_and_grad(net, x, need_energy=False)[1], -s_ref)


@pytest.mark.parametrize("name", list(NETS))
def test_score_and_its_parameter_gradients_match_autograd(name):
    net = NETS[name]()
    fast, slow = Energy(net), Energy(net, analytic=False)
    assert fast.uses_sweeps and not slow.uses_sweeps
    x = torch.randn(6, *event_of(net), requires_grad=True)
    w = torch.randn(6, *event_of(net))
    s_fast, s_slow = fast.score(x), slow.score(x)
    assert_close(s_fast, s_slow)
    # a loss that is a function of the score: first-order sweep + one backward vs autograd's double backward
    for a, b in zip(grads((w * s_fast).sum() + s_fast.square().sum(), fast, x),
                    grads((w * s_slow).sum() + s_slow.square().sum(), slow, x), strict=True):
        assert_close(a, b)


@pytest.mark.parametrize("scale", [True, False])
def test_noise_conditional_score(scale):
    torch.manual_seed(1)
    net = NoiseConditionalEnergyMLP((2, 2), hidden=8, depth=2, scale_by_sigma=scale)
    x, sigma = torch.randn(5, 2, 2, requires_grad=True), torch.tensor([0.05, 0.2, 1.0, 3.0, 10.0])
    fast, slow = Energy(net), Energy(net, analytic=False)
    for a, b in zip(fast.energy_and_score(x, sigma), slow.energy_and_score(x, sigma), strict=True):
        assert_close(a, b)
    lf = multiscale_denoising(fast, x, sigmas=[0.1, 1.0], generator=torch.Generator().manual_seed(0))
    ls = multiscale_denoising(slow, x, sigmas=[0.1, 1.0], generator=torch.Generator().manual_seed(0))
    assert_close(lf, ls)
    for a, b in zip(grads(lf, fast, x), grads(ls, slow, x), strict=True):
        assert_close(a, b)


@pytest.mark.parametrize("name", list(NETS))
def test_directional_sweep_matches_hessian_vector_products(name):
    net = NETS[name]()
    x = torch.randn(5, *event_of(net))
    v = torch.randn(3, 5, *event_of(net))
    e, slope, curv, grad = energy_directional(net, x, v, with_grad=True)
    s, quad = value_and_quadratic_form(Energy(net, analytic=False).score, x, v)
    assert_close(e, Energy(net).energy(x))
    assert_close(grad, -s)
    assert_close(slope, -(v * s).flatten(2).sum(-1))
    assert_close(curv, -quad)


def test_directional_sweep_noise_conditional():
    torch.manual_seed(3)
    net = NoiseConditionalEnergyMLP(3, hidden=8, depth=2)
    x, v, sigma = torch.randn(4, 3), torch.randn(2, 4, 3), torch.tensor([0.1, 0.5, 1.0, 4.0])
    _, slope, curv, _ = energy_directional(net, x, v, sigma)
    s, quad = value_and_quadratic_form(lambda z: Energy(net, analytic=False).score(z, sigma), x, v)
    assert_close(slope, -(v * s).sum(-1))
    assert_close(curv, -quad)


@pytest.mark.parametrize("loss", [
    lambda m, x, g: sliced(m, x, n_probes=2, generator=g),
    lambda m, x, g: sliced(m, x, probe="rademacher", variance_reduction=True, generator=g),
    lambda m, x, g: denoising(m, x, sigma=0.1, generator=g),
    lambda m, x, g: denoising(m, x, sigma=0.3, weighting="sigma2", generator=g),
], ids=["ssm", "ssm_vr", "dsm", "dsm_sigma2"])
@pytest.mark.parametrize("name", list(NETS))
def test_losses_and_parameter_gradients_match_the_autograd_path(name, loss):
    net = NETS[name]()
    fast, slow = Energy(net), Energy(net, analytic=False)
    x = torch.randn(8, *event_of(net), requires_grad=True)
    lf, ls = (loss(m, x, torch.Generator().manual_seed(7)) for m in (fast, slow))
    assert_close(lf, ls)
    for a, b in zip(grads(lf, fast, x), grads(ls, slow, x), strict=True):
        assert_close(a, b)


def test_directional_sweep_rejects_bad_probes():
    with pytest.raises(ValueError, match=r"probes must have shape \(M, 4, 3\)"):
        energy_directional(mlp(3, nn.Tanh), torch.randn(4, 3), torch.randn(4, 3))


@pytest.mark.parametrize("kernel", [
    lambda m: langevin(m, 0.05), lambda m: mala(m, 0.05), lambda m: hmc(m, 0.05, n_leapfrog=3),
], ids=["langevin", "mala", "hmc"])
def test_samplers_follow_the_same_path(kernel):
    net = mlp(2, nn.SiLU, width=16)
    x0 = torch.randn(50, 2)
    fast = sample(kernel(Energy(net)), x0, steps=20, generator=torch.Generator().manual_seed(0))
    slow = sample(kernel(Energy(net, analytic=False)), x0, steps=20, generator=torch.Generator().manual_seed(0))
    assert_close(fast, slow)


def test_annealed_langevin_follows_the_same_path():
    net = NoiseConditionalEnergyMLP(2, hidden=8, depth=2)
    x0 = torch.randn(30, 2)
    runs = [annealed_langevin(Energy(net, analytic=a), x0, sigmas=torch.tensor([1.0, 0.3, 0.1]), steps_per_level=5,
                              step_size=0.01, generator=torch.Generator().manual_seed(0)) for a in (True, False)]
    assert_close(runs[0], runs[1])
