"""2D grid normalisation against Gaussian closed forms: log Z, log-likelihood, KL, and the grid layout."""

import math

import pytest
import torch

from scorematch import Energy
from scorematch.metrics import grid_metrics

BOX = ((-9.0, 9.0), (-9.0, 9.0))


def _gaussian(mu, cov):
    p = torch.linalg.inv(cov)

    def energy(x):  # unnormalised, with an offset: Z = 2π √det Σ · e^(-3)
        r = x - mu
        return 0.5 * ((r @ p) * r).sum(-1) + 3.0

    def log_prob(x):
        r = x - mu
        return -0.5 * ((r @ p) * r).sum(-1) - math.log(2 * math.pi) - 0.5 * torch.logdet(cov)

    log_z = math.log(2 * math.pi) + 0.5 * torch.logdet(cov).item() - 3.0
    return energy, log_prob, log_z


F64 = dict(dtype=torch.float64)   # module constants are built before the float64 fixture runs
MU0, COV0 = torch.tensor([0.5, -1.0], **F64), torch.tensor([[1.5, 0.6], [0.6, 0.8]], **F64)
MU1, COV1 = torch.tensor([-0.5, 0.2], **F64), torch.tensor([[0.9, -0.3], [-0.3, 1.2]], **F64)


def test_log_z_and_log_likelihood_of_a_gaussian_energy():
    energy, log_prob, log_z = _gaussian(MU0, COV0)
    data = MU0 + torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    result = grid_metrics(Energy(energy), box=BOX, resolution=(180, 200), data=data)
    assert result.log_z == pytest.approx(log_z, abs=1e-9)
    assert result.log_likelihood == pytest.approx(log_prob(data).mean().item(), abs=1e-9)
    assert (result.log_density.exp().sum() * result.cell_area).item() == pytest.approx(1.0, abs=1e-12)


def test_log_density_is_laid_out_rows_y_columns_x():
    energy, log_prob, _ = _gaussian(MU0, COV0)
    result = grid_metrics(energy, box=((-9.0, 9.0), (-10.0, 8.0)), resolution=(150, 120))
    assert result.log_density.shape == (120, 150)
    assert result.x_axis[0].item() == pytest.approx(-9.0 + 9.0 / 150) and result.y_axis[-1].item() < 8.0
    i, j = 37, 101
    point = torch.stack([result.x_axis[j], result.y_axis[i]])[None]
    assert result.log_density[i, j].item() == pytest.approx(log_prob(point).item(), abs=1e-9)


def test_kl_of_a_target_with_itself_is_zero_and_between_gaussians_is_the_closed_form():
    energy0, log_prob0, _ = _gaussian(MU0, COV0)
    energy1, _, _ = _gaussian(MU1, COV1)
    assert abs(grid_metrics(energy0, box=BOX, target_log_prob=log_prob0).kl) < 1e-12
    # KL(N0 ‖ N1) = ½ [tr(Σ1⁻¹Σ0) + (μ1-μ0)ᵀΣ1⁻¹(μ1-μ0) - 2 + log det Σ1/det Σ0]
    p1, dm = torch.linalg.inv(COV1), MU1 - MU0
    expected = 0.5 * (torch.trace(p1 @ COV0) + dm @ p1 @ dm - 2 + torch.logdet(COV1) - torch.logdet(COV0))
    unnormalised_target = lambda x: log_prob0(x) + 12.0   # noqa: E731  any constant offset
    result = grid_metrics(energy1, box=BOX, resolution=200, target_log_prob=unnormalised_target)
    assert result.kl == pytest.approx(expected.item(), abs=1e-9)


def test_kl_from_a_target_with_zeros_counts_them_as_zero():
    # p uniform on [-1, 1]² (cell edges on its border), q = N(0, I): KL = -log 4 + log 2π + E_p‖x‖²/2 = ... + 1/3
    class Uniform:
        def log_prob(self, x):
            inside = (x.abs() <= 1).all(-1)
            return torch.where(inside, torch.zeros(len(x)), torch.full((len(x),), -math.inf))

    result = grid_metrics(lambda x: 0.5 * (x**2).sum(-1), box=((-6.0, 6.0), (-6.0, 6.0)), resolution=600,
                          target_log_prob=Uniform())
    assert result.kl == pytest.approx(-math.log(4) + math.log(2 * math.pi) + 1 / 3, abs=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"box": ((1.0, -1.0), (0.0, 1.0))}, r"box must be \(\(x_min, x_max\), \(y_min, y_max\)\)"),
        ({"box": (0.0, 1.0)}, "box must be"),
        ({"resolution": 0}, "resolution must be an integer >= 1, got 0"),
        ({"data": torch.zeros(5, 3)}, r"data must have shape \(n, 2\)"),
        ({"data": torch.full((5, 2), float("nan"))}, "data contains NaN"),
    ],
)
def test_bad_options_raise_one_line_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        grid_metrics(lambda x: (x**2).sum(-1), **kwargs)


def test_bad_energies_raise():
    with pytest.raises(ValueError, match="one value per point"):
        grid_metrics(lambda x: x, resolution=8)
    with pytest.raises(ValueError, match="energy returned NaN"):
        grid_metrics(lambda x: x.sum(-1) * float("nan"), resolution=8)
    with pytest.raises(ValueError, match="log Z = -inf"):
        grid_metrics(lambda x: torch.full(x.shape[:1], math.inf), resolution=8)
