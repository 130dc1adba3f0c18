"""Harder analytic targets: closed-form scores against autograd, normalisation by quadrature, exact sampling
checked by moments in standard errors."""

import math

import pytest
import torch

from scorematch.models.targets import Banana, Funnel, LogisticICA, StudentT

from tolerances import assert_close


def _targets():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 3, generator=g, dtype=torch.float64)
    return {
        "student-t": StudentT(torch.tensor([0.5, -1.0, 0.0]), a @ a.T + 0.5 * torch.eye(3), df=5.0),
        "funnel": Funnel(4, scale=1.0),
        "banana": Banana(3, curvature=0.8, scale=1.2),
        "ica": LogisticICA(a + 2 * torch.eye(3)),
    }


@pytest.mark.parametrize("name", list(_targets()))
def test_score_is_the_gradient_of_log_prob(name):
    target = _targets()[name]
    x = torch.randn(64, target.dim, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 1.5
    x.requires_grad_(True)
    auto = torch.autograd.grad(target.log_prob(x).sum(), x)[0]
    assert_close(target.score(x.detach()), auto)


@pytest.mark.parametrize("target", [
    StudentT([0.3, -0.2], [[1.0, 0.4], [0.4, 0.8]], df=5.0), Funnel(2, scale=0.8), Banana(2, curvature=0.5),
    LogisticICA([[1.0, 0.5], [-0.3, 0.8]]),
], ids=["student-t", "funnel", "banana", "ica"])
def test_log_prob_is_normalised(target):
    """Riemann sum over a box holding all but ~1e-6 of the mass (the Student-t's tails are polynomial)."""
    t = torch.linspace(-80, 80, 3201, dtype=torch.float64) if isinstance(target, StudentT) \
        else torch.linspace(-25, 25, 2001)
    xx, yy = torch.meshgrid(t, t, indexing="ij")
    mass = target.log_prob(torch.stack([xx, yy], -1)).exp().sum() * (t[1] - t[0]) ** 2
    assert abs(float(mass) - 1) < 2e-3, float(mass)


def test_student_t_in_one_dimension_matches_torch():
    x = torch.linspace(-6, 6, 25, dtype=torch.float64).unsqueeze(-1)
    ours = StudentT([0.5], [[4.0]], df=3.5).log_prob(x)
    ref = torch.distributions.StudentT(3.5, 0.5, 2.0).log_prob(x.squeeze(-1))
    assert_close(ours, ref)


@pytest.mark.parametrize("name", list(_targets()))
def test_samples_have_the_stated_mean_and_covariance(name):
    """Sample means within 5 standard errors; second moments within 5 standard errors of their estimate."""
    target = _targets()[name]
    x = target.sample(200_000, generator=torch.Generator().manual_seed(2)).double()
    n = x.shape[0]
    se = x.std(0) / math.sqrt(n)
    assert ((x.mean(0) - target.mean.double()).abs() < 5 * se).all(), (x.mean(0), target.mean)
    c = x - target.mean.double()
    prod = c.unsqueeze(-1) * c.unsqueeze(-2)
    se2 = prod.std(0) / math.sqrt(n)
    assert ((prod.mean(0) - target.cov.double()).abs() < 5 * se2 + 1e-12).all(), (prod.mean(0), target.cov)


def test_sampling_is_reproducible_with_a_generator():
    t = _targets()["student-t"]
    a, b = (t.sample(10, generator=torch.Generator().manual_seed(3)) for _ in range(2))
    assert torch.equal(a, b)


@pytest.mark.parametrize("make", [lambda: Funnel(1), lambda: Banana(1), lambda: LogisticICA(torch.zeros(2, 2)),
                                  lambda: StudentT([0.0], [[-1.0]], df=3), lambda: StudentT([0.0], [[1.0]], df=0)])
def test_bad_parameters_raise_one_clear_error(make):
    with pytest.raises(ValueError):
        make()
