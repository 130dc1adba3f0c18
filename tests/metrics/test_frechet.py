"""The Fréchet distance against closed forms and a general matrix square root."""

import pytest
import scipy.linalg
import torch

from scorematch.metrics.frechet import frechet_distance, gaussian_frechet


def _spd(k, seed):
    a = torch.randn(k, k, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return a @ a.T + 0.1 * torch.eye(k, dtype=torch.float64)


def test_commuting_covariances_give_the_sum_of_squared_root_differences():
    a, b = torch.tensor([1.0, 4.0, 9.0], dtype=torch.float64), torch.tensor([4.0, 1.0, 9.0], dtype=torch.float64)
    mu = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    exact = float(mu.square().sum() + (a.sqrt() - b.sqrt()).square().sum())  # 5.25 + 1 + 1
    assert gaussian_frechet(mu, torch.diag(a), torch.zeros(3, dtype=torch.float64), torch.diag(b)) == pytest.approx(
        exact, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_general_covariances_match_scipys_square_root_of_the_product(seed):
    a, b = _spd(6, seed), _spd(6, seed + 10)
    ma, mb = torch.randn(6, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    root = scipy.linalg.sqrtm((a @ b).numpy()).real  # tr (AB)^{1/2} = tr (A^{1/2} B A^{1/2})^{1/2}
    exact = float((ma - mb).square().sum() + torch.trace(a) + torch.trace(b)) - 2 * float(root.trace())
    assert gaussian_frechet(ma, a, mb, b) == pytest.approx(exact, rel=1e-9)
    assert gaussian_frechet(mb, b, ma, a) == pytest.approx(exact, rel=1e-9)  # symmetric
    assert gaussian_frechet(ma, a, ma, a) == pytest.approx(0.0, abs=1e-9)


def test_samples_use_their_moments_and_tend_to_zero_for_one_law():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20000, 4, generator=g, dtype=torch.float64)
    y = torch.randn(20000, 4, generator=g, dtype=torch.float64) * 2 + 1
    moments = gaussian_frechet(x.mean(0), torch.cov(x.T), y.mean(0), torch.cov(y.T))
    assert frechet_distance(x, y) == pytest.approx(moments, rel=1e-12)
    assert frechet_distance(x, y) == pytest.approx(4 + 4 * 1.0, rel=0.05)  # ‖1‖² + 4·(2 − 1)²
    same = frechet_distance(x[:10000], x[10000:])
    assert 0 <= same < 0.01  # the finite-sample bias, about (tr Σ + k(k+1)/4)(1/n + 1/n) = 1.8e-3
    with pytest.raises(ValueError, match="need features"):
        frechet_distance(x[:1], y)
