"""NoiseConditionalScoreCNN: any image size, size budget, gradients through the losses, per-sample
independence, σ conditioning and scaling, option checks, init, and a learning check on Gaussian images."""

import pytest
import torch
from torch import nn

from scorematch import Score
from scorematch._infra.shapes import per_sample_view
from scorematch.losses import multiscale_denoising, sliced
from scorematch.models.conv import NoiseConditionalScoreCNN
from scorematch.schedules import geometric_sigmas

from tolerances import assert_close


def small(channels=1, **kw):
    return NoiseConditionalScoreCNN(channels, **{"width": 8, "n_blocks": 2, "groups": 4, "cond_width": 8, **kw})


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 5, 7), (3, 4, 4), (2, 1, 1)])
def test_shapes_and_dtypes(shape, dtype):
    net = small(shape[0]).to(dtype)
    x = torch.randn(3, *shape, dtype=dtype)
    out = net(x, torch.tensor([0.1, 1.0, 10.0], dtype=dtype))
    assert out.shape == x.shape and out.dtype == dtype and torch.isfinite(out).all()


def test_default_size_and_digits():
    for channels in (1, 3):
        n = sum(p.numel() for p in NoiseConditionalScoreCNN(channels).parameters())
        assert 50_000 <= n <= 200_000, f"{n} parameters for {channels} channel(s)"
    net = NoiseConditionalScoreCNN(1)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())
    assert net(torch.randn(2, 1, 8, 8), 0.5).shape == (2, 1, 8, 8)


LOSSES = {
    "multiscale-ladder": lambda net, x, g: multiscale_denoising(Score(net), x, sigmas=geometric_sigmas(1.0, 0.01, 4),
                                                                generator=g),
    "multiscale-range": lambda net, x, g: multiscale_denoising(Score(net), x, sigma_range=(0.01, 1.0), generator=g),
    # second derivatives through convolutions and GroupNorm, at a fixed σ
    "sliced": lambda net, x, g: sliced(Score(lambda z: net(z, 0.3)), x, generator=g),
}


@pytest.mark.parametrize("groups", [4, None])
@pytest.mark.parametrize("loss", list(LOSSES))
def test_gradients_reach_every_parameter(loss, groups):
    net = small(2, groups=groups)
    x = torch.randn(4, 2, 3, 5, generator=torch.Generator().manual_seed(0))
    value = LOSSES[loss](net, x, torch.Generator().manual_seed(1))
    assert value.shape == (4,) and torch.isfinite(value).all()
    value.mean().backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None, f"no gradient reaches {pname}"
        assert torch.isfinite(p.grad).all() and p.grad.abs().max() > 0, f"zero gradient for {pname}"


@pytest.mark.parametrize("groups", [4, None])
def test_each_output_depends_on_its_own_sample_only(groups):
    net = small(1, groups=groups)
    x, sigma = torch.randn(3, 1, 3, 5), torch.tensor([0.1, 1.0, 5.0])
    jac = torch.autograd.functional.jacobian(lambda z: net(z, sigma), x)
    jac = jac.reshape(3, 15, 3, 15).permute(0, 2, 1, 3)  # (out sample, in sample, out pixel, in pixel)
    off_diagonal = ~torch.eye(3, dtype=torch.bool)
    assert jac[off_diagonal].abs().max() == 0
    assert jac[~off_diagonal].abs().amax(dim=(1, 2)).min() > 0
    x2, sigma2 = x.clone(), sigma.clone()
    x2[1:], sigma2[1:] = torch.randn(2, 1, 3, 5), 3 * sigma[1:]
    assert_close(net(x2, sigma2)[0], net(x, sigma)[0])
    net.eval()  # no batch statistics or dropout: train and eval modes agree
    assert_close(net(x, sigma), net.train()(x, sigma))


def test_scale_by_sigma_divides_by_sigma():
    torch.manual_seed(0)
    scaled = small(1)
    torch.manual_seed(0)
    raw = small(1, scale_by_sigma=False)
    assert scaled.scale_by_sigma and not raw.scale_by_sigma  # on by default
    x, sigma = torch.randn(4, 1, 5, 7), torch.tensor([0.01, 0.1, 1.0, 10.0])
    out, plain = scaled(x, sigma), raw(x, sigma)
    assert_close(out * per_sample_view(sigma, out), plain)
    assert not torch.allclose(out, plain)


