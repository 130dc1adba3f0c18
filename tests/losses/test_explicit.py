"""Explicit score matching against its closed form for Gaussian energies."""

import pytest
import torch

from scorematch import Energy, Score
from scorematch.derivatives import divergence
from scorematch.losses import explicit

from gaussian import quadratic_energy
from nets import make_net
from tolerances import assert_close


def _random_p(d, kind, g):
    a = torch.randn(d, d, generator=g)
    if kind == "spd":
        return a @ a.T + 0.5 * torch.eye(d)
    if kind == "indefinite":
        return a + a.T
    return a  # not symmetric: the score uses its symmetric part


@pytest.mark.parametrize("p_kind", ["spd", "indefinite", "nonsymmetric"])
@pytest.mark.parametrize("event", [(4,), (2, 2, 3)])
def test_gaussian_energy_per_sample_closed_form(p_kind, event):
    g = torch.Generator().manual_seed(0)
    d = torch.Size(event).numel()
    p, mu = _random_p(d, p_kind, g), torch.randn(d, generator=g)
    x = torch.randn(16, *event, generator=g)
    ps = 0.5 * (p + p.T)
    expected = 0.5 * ((x.flatten(1) - mu) @ ps).square().sum(-1) - torch.trace(p)
    assert_close(explicit(Energy(quadratic_energy(mu, p)), x), expected)
    score = Score(lambda z: -((z.flatten(1) - mu) @ ps).reshape(z.shape))
    assert_close(explicit(score, x), expected)


def test_gaussian_energy_expectation_closed_form():
    # E_x[½‖P(x−μ)‖² − tr P] for x ~ N(m, Σ) is ½ tr(P (Σ + (m−μ)(m−μ)ᵀ) P) − tr P
    g = torch.Generator().manual_seed(1)
    d, n = 3, 200_000
    a = torch.randn(d, d, generator=g)
    p, mu, m = a @ a.T + torch.eye(d), torch.randn(d, generator=g), torch.randn(d, generator=g)
    c = torch.randn(d, d, generator=g)
    cov = c @ c.T + 0.1 * torch.eye(d)
    x = m + torch.randn(n, d, generator=g) @ torch.linalg.cholesky(cov).T
    values = explicit(Energy(quadratic_energy(mu, p)), x)
    dm = (m - mu).unsqueeze(1)
    expected = 0.5 * torch.trace(p @ (cov + dm @ dm.T) @ p) - torch.trace(p)
    se = values.std() / n**0.5
    assert abs(values.mean() - expected) < 4 * se


@pytest.mark.parametrize("kind", ["energy", "score"])
def test_explicit_is_half_squared_norm_plus_exact_divergence(kind):
    event = (2, 3, 3)
    field = (Energy if kind == "energy" else Score)(make_net(kind, event))
    x = torch.randn(3, *event, generator=torch.Generator().manual_seed(2))
    s = field.score(x)
    expected = 0.5 * s.flatten(1).square().sum(-1) + divergence(field.score, x)
    assert_close(explicit(field, x), expected)
    assert_close(explicit(field, x, chunk_size=5), expected)


def test_unwrapped_model_is_rejected():
    with pytest.raises(TypeError, match=r"ambiguous; wrap it in Energy\(fn\).*or Score\(fn\)"):
        explicit(torch.nn.Linear(2, 1), torch.randn(3, 2))


def test_the_forward_laplacian_path_agrees_with_the_generic_exact_path():
    from scorematch.derivatives import value_and_divergence
    from scorematch.models import EnergyMLP

    torch.manual_seed(0)
    model = Energy(EnergyMLP((2, 5), hidden=8, depth=2))  # D = 10 > width: the Gram path
    assert model.uses_sweeps
    x = torch.randn(6, 2, 5, generator=torch.Generator().manual_seed(1))
    fast = explicit(model, x)
    s, div = value_and_divergence(model.score, x)
    generic = 0.5 * s.flatten(1).square().sum(-1) + div
    assert_close(fast, generic)
    params = list(model.parameters())
    for a, b in zip(torch.autograd.grad(fast.sum(), params), torch.autograd.grad(generic.sum(), params), strict=True):
        assert_close(a, b)
