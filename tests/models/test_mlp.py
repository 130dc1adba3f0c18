"""EnergyMLP, ScoreMLP and their noise-conditional versions: shapes, a walkable trunk, gradients through the
losses, per-sample independence, activation warnings, option checks, σ conditioning, init, and learning."""

import warnings

import pytest
import torch
from torch import nn

from scorematch import Energy, Score
from scorematch._infra.shapes import per_sample_view
from scorematch.losses import denoising, explicit, finite_difference_sliced, multiscale_denoising, sliced
from scorematch.models.embedding import SigmaEmbedding
from scorematch.models.mlp import (
    ACTIVATIONS,
    EnergyMLP,
    NoiseConditionalEnergyMLP,
    NoiseConditionalScoreMLP,
    ScoreMLP,
)
from scorematch.schedules import geometric_sigmas

from tolerances import assert_close

CLASSES = {"energy": EnergyMLP, "score": ScoreMLP, "nc-energy": NoiseConditionalEnergyMLP,
           "nc-score": NoiseConditionalScoreMLP}
CONDITIONAL = {"nc-energy", "nc-score"}
SMOOTH = [a for a in ACTIVATIONS if a not in ("relu", "leaky_relu")]


def build(name, event, **kw):
    kw.setdefault("hidden", 16)
    return CLASSES[name](event[0] if len(event) == 1 else event, **kw)


def wrap(name, net):
    return (Energy if "energy" in name else Score)(net)


def call(name, net, x, sigma=0.3):
    return net(x, sigma) if name in CONDITIONAL else net(x)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("event", [(1,), (3,), (2, 3), (1, 4, 4)])
@pytest.mark.parametrize("name", list(CLASSES))
def test_shapes_and_dtypes(name, event, dtype):
    net = build(name, event).to(dtype)
    x = torch.randn(5, *event, dtype=dtype)
    out = call(name, net, x)
    assert out.shape == ((5,) if "energy" in name else x.shape) and out.dtype == dtype
    s = wrap(name, net).score(x, *([torch.full((5,), 0.3, dtype=dtype)] if name in CONDITIONAL else []))
    assert s.shape == x.shape and s.dtype == dtype and torch.isfinite(s).all()


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("name", list(CLASSES))
def test_trunk_is_a_plain_sequential(name, depth):
    net = build(name, (2, 3), depth=depth, activation="tanh")
    layers = list(net.net)
    assert isinstance(net.net, nn.Sequential) and len(layers) == 2 * depth + 1
    assert all(isinstance(m, nn.Linear) for m in layers[::2]) and all(isinstance(m, nn.Tanh) for m in layers[1::2])
    n_in = 6 + (net.embed.dim if name in CONDITIONAL else 0)
    assert layers[0].in_features == n_in and layers[-1].out_features == (1 if "energy" in name else 6)
    assert (layers[-1].bias is None) == ("energy" in name)  # an energy's output bias could never be trained


LOSSES = {
    "explicit": lambda f, x, g: explicit(f, x),
    "sliced": lambda f, x, g: sliced(f, x, n_probes=2, generator=g),
    "denoising": lambda f, x, g: denoising(f, x, sigma=0.1, generator=g),
    "fd-ssm": lambda f, x, g: finite_difference_sliced(f, x, generator=g),
    "multiscale-ladder": lambda f, x, g: multiscale_denoising(f, x, sigmas=geometric_sigmas(1.0, 0.01, 5),
                                                              generator=g),
    "multiscale-range": lambda f, x, g: multiscale_denoising(f, x, sigma_range=(0.01, 1.0), generator=g),
}
CASES = [(n, loss) for n in CLASSES for loss in LOSSES if (n in CONDITIONAL) == loss.startswith("multiscale")]


@pytest.mark.parametrize("event", [(3,), (2, 2)])
@pytest.mark.parametrize(("name", "loss"), CASES)
def test_gradients_reach_every_parameter(name, loss, event):
    net = build(name, event)
    x = torch.randn(6, *event, generator=torch.Generator().manual_seed(0))
    value = LOSSES[loss](wrap(name, net), x, torch.Generator().manual_seed(1))
    assert value.shape == (6,) and torch.isfinite(value).all()
    value.mean().backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None, f"no gradient reaches {pname}"
        assert torch.isfinite(p.grad).all() and p.grad.abs().max() > 0, f"zero gradient for {pname}"


