"""One contract for every loss × {energy, score} × {vector, image} events: shape (B,), finite values,
gradients reach every parameter, the same generator seed gives the same value."""

import pytest
import torch

from scorematch import Energy, Score
from scorematch.diffusion import VE, VP, SubVP
from scorematch.losses import (
    continuous_denoising,
    denoising,
    explicit,
    finite_difference_sliced,
    multiscale_denoising,
    sliced,
)
from scorematch.schedules import geometric_sigmas

from nets import make_net

LOSSES = {
    # name: (loss(field, x, generator), needs a noise-conditional net, is random)
    "explicit": (lambda f, x, g: explicit(f, x), False, False),
    "sliced": (lambda f, x, g: sliced(f, x, n_probes=2, generator=g), False, True),
    "sliced-vr": (lambda f, x, g: sliced(f, x, probe="rademacher", variance_reduction=True, generator=g),
                  False, True),
    "denoising": (lambda f, x, g: denoising(f, x, sigma=0.1, generator=g), False, True),
    "multiscale-ladder": (lambda f, x, g: multiscale_denoising(f, x, sigmas=geometric_sigmas(1.0, 0.01, 5),
                                                               generator=g), True, True),
    "multiscale-range": (lambda f, x, g: multiscale_denoising(f, x, sigma_range=(0.01, 1.0), generator=g),
                         True, True),
    "fd-ssm": (lambda f, x, g: finite_difference_sliced(f, x, n_probes=2, generator=g), False, True),
    "continuous-ve": (lambda f, x, g: continuous_denoising(f, x, sde=VE(0.01, 5.0), generator=g), True, True),
    "continuous-vp": (lambda f, x, g: continuous_denoising(f, x, sde=VP(), weighting="likelihood", generator=g),
                      True, True),
    "continuous-subvp": (lambda f, x, g: continuous_denoising(f, x, sde=SubVP(), generator=g), True, True),
}
EVENTS = {"vector": (3,), "image": (2, 4, 4)}


@pytest.mark.parametrize("event", list(EVENTS))
@pytest.mark.parametrize("kind", ["energy", "score"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_contract(name, kind, event):
    loss_fn, conditional, random = LOSSES[name]
    shape = EVENTS[event]
    net = make_net(kind, shape, conditional=conditional)
    field = (Energy if kind == "energy" else Score)(net)
    b = 5
    x = torch.randn(b, *shape, generator=torch.Generator().manual_seed(0))

    value = loss_fn(field, x, torch.Generator().manual_seed(1))
    assert value.shape == (b,)
    assert value.dtype == x.dtype
    assert torch.isfinite(value).all()

    value.mean().backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None, f"no gradient reaches {pname}"
        assert torch.isfinite(p.grad).all() and p.grad.abs().max() > 0, f"zero gradient for {pname}"

    again = loss_fn(field, x, torch.Generator().manual_seed(1))
    assert torch.equal(value.detach(), again.detach())
    if random:
        other = loss_fn(field, x, torch.Generator().manual_seed(2))
        assert not torch.equal(value.detach(), other.detach())


@pytest.mark.parametrize("name", list(LOSSES))
def test_float32_in_float32_out(name):
    loss_fn, conditional, _ = LOSSES[name]
    net = make_net("score", (3,), conditional=conditional).float()
    x = torch.randn(4, 3, dtype=torch.float32)
    value = loss_fn(Score(net), x, torch.Generator().manual_seed(0))
    assert value.dtype == torch.float32 and torch.isfinite(value).all()
