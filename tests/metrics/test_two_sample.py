"""MMD² and energy distance: brute-force definitions, closed forms on Gaussians, permutation tests."""

import math
import statistics

import pytest
import torch

from scorematch.metrics import energy_distance, median_bandwidth, mmd2, two_sample_test

from tolerances import assert_close


def _brute_force(x, y, f):
    n, m = len(x), len(y)
    xx = sum(f(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(f(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(f(a, b) for a in x for b in y) / (n * m)
    return xx, yy, xy


def test_statistics_match_their_definitions_on_small_sets():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(5, 3, generator=g), torch.randn(7, 3, generator=g) + 0.3
    h = 0.8
    xx, yy, xy = _brute_force(x, y, lambda a, b: math.exp(-float((a - b).square().sum()) / (2 * h * h)))
    assert_close(mmd2(x, y, bandwidth=h), torch.tensor(xx + yy - 2 * xy))
    xx, yy, xy = _brute_force(x, y, lambda a, b: float((a - b).norm()))
    assert_close(energy_distance(x, y), torch.tensor(2 * xy - xx - yy))
    z = torch.cat([x, y])
    pairs = [float((z[i] - z[j]).norm()) for i in range(len(z)) for j in range(i)]
    assert median_bandwidth(x, y) == pytest.approx(statistics.median_low(pairs), rel=1e-12)
    assert_close(mmd2(x, y), mmd2(x, y, bandwidth=median_bandwidth(x, y)))


def test_image_shaped_samples_are_flattened():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(6, 2, 2, generator=g), torch.randn(4, 2, 2, generator=g)
    assert_close(mmd2(x, y, bandwidth=1.0), mmd2(x.flatten(1), y.flatten(1), bandwidth=1.0))
    assert_close(energy_distance(x, y), energy_distance(x.flatten(1), y.flatten(1)))


def _replicates(statistic, shift, d, n, m, reps, seed):
    g = torch.Generator().manual_seed(seed)
    values = [statistic(torch.randn(n, d, generator=g), torch.randn(m, d, generator=g) + shift) for _ in range(reps)]
    return torch.stack(values)


def test_mmd2_is_unbiased_for_its_gaussian_closed_form():
    # X ~ N(0, I), Y ~ N(δ, I), k = exp(-‖·‖²/2h²): E k(X, X') = (1 + 2/h²)^(-d/2), E k(X, Y) = that × exp(-‖δ‖²/(2(2 + h²)))
    d, h, delta = 2, 1.5, torch.tensor([0.5, 0.0])
    base = (1 + 2 / h**2) ** (-d / 2)
    expected = 2 * base * (1 - math.exp(-float(delta.square().sum()) / (2 * (2 + h**2))))
    values = _replicates(lambda x, y: mmd2(x, y, bandwidth=h), delta, d, 150, 230, 40, seed=2)
    assert abs(values.mean() - expected) < 4 * values.std() / len(values) ** 0.5


def test_energy_distance_is_unbiased_for_its_gaussian_closed_form():
    # 1D, X ~ N(0, 1), Y ~ N(δ, 1): X - Y ~ N(-δ, 2), E|N(μ, σ²)| = σ√(2/π) e^(-μ²/2σ²) + μ(1 - 2Φ(-μ/σ))
    delta = 0.7
    phi = 0.5 * (1 + math.erf(-delta / math.sqrt(2) / math.sqrt(2)))
    e_xy = 2 / math.sqrt(math.pi) * math.exp(-(delta**2) / 4) + delta * (1 - 2 * phi)
    expected = 2 * e_xy - 2 * (2 / math.sqrt(math.pi))
    values = _replicates(energy_distance, delta, 1, 150, 230, 40, seed=3)
    assert abs(values.mean() - expected) < 4 * values.std() / len(values) ** 0.5


@pytest.mark.parametrize("statistic", ["mmd", "energy"])
def test_same_law_is_not_rejected_and_a_shift_is(statistic):
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(300, 2, generator=g), torch.randn(400, 2, generator=g)
    same = two_sample_test(x, y, statistic=statistic, generator=g)
    shifted = two_sample_test(x, y + torch.tensor([0.5, 0.0]), statistic=statistic, generator=g)
    assert same.p_value > 0.05
    assert shifted.p_value < 0.01
    assert abs(same.statistic) < 0.1 * shifted.statistic
    assert (same.bandwidth is None) == (statistic == "energy")
    fn = mmd2 if statistic == "mmd" else energy_distance
    assert same.statistic == pytest.approx(fn(x, y).item(), rel=1e-12)


def test_permutation_test_is_reproducible_and_its_p_value_lies_on_its_grid():
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(40, 2, generator=g), torch.randn(50, 2, generator=g)
    first = two_sample_test(x, y, n_permutations=99, generator=torch.Generator().manual_seed(6))
    again = two_sample_test(x, y, n_permutations=99, generator=torch.Generator().manual_seed(6))
    assert first == again
    assert 0 < first.p_value <= 1 and round(first.p_value * 100, 9).is_integer()


@pytest.mark.parametrize(
    ("x", "y", "kwargs", "match"),
    [
        (torch.zeros(5, 2), torch.zeros(5, 3), {}, "same event shape"),
        (torch.zeros(1, 2), torch.zeros(5, 2), {}, "x needs at least 2 samples"),
        (torch.zeros(5, 2), torch.full((5, 2), float("nan")), {}, "y contains NaN"),
        (torch.randn(5, 2), torch.randn(5, 2), {"bandwidth": 0.0}, "bandwidth must be a finite number > 0"),
        (torch.randn(5, 2), torch.randn(5, 2), {"statistic": "ks"}, "unknown statistic 'ks'"),
        (torch.randn(5, 2), torch.randn(5, 2), {"n_permutations": 0}, "n_permutations must be an integer >= 1"),
        (torch.zeros(5, 2), torch.zeros(5, 2), {}, "bandwidth 0"),
    ],
)
def test_bad_inputs_raise_one_line_value_errors(x, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        two_sample_test(x, y, **kwargs)
