"""AIS log Z of unnormalised Gaussian energies within 3 standard errors of the truth; more temperatures, smaller
standard error; the ladders; reproducibility and input checks."""

import math

import pytest
import torch

from scorematch.metrics import ais_log_z, beta_ladder

from energies import gaussian_energy


def test_log_z_in_two_dimensions_within_three_standard_errors():
    energy, truth = gaussian_energy(2, seed=0)
    result = ais_log_z(energy, 2, n_temperatures=100, generator=torch.Generator().manual_seed(1))
    assert abs(result.log_z - truth) < 3 * result.standard_error
    assert result.standard_error < 0.03
    assert result.log_z == pytest.approx((torch.logsumexp(result.log_weights, 0) - math.log(256)).item())
    assert abs(result.acceptance - 0.6) < 0.1
    assert result.samples.shape == (256, 2) and 1 <= result.effective_sample_size <= 256


def test_log_z_in_ten_dimensions_with_a_wide_offset_base():
    energy, truth = gaussian_energy(10, seed=2)
    result = ais_log_z(energy, 10, n_temperatures=200, base_mean=0.5, base_std=1.5,
                       generator=torch.Generator().manual_seed(3))
    assert abs(result.log_z - truth) < 3 * result.standard_error
    assert result.standard_error < 0.05


def test_weights_are_exact_when_the_target_is_the_base_up_to_a_constant():
    # E = ‖x - m‖²/(2s²) + c: every chain's weight is Z0·e^(-c) whatever the ladder and the moves
    d, m, s, c = 3, 0.3, 0.7, 2.5
    energy = lambda x: 0.5 * (x - m).square().sum(-1) / s**2 + c   # noqa: E731
    for kwargs in ({}, {"schedule": "geometric", "step_size": 0.2, "adapt_step_size": False}):
        result = ais_log_z(energy, d, n_chains=8, n_temperatures=7, base_mean=m, base_std=s,
                           generator=torch.Generator().manual_seed(4), **kwargs)
        truth = torch.full((8,), 0.5 * d * math.log(2 * math.pi * s**2) - c)
        torch.testing.assert_close(result.log_weights, truth, rtol=0, atol=1e-12)


def test_more_temperatures_give_a_smaller_standard_error():
    energy, _ = gaussian_energy(5, seed=4)
    few = ais_log_z(energy, 5, n_temperatures=10, generator=torch.Generator().manual_seed(5))
    many = ais_log_z(energy, 5, n_temperatures=100, generator=torch.Generator().manual_seed(5))
    assert many.standard_error < 0.5 * few.standard_error


def test_test_log_likelihood_and_image_shaped_events():
    # E(x) = ‖x‖² on (2, 2) events (N(0, ½I), not the base): log Z = 2 log π, log p(x) = -‖x‖² - log Z
    data = torch.randn(20, 2, 2, generator=torch.Generator().manual_seed(6))
    result = ais_log_z(lambda x: x.square().sum((1, 2)), (2, 2), n_temperatures=30, data=data,
                       generator=torch.Generator().manual_seed(7))
    assert abs(result.log_z - 2 * math.log(math.pi)) < 3 * result.standard_error
    assert result.log_likelihood == pytest.approx((-data.square().sum((1, 2)) - result.log_z).mean().item())


def test_same_generator_same_result():
    energy, _ = gaussian_energy(3, seed=8)
    first = ais_log_z(energy, 3, n_chains=16, n_temperatures=5, generator=torch.Generator().manual_seed(9))
    again = ais_log_z(energy, 3, n_chains=16, n_temperatures=5, generator=torch.Generator().manual_seed(9))
    assert torch.equal(first.log_weights, again.log_weights) and first.log_z == again.log_z


@pytest.mark.parametrize("schedule", ["sigmoid", "geometric", "linear"])
def test_ladders_increase_from_zero_to_one(schedule):
    betas = beta_ladder(20, schedule)
    assert betas.shape == (21,) and betas[0] == 0 and betas[-1] == 1
    assert (betas.diff() > 0).all()


@pytest.mark.slow
@pytest.mark.parametrize("d", [2, 10, 20])
def test_log_z_over_seeds_standardised_errors_look_standard_normal(d):
    energy, truth = gaussian_energy(d, seed=10 + d)
    z = torch.tensor([(r.log_z - truth) / r.standard_error for r in (
        ais_log_z(energy, d, n_temperatures=200, generator=torch.Generator().manual_seed(s)) for s in range(20))])
    assert abs(z.mean()) < 3 / math.sqrt(len(z)) + 0.2 and (z.abs() < 4).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_chains": 1}, "n_chains must be an integer >= 2, got 1"),
        ({"schedule": "cosine"}, "unknown schedule 'cosine'"),
        ({"betas": torch.tensor([0.0, 0.7, 0.5, 1.0])}, "betas must increase strictly from 0 to 1"),
        ({"betas": torch.tensor([0.1, 1.0])}, "betas must increase strictly from 0 to 1"),
        ({"target_accept": 1.0}, r"target_accept must lie in \(0, 1\), got 1.0"),
        ({"base_std": 0.0}, "base_std must be a finite number > 0"),
        ({"steps_per_temperature": 0}, "steps_per_temperature must be an integer >= 1"),
        ({"data": torch.zeros(4, 3)}, r"data must have event shape \(2,\)"),
        ({"base_mean": torch.zeros(3)}, r"base_mean must be a float or a tensor of shape \(2,\), got shape \(3,\)"),
    ],
)
def test_bad_options_raise_one_line_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ais_log_z(lambda x: 0.5 * x.square().sum(-1), 2, **kwargs)


def test_an_energy_that_is_infinite_everywhere_fails_loudly():
    with pytest.raises(ValueError, match="AIS failed: the largest log-weight is -inf"):
        ais_log_z(lambda x: torch.full(x.shape[:1], math.inf), 2, n_chains=4, n_temperatures=3)
