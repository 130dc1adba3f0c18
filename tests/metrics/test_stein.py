"""Kernel Stein discrepancy: the closed-form Stein kernel against autograd, Stein's identity, and KSD² near 0
for samples of the target but clearly positive for a shifted law."""

import pytest
import torch
from torch.autograd.functional import hessian, jacobian

from scorematch import Energy, Score
from scorematch.metrics import ksd2, stein_kernel
from scorematch.metrics.kernels import median_bandwidth

from tolerances import assert_close

KERNELS = {  # name: (kernel function of (x, y), keyword arguments of stein_kernel)
    "imq": (lambda x, y: (1.0 + (x - y).square().sum()) ** -0.5, {"kernel": "imq"}),
    "imq-c0.7-b-0.3": (lambda x, y: (0.49 + (x - y).square().sum()) ** -0.3, {"kernel": "imq", "c": 0.7, "beta": -0.3}),
    "rbf": (lambda x, y: torch.exp(-(x - y).square().sum() / (2 * 1.3**2)), {"kernel": "rbf", "bandwidth": 1.3}),
}


def _score(x):  # any smooth vector field will do: the Stein kernel is defined for every s
    return torch.stack([torch.sin(x[..., 1]) - x[..., 0], x[..., 0] * x[..., 2], -x[..., 2] ** 3], -1)


@pytest.mark.parametrize("name", list(KERNELS))
def test_stein_kernel_matches_autograd(name):
    k, kwargs = KERNELS[name]
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(3, generator=g), torch.randn(3, generator=g)
    grad_x, grad_y = jacobian(k, (x, y))
    cross = hessian(lambda z: k(z[:3], z[3:]), torch.cat([x, y]))[:3, 3:]   # ∂²k/∂x_i∂y_j
    sx, sy = _score(x), _score(y)
    expected = sx @ sy * k(x, y) + sx @ grad_y + grad_x @ sy + torch.trace(cross)
    actual = stein_kernel(x[None], y[None], sx[None], sy[None], **kwargs)
    assert_close(actual, expected.reshape(1, 1))


def test_stein_kernel_matrix_is_symmetric_and_pairwise():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(4, 3, generator=g), torch.randn(5, 3, generator=g)
    u = stein_kernel(x, y, _score(x), _score(y))
    assert u.shape == (4, 5)
    assert_close(u[2, 3], stein_kernel(x[2:3], y[3:4], _score(x[2:3]), _score(y[3:4]))[0, 0])
    sym = stein_kernel(x, x, _score(x), _score(x), kernel="rbf")
    assert_close(sym, sym.T)


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_steins_identity_the_kernel_averages_to_zero_under_the_target(kernel):
    # E_{y~p} u_p(x, y) = 0 for every fixed x; here p = N(μ, I) in 2D
    g = torch.Generator().manual_seed(2)
    mu = torch.tensor([0.5, -1.0])
    y = mu + torch.randn(100_000, 2, generator=g)
    x = torch.tensor([[1.0, 2.0], [-0.3, 0.1]])
    u = stein_kernel(x, y, -(x - mu), -(y - mu), kernel=kernel, bandwidth=1.0)
    se = u.std(1) / u.shape[1] ** 0.5
    assert (u.mean(1).abs() < 4 * se).all()


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_ksd_is_near_zero_for_the_target_and_positive_for_a_shifted_law(kernel):
    g = torch.Generator().manual_seed(3)
    target = Score(lambda z: -z)                          # N(0, I) in 3D
    same = torch.randn(1000, 3, generator=g)
    shifted = torch.randn(1000, 3, generator=g) + torch.tensor([0.5, 0.0, 0.0])
    near, far = ksd2(same, target, kernel=kernel), ksd2(shifted, target, kernel=kernel)
    assert abs(near) < 0.1 * far
    assert far > 0.01


def test_score_forms_agree_and_default_bandwidth_is_the_median():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(50, 2, generator=g)
    energy = Energy(lambda z: 0.5 * (z**2).sum(-1))
    values = [ksd2(x, s) for s in (energy, Score(lambda z: -z), lambda z: -z, -x)]
    for v in values[1:]:
        assert_close(v, values[0])
    assert_close(ksd2(x, -x, kernel="rbf"), ksd2(x, -x, kernel="rbf", bandwidth=median_bandwidth(x)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kernel": "laplace"}, "unknown kernel 'laplace'"),
        ({"beta": -1.5}, r"beta must lie in \(-1, 0\), got -1.5"),
        ({"c": 0.0}, "c must be a finite number > 0"),
        ({"kernel": "rbf", "bandwidth": -1.0}, "bandwidth must be a finite number > 0"),
    ],
)
def test_bad_options_raise_one_line_value_errors(kwargs, match):
    x = torch.randn(5, 2)
    with pytest.raises(ValueError, match=match):
        ksd2(x, -x, **kwargs)


def test_bad_inputs_raise():
    x = torch.randn(5, 2)
    with pytest.raises(ValueError, match="shape of the points"):
        ksd2(x, torch.zeros(5, 3))
    with pytest.raises(ValueError, match="at least 2 samples"):
        ksd2(x[:1], -x[:1])
    with pytest.raises(ValueError, match="x contains NaN"):
        ksd2(x * float("nan"), -x)
