"""The forward-Laplacian sweep (scorematch.sweeps.laplacian) against exact autograd derivatives (float64,
round-off tolerance).

Timings against the peers: ``make bench``.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from scorematch import Energy
from scorematch.derivatives import laplacian, score_of_energy, value_and_divergence
from scorematch.losses import explicit_sweep
from scorematch.models import EnergyMLP, NoiseConditionalEnergyMLP
from scorematch.sweeps import energy_grad_laplacian, supports

from tolerances import assert_close

ACTS = {
    "silu": nn.SiLU, "softplus": nn.Softplus, "softplus_b2_t1": lambda: nn.Softplus(beta=2.0, threshold=1.0),
    "tanh": nn.Tanh, "gelu": nn.GELU, "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "elu": lambda: nn.ELU(alpha=0.7), "sigmoid": nn.Sigmoid, "identity": nn.Identity, "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.1),
}
SHAPES = [(3, 16, 2), (40, 8, 2), (5, 6, 3), (4, 7, 1)]  # (D, width, depth): D < width and D > width
MODES = ["auto", "jacobian", "gram"]


def mlp(d: int, width: int, depth: int, act, seed: int = 0, out_bias: bool = True) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    n = d
    for _ in range(depth):
        layers += [nn.Linear(n, width), act()]
        n = width
    layers.append(nn.Linear(n, 1, bias=out_bias))
    for m in layers:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=1.5 / m.in_features**0.5)
            if m.bias is not None:
                nn.init.normal_(m.bias, std=0.5)
    return nn.Sequential(*layers)


def exact(energy, x):
    return energy(x), -score_of_energy(energy, x), laplacian(energy, x)


def check(net, x, *cond, mode="auto"):
    energy = Energy(net) if not cond else (lambda z: Energy(net)(z, *cond))
    got = energy_grad_laplacian(net, x, *cond, mode=mode)
    for a, b in zip(got, exact(energy, x), strict=True):
        assert a.shape == b.shape
        assert_close(a, b)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("act", list(ACTS))
def test_matches_autograd(act, shape, mode):
    d, width, depth = shape
    check(mlp(d, width, depth, ACTS[act]), torch.randn(5, d) * 1.5, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_mixed_and_consecutive_activations(mode):
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(6, 9), nn.Tanh(), nn.SiLU(), nn.Linear(9, 5), nn.GELU(), nn.Linear(5, 7),
                        nn.Softplus(), nn.Identity(), nn.Sigmoid(), nn.Linear(7, 1, bias=False))
    check(net, torch.randn(4, 6), mode=mode)
    check(net, torch.randn(4, 6), mode=mode)
    linear_pairs = nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 4), nn.Linear(4, 6),
                                 nn.SiLU(), nn.Linear(6, 3), nn.ELU(), nn.Linear(3, 1))
    check(linear_pairs, torch.randn(4, 6), mode=mode)


def test_linear_only_net():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    _, grad, lap = energy_grad_laplacian(net, torch.randn(5, 3))
    assert_close(grad, (net[1].weight @ net[0].weight).expand(5, 3))
    assert_close(lap, torch.zeros(5))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("activation", ["silu", "softplus", "tanh", "gelu", "elu"])
@pytest.mark.parametrize("event", [(3,), (40,), (1, 4, 4)], ids=str)
def test_energy_mlp(event, activation, mode):
    torch.manual_seed(3)
    net = EnergyMLP(event, hidden=8 if len(event) == 1 else 12, depth=2, activation=activation)
    check(net, torch.randn(6, *event), mode=mode)
    check(net, torch.randn(6, *event), mode=mode)


@pytest.mark.parametrize("scale", [True, False])
@pytest.mark.parametrize("event", [(3,), (2, 3, 3)], ids=str)
def test_noise_conditional(event, scale):
    torch.manual_seed(4)
    net = NoiseConditionalEnergyMLP(event, hidden=10, depth=2, scale_by_sigma=scale)
    sigma = torch.tensor([0.05, 0.3, 1.0, 2.0])
    x = torch.randn(4, *event)
    check(net, x, sigma)
    check(net, x, 0.7)
    assert_close(explicit_sweep(net, x, sigma), explicit_sweep(net, x, sigma, mode="gram"))


@pytest.mark.parametrize(
    "make", [lambda: Energy(EnergyMLP((1, 4, 4), hidden=8, depth=2)), lambda: Energy(EnergyMLP(3, hidden=16, depth=3)),
             lambda: Energy(mlp(40, 8, 2, nn.SiLU, out_bias=False)),
             lambda: Energy(mlp(3, 16, 2, nn.GELU, out_bias=False))],
    ids=["image", "d3_depth3", "d40_w8", "seq_d3"])
def test_explicit_sweep_and_parameter_gradients(make):
    torch.manual_seed(5)
    model = make()
    x = torch.randn(6, *(model.net.event_shape if isinstance(model.net, EnergyMLP) else (model.net[0].in_features,)))
    x.requires_grad_(True)
    params = list(model.parameters())
    reference = Energy(model.net, analytic=False)  # the generic exact path: autograd only
    s, div = value_and_divergence(reference.score, x)
    fast, ref = explicit_sweep(model.net, x), 0.5 * s.flatten(1).square().sum(-1) + div
    assert_close(fast, ref)
    g_fast = torch.autograd.grad(fast.sum(), [*params, x])
    g_ref = torch.autograd.grad(ref.sum(), [*params, x])
    for a, b in zip(g_fast, g_ref, strict=True):
        assert_close(a, b)
    assert all(g.abs().sum() > 0 for g in g_fast[:-1])


def test_input_compression_is_exact_for_a_rank_deficient_first_layer():
    # D > w₁: the sweep works in the row space of W₁; with two equal rows, a factorization differentiated
    # naively would give wrong W₁ gradients
    net = mlp(20, 8, 2, nn.Tanh)
    with torch.no_grad():
        net[0].weight[1] = net[0].weight[0]
    x = torch.randn(5, 20)
    fast, ref = Energy(net), Energy(net, analytic=False)
    s, div = value_and_divergence(ref.score, x)
    lf, lr = explicit_sweep(fast.net, x).sum(), (0.5 * s.square().sum(-1) + div).sum()
    assert_close(lf, lr)
    for a, b in zip(torch.autograd.grad(lf, list(net.parameters())[:-1]),
                    torch.autograd.grad(lr, list(net.parameters())[:-1]), strict=True):
        assert_close(a, b)


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 1)

    def forward(self, x):
        return self.lin(x)


class Shifted(EnergyMLP):
    def forward(self, x):
        return super().forward(x) + 1.0


def _hooked():
    net = mlp(3, 4, 1, nn.Tanh)
    net[1].register_forward_hook(lambda *a: None)
    return net


UNSUPPORTED = {
    "forward_hook": _hooked,
    "layernorm": lambda: nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 1)),
    "two_outputs": lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)),
    "custom": Custom,
    "energy_of_callable": lambda: Energy(lambda x: x.square().sum(-1)),
    "starts_with_activation": lambda: nn.Sequential(nn.Tanh(), nn.Linear(3, 1)),
    "ends_with_activation": lambda: nn.Sequential(nn.Linear(3, 1), nn.Tanh()),
    "overridden_forward": lambda: Shifted(3, hidden=4),
    "nested": lambda: nn.Sequential(nn.Sequential(nn.Linear(3, 4)), nn.Linear(4, 1)),
}


@pytest.mark.parametrize("name", list(UNSUPPORTED))
def test_unsupported(name):
    net = UNSUPPORTED[name]()
    assert not supports(net)
    with pytest.raises(NotImplementedError, match="MLP sweeps cannot walk"):
        energy_grad_laplacian(net, torch.randn(2, 3))
    with pytest.raises(NotImplementedError):
        explicit_sweep(net, torch.randn(2, 3))


def test_unsupported_message_lists_layers():
    with pytest.raises(NotImplementedError, match=r"LayerNorm.*nn\.Linear, nn\.SiLU"):
        energy_grad_laplacian(UNSUPPORTED["layernorm"](), torch.randn(2, 3))


def test_supported():
    assert supports(mlp(3, 4, 2, nn.ReLU)) and supports(EnergyMLP(2)) and supports(EnergyMLP((1, 2, 2)))
    assert Energy(EnergyMLP((1, 2, 2))).uses_sweeps and not Energy(EnergyMLP(2), analytic=False).uses_sweeps
    assert supports(NoiseConditionalEnergyMLP(2)) and Energy(NoiseConditionalEnergyMLP(2)).uses_sweeps


def test_bad_inputs():
    net = mlp(3, 4, 1, nn.Tanh)
    with pytest.raises(ValueError, match="mode"):
        energy_grad_laplacian(net, torch.randn(2, 3), mode="hessian")
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        energy_grad_laplacian(net, torch.randn(2, 1, 3))
    with pytest.raises(ValueError, match="no condition"):
        energy_grad_laplacian(net, torch.randn(2, 3), torch.ones(2))
    with pytest.raises(ValueError, match="shape"):
        energy_grad_laplacian(EnergyMLP((2, 2)), torch.randn(2, 3))
