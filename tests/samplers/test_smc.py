"""Sequential Monte Carlo: the right weights between far-apart modes, log Z within its standard error in 2 and 16
dimensions (standardised errors over seeds), the adaptive ladder and systematic resampling as stated."""

import math

import pytest
import torch

from scorematch import Energy
from scorematch.models.analytic import GaussianMixture, RingMixture
from scorematch.samplers.smc import log_z_standard_error, next_beta, smc, systematic_resample

from energies import gaussian_energy

TWO_MODES = GaussianMixture(torch.tensor([0.2, 0.8]), torch.tensor([[-2.5, 0.0], [2.5, 0.0]]),
                            0.25**2 * torch.eye(2).expand(2, 2, 2))   # 20 standard deviations apart
RINGS = RingMixture(torch.tensor([0.75, 1.5, 2.25, 3.0]), torch.tensor([0.1, 0.2, 0.3, 0.4]), torch.tensor(0.08))


def _ring_weights(x):
    return torch.histogram(x.norm(dim=1), torch.tensor([0.0, 1.125, 1.875, 2.625, 1e9])).hist / x.shape[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mode_weights_of_two_far_apart_modes(seed):
    """0.2 / 0.8 at 20 standard deviations: within ±0.03 (measured over 20 seeds: mean 0.202, sd 0.010)."""
    out = smc(Energy(lambda x: -TWO_MODES.log_prob(x)), 2000, 2, generator=torch.Generator().manual_seed(seed))
    assert abs((out.x[:, 0] < 0).double().mean().item() - 0.2) < 0.03
    assert out.x.shape == (2000, 2) and out.ess > 500


@pytest.mark.parametrize("seed", [0, 1])
def test_mode_weights_of_four_uneven_rings(seed):
    out = smc(Energy(lambda x: -RINGS.log_prob(x)), 2000, 2, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(_ring_weights(out.x).double(), RINGS.weights.double(), rtol=0, atol=0.03)


@pytest.mark.parametrize("d", [2, pytest.param(16, marks=pytest.mark.slow)])  # d = 2 is the fast twin
def test_log_z_within_its_standard_error_over_seeds(d):
    """(log Ẑ − log Z)/se over 12 seeds looks standard normal (measured over 20: mean −0.06 / 0.13, sd 0.82 / 0.89)."""
    energy, truth = gaussian_energy(d, seed=10 + d)
    z = torch.tensor([(r.log_z - truth) / r.standard_error for r in (
        smc(energy, 1000, d, generator=torch.Generator().manual_seed(s)) for s in range(12))])
    assert abs(z.mean()) < 3 / math.sqrt(len(z)) and (z.abs() < 4).all() and 0.4 < z.std() < 1.8, z


def test_hmc_moves_also_give_log_z():
    energy, truth = gaussian_energy(4, seed=3)
    out = smc(energy, 800, 4, kernel="hmc", steps_per_temperature=3, generator=torch.Generator().manual_seed(0))
    assert abs(out.log_z - truth) < 4 * out.standard_error and out.standard_error < 0.1
    assert abs(out.run.accept_prob[-1] - 0.75) < 0.15


def test_the_ladder_holds_the_conditional_ess_at_its_target():
    g = torch.Generator().manual_seed(0)
    u, log_w = 5 * torch.randn(500, generator=g), torch.randn(500, generator=g)
    beta = next_beta(u, log_w, 0.2, 0.9)
    w, v = torch.softmax(log_w, 0), torch.exp(-(beta - 0.2) * u)
    assert 0.2 < beta < 1 and (w @ v) ** 2 / (w @ v.square()) == pytest.approx(0.9, abs=1e-6)


def test_systematic_resampling_copies_each_particle_floor_or_ceil_of_n_w_times():
    g = torch.Generator().manual_seed(1)
    log_w = torch.randn(3, 50, generator=g) * 2
    idx = systematic_resample(log_w, 50, g)
    counts = torch.stack([torch.bincount(row, minlength=50) for row in idx]).double()
    expected = 50 * torch.softmax(log_w, -1)
    assert ((counts >= expected.floor() - 1e-9) & (counts <= expected.ceil() + 1e-9)).all()


def test_same_generator_same_samples_and_image_shaped_events():
    energy = Energy(lambda x: 0.5 * x.square().sum((1, 2)))
    a, b = (smc(energy, 64, (2, 3), n_groups=4, generator=torch.Generator().manual_seed(2)) for _ in range(2))
    assert a.x.shape == (64, 2, 3) and torch.equal(a.x, b.x) and a.log_z == b.log_z
    assert abs(a.log_z - 3 * math.log(2 * math.pi)) < 4 * a.standard_error


@pytest.mark.parametrize(("kwargs", "match"), [({"cess": 1.0}, r"cess must lie in \(0, 1\)"),
                                                ({"kernel": "gibbs"}, "unknown kernel 'gibbs'"),
                                                ({"n_groups": 0}, "n_groups must be an integer >= 1"),
                                                ({"pilot_fraction": 0.0}, "pilot_fraction")])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        smc(Energy(lambda x: 0.5 * x.square().sum(-1)), 10, 2, **kwargs)


def test_an_energy_infinite_everywhere_fails_loudly():
    with pytest.raises(ValueError, match="SMC failed: the largest log-weight is -inf"):
        smc(Energy(lambda x: torch.full(x.shape[:1], math.inf)), 8, 2)


def test_log_z_standard_error_shows_groups_hundreds_of_nats_apart():
    """One group 300 nats above fifteen others: the delta method alone saturates at 1 (std(z)/(√M mean z) with
    z ≤ 1); the bootstrap over groups, which leaves the high group out about (1 − 1/16)^16 = 36% of the time, gives
    an error of the size of the gap (√(0.36·0.64)·(300 − log 16) ≈ 142)."""
    groups = torch.tensor([0.0] * 15 + [300.0], dtype=torch.float64)
    z = (groups - groups.max()).exp()
    assert (z.std() / (4 * z.mean())).item() <= 1.0  # the old error
    assert 100 < log_z_standard_error(groups) < 200
    two = torch.tensor([0.0] * 8 + [200.0] * 8, dtype=torch.float64)  # half the groups agree on the high value:
    assert log_z_standard_error(two) < 0.5  # log Ẑ = 200 + log(k/16), k ~ Bin(16, ½) of them drawn: sd ≈ 0.25


def test_log_z_standard_error_equals_the_delta_method_when_groups_agree():
    groups = torch.randn(16, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 0.05
    z = groups.exp()
    delta = (z.std() / (4 * z.mean())).item()
    assert log_z_standard_error(groups) == pytest.approx(delta, rel=0.15)


def test_smc_reports_the_bootstrap_error_of_its_groups():
    energy, _ = gaussian_energy(2, seed=1)
    out = smc(energy, 512, 2, generator=torch.Generator().manual_seed(0))
    assert out.standard_error == log_z_standard_error(out.run.log_z_groups)