@pytest.mark.parametrize("name", list(CLASSES))
def test_each_output_depends_on_its_own_sample_only(name):
    net = build(name, (2, 3))
    x, sigma = torch.randn(4, 2, 3), torch.tensor([0.1, 0.5, 1.0, 2.0])
    jac = torch.autograd.functional.jacobian(lambda z: call(name, net, z, sigma), x)
    jac = jac.reshape(4, -1, 4, 6)  # (out sample, out coordinate, in sample, in coordinate)
    off_diagonal = ~torch.eye(4, dtype=torch.bool)
    assert jac.permute(0, 2, 1, 3)[off_diagonal].abs().max() == 0
    assert jac.permute(0, 2, 1, 3)[~off_diagonal].abs().min() > 0
    if name in CONDITIONAL:  # neither the other samples nor their σ reach sample 0
        x2, sigma2 = x.clone(), sigma.clone()
        x2[1:], sigma2[1:] = torch.randn(3, 2, 3), 3 * sigma[1:]
        assert_close(net(x2, sigma2)[0], net(x, sigma)[0])


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
@pytest.mark.parametrize("name", ["energy", "nc-energy"])
def test_piecewise_linear_energy_warns(name, activation):
    with pytest.warns(UserWarning, match="Laplacian is zero almost everywhere") as record:
        CLASSES[name](2, activation=activation)
    assert record[0].filename == __file__  # points at the caller's line


@pytest.mark.parametrize("activation", SMOOTH)
@pytest.mark.parametrize("name", list(CLASSES))
def test_smooth_activations_do_not_warn(name, activation):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(name, (2,), activation=activation)


@pytest.mark.parametrize("name", ["score", "nc-score"])
def test_relu_score_does_not_warn(name):  # its Jacobian is piecewise constant, not zero
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(name, (2,), activation="relu")


BAD = [
    (dict(activation="swish"), r"unknown activation 'swish'; choose one of: silu, softplus, tanh, gelu, elu, relu"),
    (dict(hidden=0), r"hidden must be an integer >= 1, got 0"),
    (dict(hidden=2.5), r"hidden must be an integer >= 1, got 2.5"),
    (dict(depth=0), r"depth must be an integer >= 1, got 0"),
    (dict(depth=True), r"depth must be an integer >= 1, got True"),
    (dict(dim=0), r"dim must be an integer >= 1, got 0"),
    (dict(dim=(2, 0)), r"every entry of dim \(2, 0\) must be an integer >= 1, got 0"),
    (dict(dim=()), r"dim must be an integer >= 1 or a non-empty event shape"),
]


