"""The handwritten digits as images: shapes, range, the fixed split, dequantization and the 28×28 stand-in."""

import pytest
import torch

from scorematch.data import digit_labels, digits


def test_the_split_is_fixed_and_disjoint():
    train, test = digits("train", dtype=torch.float64), digits("test", dtype=torch.float64)
    assert train.shape == (1437, 1, 8, 8) and test.shape == (360, 1, 8, 8)
    assert torch.equal(digits("test", dtype=torch.float64), test)  # the same every time
    everything = digits("all", dtype=torch.float64).flatten(1)
    rows = {tuple(r.tolist()) for r in everything}
    assert {tuple(r.tolist()) for r in test.flatten(1)} <= rows
    assert digit_labels("test").shape == (360,) and set(digit_labels("train").tolist()) == set(range(10))
    counts = torch.bincount(digit_labels("test"), minlength=10)
    assert counts.min() >= 25  # every class in the test split


def test_pixels_lie_on_the_grid_or_are_dequantized_within_their_cell():
    x = digits("train", dtype=torch.float64)
    k = x * 16
    assert torch.equal(k, k.round()) and float(x.max()) == 1.0 and float(x.min()) == 0.0
    d = digits("train", dequantize=True, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    cell = (x * 16).round()  # the grey level k: the dequantized value lies in [k/17, (k+1)/17)
    assert bool(((d >= cell / 17) & (d < (cell + 1) / 17)).all())
    assert len(torch.unique(d)) > 0.9 * d.numel()  # a density, no longer a grid


def test_the_28_pixel_stand_in_resizes_the_same_digits():
    small, large = digits("test", dtype=torch.float64), digits("test", size=28, dtype=torch.float64)
    assert large.shape == (360, 1, 28, 28) and 0 <= float(large.min()) and float(large.max()) <= 1
    assert torch.equal(large * 16, (large * 16).round())  # on the grey-level grid, like MNIST's pixels
    d = digits("train", size=28, dequantize=True, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rank = torch.linalg.matrix_rank(d.flatten(1)[:1000] - d.flatten(1)[:1000].mean(0))
    assert rank > 700  # dequantized after resizing: full-dimensional, not a 64-dimensional subspace
    back = torch.nn.functional.adaptive_avg_pool2d(large, 8).flatten()  # down again: the originals, smoothed
    assert float(torch.corrcoef(torch.stack([back, small.flatten()]))[0, 1]) > 0.95
    with pytest.raises(ValueError, match="size must be an integer >= 8"):
        digits(size=4)
    with pytest.raises(ValueError, match="unknown split"):
        digits("validation")
