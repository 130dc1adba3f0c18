"""Every derivative against autograd's dense Jacobian / Hessian on random smooth networks, in float64."""

import itertools
import math

import pytest
import torch
from torch.autograd.functional import hessian, jacobian

from scorematch import Energy, Score
from scorematch.derivatives import (
    divergence,
    divergence_hutchinson,
    draw_probes,
    laplacian,
    laplacian_hutchinson,
    score_of_energy,
    value_and_divergence,
)

from nets import make_net
from tolerances import assert_close

EVENTS = [(3,), (2, 3, 3)]


def _data(event, b=4, seed=1):
    return torch.randn(b, *event, generator=torch.Generator().manual_seed(seed))


def _per_sample(fn, x, b, event):
    """fn restricted to sample b, as a function of its flattened coordinates."""
    return lambda z: fn(z.reshape(1, *event)).reshape(-1)


def _ref_divergence(score_fn, x, create_graph=False):
    event, d = x.shape[1:], math.prod(x.shape[1:])
    out = []
    for b in range(x.shape[0]):
        f = _per_sample(score_fn, x, b, event)
        out.append(jacobian(f, x[b].reshape(d), create_graph=create_graph).trace())
    return torch.stack(out)


def _ref_laplacian(energy_fn, x, create_graph=False):
    event, d = x.shape[1:], math.prod(x.shape[1:])
    out = []
    for b in range(x.shape[0]):
        f = lambda z: energy_fn(z.reshape(1, *event)).sum()  # noqa: E731
        out.append(hessian(f, x[b].reshape(d), create_graph=create_graph).trace())
    return torch.stack(out)


@pytest.mark.parametrize("event", EVENTS)
def test_score_of_energy_is_minus_autograd_gradient(event):
    energy = Energy(make_net("energy", event))
    x = _data(event)
    expected = torch.stack([
        -jacobian(lambda z: energy.energy(z.unsqueeze(0)).sum(), x[b]) for b in range(x.shape[0])
    ])
    assert_close(score_of_energy(energy.energy, x), expected)


@pytest.mark.parametrize("event", EVENTS)
def test_exact_divergence_matches_jacobian_trace(event):
    score = Score(make_net("score", event))
    x = _data(event)
    out, div = value_and_divergence(score.score, x)
    assert div.shape == (x.shape[0],)
    assert_close(out, score.score(x))
    assert_close(div, _ref_divergence(score.score, x))
    assert_close(divergence(score.score, x, chunk_size=2), div)


@pytest.mark.parametrize("event", EVENTS)
def test_exact_laplacian_matches_hessian_trace(event):
    energy = Energy(make_net("energy", event))
    x = _data(event)
    lap = laplacian(energy.energy, x)
    assert_close(lap, _ref_laplacian(energy.energy, x))
    assert_close(-divergence(energy.score, x), lap)


@pytest.mark.parametrize("kind", ["energy", "score"])
def test_exact_trace_is_differentiable_in_the_parameters(kind):
    event = (3,)
    net = make_net(kind, event)
    x = _data(event)
    if kind == "energy":
        field = Energy(net)
        ours, ref = laplacian(field.energy, x), _ref_laplacian(field.energy, x, create_graph=True)
    else:
        field = Score(net)
        ours, ref = divergence(field.score, x), _ref_divergence(field.score, x, create_graph=True)
    params = list(net.parameters())
    g_ours = torch.autograd.grad(ours.square().sum(), params, allow_unused=True, materialize_grads=True)
    g_ref = torch.autograd.grad(ref.square().sum(), params, allow_unused=True, materialize_grads=True)
    for a, b in zip(g_ours, g_ref, strict=True):
        assert_close(a, b)
    assert any(g.abs().max() > 0 for g in g_ours)


def test_gradcheck_of_divergence_in_the_input():
    score = Score(make_net("score", (3,)))
    x = _data((3,), b=2).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: divergence(score.score, z), (x,))


def test_float32_agrees_with_float64():
    net = make_net("energy", (3,))
    x = _data((3,))
    lap64 = laplacian(Energy(net).energy, x)
    lap32 = laplacian(Energy(net.float()).energy, x.float())
    assert lap32.dtype == torch.float32
    assert_close(lap32, lap64)


def test_hutchinson_over_all_rademacher_signs_is_exact():
    # averaging vᵀJv over all 2^D sign vectors gives tr J exactly (the off-diagonal terms cancel)
    event = (4,)
    x = _data(event, b=3)
    signs = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=4)))  # (16, 4)
    probes = signs[:, None, :].expand(16, 3, 4)
    score = Score(make_net("score", event))
    assert_close(divergence_hutchinson(score.score, x, probes=probes), divergence(score.score, x))
    energy = Energy(make_net("energy", event))
    assert_close(laplacian_hutchinson(energy.energy, x, probes=probes), laplacian(energy.energy, x))


@pytest.mark.parametrize("probe", ["gaussian", "rademacher", "sphere"])
@pytest.mark.parametrize("event", EVENTS)
def test_hutchinson_is_unbiased_within_three_standard_errors(probe, event):
    score = Score(make_net("score", event))
    x = _data(event, b=2)
    k = 4000
    xs = x.repeat(k, *([1] * (x.ndim - 1)))  # k single-probe estimates per sample
    est = divergence_hutchinson(score.score, xs, probe=probe, generator=torch.Generator().manual_seed(3))
    est = est.reshape(k, 2)
    exact = divergence(score.score, x)
    z = (est.mean(0) - exact) / (est.std(0) / math.sqrt(k))
    assert z.abs().max() < 3, z


@pytest.mark.parametrize("probe", ["gaussian", "rademacher", "sphere"])
def test_probes_have_identity_covariance(probe):
    v = draw_probes(torch.zeros(1, 5), 40000, probe, generator=torch.Generator().manual_seed(0))[:, 0]
    cov = v.T @ v / v.shape[0]
    # each entry of the empirical second moment has sd ≤ sqrt(3/n) ≈ 0.009 for these laws
    assert (cov - torch.eye(5)).abs().max() < 0.045
    if probe == "rademacher":
        assert set(v.unique().tolist()) == {-1.0, 1.0}
    if probe == "sphere":
        assert_close(v.norm(dim=-1), torch.full((v.shape[0],), math.sqrt(5)))


def test_same_generator_same_probes():
    x = torch.zeros(3, 2, 2)
    for kind in ("gaussian", "rademacher", "sphere"):
        a = draw_probes(x, 2, kind, generator=torch.Generator().manual_seed(7))
        b = draw_probes(x, 2, kind, generator=torch.Generator().manual_seed(7))
        assert torch.equal(a, b) and a.shape == (2, 3, 2, 2)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x: draw_probes(x, 0), "n_probes must be an integer >= 1"),
        (lambda x: draw_probes(x, 1, "cauchy"), "unknown probe kind 'cauchy'"),
        (lambda x: divergence_hutchinson(lambda z: z, x, n_probes=-1), "n_probes"),
        (lambda x: score_of_energy(lambda z: z, x), "one value per sample"),
        (lambda x: divergence(lambda z: z.sum(-1), x), "shape of its input"),
        (lambda x: divergence_hutchinson(lambda z: z, x, probes=torch.ones(2, 3)), "probes must have shape"),
    ],
)
def test_bad_options_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(torch.randn(4, 3))