@pytest.mark.parametrize(("kwargs", "match"), BAD)
@pytest.mark.parametrize("name", list(CLASSES))
def test_bad_options_raise(name, kwargs, match):
    kwargs = {"dim": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        CLASSES[name](**kwargs)


@pytest.mark.parametrize("name", list(CLASSES))
def test_wrong_input_shape_raises(name):
    net = build(name, (2, 3))
    with pytest.raises(ValueError, match=r"expects inputs of shape \(B, 2, 3\); got \(4, 3, 2\)"):
        call(name, net, torch.randn(4, 3, 2))


@pytest.mark.parametrize("name", sorted(CONDITIONAL))
def test_sigma_forms_and_checks(name):
    net, x = build(name, (3,)), torch.randn(4, 3)
    expected = net(x, torch.full((4,), 0.2))
    assert_close(net(x, 0.2), expected)
    assert_close(net(x, torch.tensor(0.2)), expected)
    with pytest.raises(ValueError, match=r"sigma must be a number or have shape \(4,\) for a batch of 4; got \(4, 1\)"):
        net(x, torch.full((4, 1), 0.2))
    with pytest.raises(ValueError, match=r"sigma must be a finite number > 0, got 0\.0"):
        net(x, 0.0)
    with pytest.raises(ValueError, match="n_frequencies must be an integer >= 1, got 0"):
        CLASSES[name](3, n_frequencies=0)


@pytest.mark.parametrize("name", sorted(CONDITIONAL))
def test_scale_by_sigma_divides_by_sigma(name):
    torch.manual_seed(0)
    scaled = build(name, (2, 3))
    torch.manual_seed(0)
    raw = build(name, (2, 3), scale_by_sigma=False)
    assert scaled.scale_by_sigma and not raw.scale_by_sigma  # on by default
    x, sigma = torch.randn(4, 2, 3), torch.tensor([0.01, 0.1, 1.0, 10.0])
    out, plain = scaled(x, sigma), raw(x, sigma)
    assert_close(out * per_sample_view(sigma, out), plain)
    assert not torch.allclose(out, plain)


@pytest.mark.parametrize("name", sorted(CONDITIONAL))
def test_sigma_changes_the_output(name):
    net, x = build(name, (3,), scale_by_sigma=False), torch.randn(5, 3)
    a, b = net(x, 0.1), net(x, 1.0)
    assert ((a - b).reshape(5, -1).norm(dim=-1) > 1e-3 * a.reshape(5, -1).norm(dim=-1)).all()


def test_sigma_embedding():
    emb = SigmaEmbedding(3)
    sigmas = geometric_sigmas(50.0, 0.01, 10)
    e = emb(sigmas)
    assert e.shape == (10, 7) and emb.dim == 7
    assert_close(e[:, 0], sigmas.log())
    assert torch.cdist(e, e)[~torch.eye(10, dtype=torch.bool)].min() > 0.1  # levels stay apart


@pytest.mark.parametrize("name", list(CLASSES))
def test_same_seed_same_init(name):
    def params(seed):
        torch.manual_seed(seed)
        return list(build(name, (3,)).parameters())

    assert all(torch.equal(p, q) for p, q in zip(params(0), params(0), strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(params(0), params(1), strict=True))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_variance_init_keeps_activations_of_order_one(activation):
    torch.manual_seed(0)
    net = ScoreMLP(16, hidden=512, depth=4, activation=activation, init="variance").net  # 16 outputs: their mean is stable
    h = torch.randn(2048, 16)
    for layer in net:  # every pre-activation and the output: second moment ≈ 1 (accepted: 0.5 to 2)
        h = layer(h)
        if isinstance(layer, nn.Linear):
            assert 0.5 < h.square().mean() < 2.0, f"second moment {h.square().mean():.3f} after {layer}"


def test_torch_init_is_pytorchs_own():
    torch.manual_seed(0)
    ours = EnergyMLP(3, hidden=8, depth=2).net
    torch.manual_seed(0)
    ref = nn.Sequential(nn.Linear(3, 8), nn.SiLU(), nn.Linear(8, 8), nn.SiLU(), nn.Linear(8, 1, bias=False))
    assert all(torch.equal(p, q) for p, q in zip(ours.parameters(), ref.parameters(), strict=True))


def test_unknown_init_is_refused():
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        EnergyMLP(2, init="xavier")


# ---- learning: fit the score of a 2-D Gaussian smoothed at σ, N(μ, Σ + σ²I), with a decaying step ----------
MU = torch.tensor([1.0, -0.5], dtype=torch.float64)
CHOL = torch.tensor([[1.0, 0.0], [0.6, 0.5]], dtype=torch.float64)


def smoothed_gaussian(n, sigma, g):
    return MU + torch.randn(n, 2, generator=g) @ CHOL.T + sigma * torch.randn(n, 2, generator=g)


def relative_fisher(score_fn, sigma, g):
    """E‖s − s*‖² / E‖s*‖² over the σ-smoothed data, s* = −(Σ + σ²I)⁻¹(x − μ)."""
    x = smoothed_gaussian(4096, sigma, g)
    true = -torch.linalg.solve(CHOL @ CHOL.T + sigma**2 * torch.eye(2), (x - MU).T).T
    with torch.no_grad():
        return ((score_fn(x) - true).square().sum(-1).mean() / true.square().sum(-1).mean()).item()


@pytest.fixture
def one_thread():
    """Tiny matrices gain nothing from intra-op threads, and on shared cores spinning threads cost 10×."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def train(model, loss_fn, steps=300, batch=256, lr=1e-2):
    g = torch.Generator().manual_seed(1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1 - i / steps)
    for _ in range(steps):
        loss = loss_fn(model, smoothed_gaussian(batch, 0.0, g), g).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
    return model


def test_score_mlp_learns_a_smoothed_gaussian(one_thread):
    """Measured ≈ 0.025 (init seeds 0–4); threshold 0.08."""
    torch.manual_seed(0)
    model = train(Score(ScoreMLP(2)), lambda m, x, g: denoising(m, x, sigma=0.1, generator=g))
    assert relative_fisher(model, 0.1, torch.Generator().manual_seed(2)) < 0.08


def test_noise_conditional_score_mlp_learns_two_levels(one_thread):
    """Measured ≈ 0.010–0.014 at σ = 0.1 and ≈ 0.0007 at σ = 1 (init seeds 0–4); thresholds 0.05 and 0.01."""
    torch.manual_seed(0)
    model = train(Score(NoiseConditionalScoreMLP(2)),
                  lambda m, x, g: multiscale_denoising(m, x, sigmas=[1.0, 0.1], generator=g))
    for sigma, threshold in [(0.1, 0.05), (1.0, 0.01)]:
        assert relative_fisher(lambda x, s=sigma: model(x, s), sigma, torch.Generator().manual_seed(2)) < threshold