def test_sigma_changes_the_output_and_its_forms_agree():
    net, x = small(1, scale_by_sigma=False), torch.randn(3, 1, 5, 7)
    a, b = net(x, 0.1), net(x, 1.0)
    assert ((a - b).flatten(1).norm(dim=-1) > 1e-3 * a.flatten(1).norm(dim=-1)).all()
    assert_close(net(x, torch.tensor(0.1)), a)
    assert_close(net(x, torch.full((3,), 0.1)), a)


def test_same_seed_same_init():
    def params(seed):
        torch.manual_seed(seed)
        return list(small(1).parameters())

    assert all(torch.equal(p, q) for p, q in zip(params(0), params(0), strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(params(0), params(1), strict=True))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(channels=0), r"channels must be an integer >= 1, got 0"),
        (dict(width=0), r"width must be an integer >= 1, got 0"),
        (dict(n_blocks=0), r"n_blocks must be an integer >= 1, got 0"),
        (dict(cond_width=0), r"cond_width must be an integer >= 1, got 0"),
        (dict(groups=0), r"groups must be an integer >= 1, got 0"),
        (dict(width=12, groups=8), r"width must be a multiple of groups; got width=12, groups=8"),
        (dict(n_frequencies=0), r"n_frequencies must be an integer >= 1, got 0"),
    ],
)
def test_bad_options_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NoiseConditionalScoreCNN(**{"channels": 1, **kwargs})


def test_wrong_input_raises():
    net = small(3)
    for x in (torch.randn(2, 1, 4, 4), torch.randn(2, 3, 4)):
        with pytest.raises(ValueError, match=r"expects images of shape \(B, 3, h, w\)"):
            net(x, 0.1)
    with pytest.raises(ValueError, match=r"sigma must be a number or have shape \(2,\)"):
        net(torch.randn(2, 3, 4, 4), torch.ones(3))


@pytest.mark.slow
def test_learns_correlated_gaussian_images():
    """Images 1×5×7, x = 0.5 + 0.3·z + 0.4·u (z per pixel, u one per image, both N(0, 1)): the true score of
    the σ-smoothed data couples every pixel to the whole image, so the best per-pixel rule −(x − 0.5)/Var(xᵢ)
    has relative error 0.60 at σ = 0.1 and 0.11 at σ = 1. float32, 200 Adam steps; measured 0.025–0.041 at
    σ = 0.1 and 0.009–0.013 at σ = 1 (init seeds 0–3); thresholds 0.1 and 0.05. About 3 s on one core."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    try:
        cov = 0.09 * torch.eye(35) + 0.16 * torch.ones(35, 35)

        def draw(n, sigma, g):
            return (0.5 + 0.3 * torch.randn(n, 1, 5, 7, generator=g) + 0.4 * torch.randn(n, 1, 1, 1, generator=g)
                    + sigma * torch.randn(n, 1, 5, 7, generator=g))

        torch.manual_seed(0)
        g = torch.Generator().manual_seed(1)
        net, steps = NoiseConditionalScoreCNN(1, width=16, n_blocks=2), 200
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1 - i / steps)
        for _ in range(steps):
            loss = multiscale_denoising(Score(net), draw(64, 0.0, g), sigmas=[1.0, 0.1], generator=g).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
        for sigma, threshold in [(0.1, 0.1), (1.0, 0.05)]:
            x = draw(2048, sigma, g)
            true = -torch.linalg.solve(cov + sigma**2 * torch.eye(35), (x.flatten(1) - 0.5).T).T
            with torch.no_grad():
                err = (net(x, sigma).flatten(1) - true).square().sum(-1).mean() / true.square().sum(-1).mean()
            assert err < threshold, f"relative Fisher divergence {err:.3f} at σ = {sigma}"
    finally:
        torch.set_num_threads(previous)
        torch.set_default_dtype(torch.float64)
