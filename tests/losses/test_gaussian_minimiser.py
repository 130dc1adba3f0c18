"""Each objective, minimised over the Gaussian family on Gaussian data, recovers the data's mean and precision."""

import pytest
import torch

from scorematch.losses import denoising, explicit, finite_difference_sliced, multiscale_denoising, sliced

from gaussian import GaussianFamily
from tolerances import assert_close

D, N = 3, 20_000
MU = torch.tensor([1.0, -2.0, 0.5])
COV = torch.tensor([[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.5]])


def _data():
    g = torch.Generator().manual_seed(0)
    return MU.double() + torch.randn(N, D, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(COV.double()).T


# DSM's minimiser carries the noise of ε/σ (sd of the mean ≈ ‖Σ‖/(σ√n)); denoising objectives see each
# data point with REPEATS noise draws so that their error stays at the level of the data's own.
REPEATS = 8

OBJECTIVES = {
    # name: (loss(field, x, generator), model options)
    "esm": (lambda f, x, g: explicit(f, x), {}),
    "ssm": (lambda f, x, g: sliced(f, x, generator=g), {}),
    "ssm-vr": (lambda f, x, g: sliced(f, x, variance_reduction=True, generator=g), {}),
    "fd-ssm": (lambda f, x, g: finite_difference_sliced(f, x, fd_step=0.05, generator=g), {}),
    "dsm": (lambda f, x, g: denoising(f, x.repeat(REPEATS, 1), sigma=0.3, generator=g),
            dict(noise_aware=True, sigma=0.3)),
    "ncsn": (lambda f, x, g: multiscale_denoising(f, x.repeat(REPEATS, 1), sigmas=[1.0, 0.5, 0.25], generator=g),
             dict(noise_aware=True)),
}


def _fit(name, kind, x):
    loss_fn, options = OBJECTIVES[name]
    model = GaussianFamily(D, kind=kind, **options)
    field = model.field()
    opt = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=500, tolerance_grad=1e-12,
                            tolerance_change=1e-15, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = loss_fn(field, x, torch.Generator().manual_seed(1)).mean()  # same draws every call
        loss.backward()
        return loss

    opt.step(closure)
    return model.mu.detach(), model.precision().detach()


def test_explicit_minimiser_is_the_maximum_likelihood_gaussian():
    # for the full Gaussian family, explicit SM's minimiser is the sample mean and inverse (biased) covariance
    x = _data()
    mu, p = _fit("esm", "energy", x)
    xc = x - x.mean(0)
    assert_close(mu, x.mean(0), atol=1e-7, rtol=1e-7)
    assert_close(p, torch.linalg.inv(xc.T @ xc / N), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("kind", ["energy", "score"])
@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_minimiser_recovers_mean_and_precision(name, kind):
    x = _data()
    mu, p = _fit(name, kind, x)
    p_true = torch.linalg.inv(COV.double())
    mu_err = (mu - MU).abs().max().item()
    p_err = ((p - p_true).norm() / p_true.norm()).item()
    # sd of the data's own sample mean is ≤ √(2/N) = 0.01: 0.05 is five of them
    assert mu_err < 0.05 and p_err < 0.05
