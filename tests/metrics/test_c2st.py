"""C2ST: chance level for one law (also with unbalanced sets), near the Bayes accuracy for a known shift,
invariant to an affine change of units, reproducible from a seed."""

import math

import pytest
import torch

from scorematch.metrics import c2st


def _gaussians(n, m, shift, seed):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, 2, generator=g), torch.randn(m, 2, generator=g)
    y[:, 0] += shift
    return x, y


def test_same_law_is_at_chance_level():
    x, y = _gaussians(2000, 2000, 0.0, seed=0)
    accuracy = c2st(x, y, generator=torch.Generator().manual_seed(1))
    assert abs(accuracy - 0.5) < 0.05


def test_a_shift_is_detected_near_the_bayes_accuracy():
    # N(0, I) vs N((δ, 0), I): the Bayes classifier thresholds x₁ at δ/2, accuracy Φ(δ/2) = 0.8413 for δ = 2
    x, y = _gaussians(1000, 1000, 2.0, seed=2)
    accuracy = c2st(x, y, generator=torch.Generator().manual_seed(3))
    bayes = 0.5 * (1 + math.erf(1.0 / math.sqrt(2)))
    assert 0.8 < accuracy < bayes + 0.03


def test_unbalanced_sets_are_subsampled_so_the_majority_class_does_not_win():
    x, y = _gaussians(200, 2000, 0.0, seed=4)   # predicting "y" always would score 0.91 without balancing
    accuracy = c2st(x, y, steps=50, generator=torch.Generator().manual_seed(5))
    assert abs(accuracy - 0.5) < 0.1


def test_inputs_are_standardised_with_pooled_statistics():
    x, y = _gaussians(300, 300, 1.0, seed=6)
    scale, offset = torch.tensor([1000.0, 0.001]), torch.tensor([5e3, -7.0])
    plain = c2st(x, y, n_folds=3, steps=50, generator=torch.Generator().manual_seed(7))
    rescaled = c2st(x * scale + offset, y * scale + offset, n_folds=3, steps=50,
                    generator=torch.Generator().manual_seed(7))
    assert abs(plain - rescaled) < 0.02


def test_same_seed_same_accuracy_and_image_events():
    g = torch.Generator().manual_seed(8)
    x, y = torch.randn(60, 2, 3, generator=g), torch.randn(60, 2, 3, generator=g) + 0.5
    first = c2st(x, y, n_folds=3, steps=20, generator=torch.Generator().manual_seed(9))
    again = c2st(x, y, n_folds=3, steps=20, generator=torch.Generator().manual_seed(9))
    assert first == again and 0.0 <= first <= 1.0


@pytest.mark.parametrize(
    ("x", "y", "kwargs", "match"),
    [
        (torch.zeros(10, 2), torch.zeros(10, 3), {}, "same event shape"),
        (torch.randn(10, 2), torch.randn(10, 2), {"n_folds": 1}, "n_folds must be an integer >= 2"),
        (torch.randn(3, 2), torch.randn(10, 2), {}, "at least n_folds=5 samples per set, got 3"),
        (torch.randn(10, 2), torch.randn(10, 2), {"lr": -1.0}, "lr must be a finite number > 0"),
        (torch.randn(10, 2), torch.randn(10, 2), {"steps": 0}, "steps must be an integer >= 1"),
    ],
)
def test_bad_inputs_raise_one_line_value_errors(x, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        c2st(x, y, **kwargs)


def test_it_tells_thin_rings_from_a_gaussian_blob_of_the_same_covariance():
    """Structure at a fine scale, not only moments: 200 full-batch steps read 0.57 here (a blur passed for rings)."""
    from scorematch.models.analytic import rings

    g = torch.Generator().manual_seed(0)
    x = rings().sample(2000, g)
    blob = torch.randn(2000, 2, generator=g) * x.std(0)
    assert float(c2st(x, blob, generator=torch.Generator().manual_seed(0))) > 0.7


def test_standardizing_on_x_detects_a_difference_and_checks_its_name():
    """standardize="x" (the benchmark protocol) still tells x from an affine image of it; a bad name is a
    one-line error."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 2, generator=g)
    assert float(c2st(x, 3 * x + 5, standardize="x", n_folds=2, steps=100, generator=g)) > 0.9
    with pytest.raises(ValueError, match="standardize"):
        c2st(x, x, standardize="y")
