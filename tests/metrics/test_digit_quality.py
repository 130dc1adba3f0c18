"""Digit sample quality read by a classifier: the real digits, a fitted Gaussian and noise order as they must."""

import pytest
import torch

from scorematch.data import digits
from scorematch.metrics.digits import digit_classifier, digit_quality, digit_references


@pytest.fixture(scope="module")
def classifier():
    return digit_classifier(seed=0, steps=400)  # a shorter training than the default, for speed


def test_the_classifier_reads_held_out_digits(classifier):
    assert classifier.test_accuracy > 0.9


def test_real_digits_beat_a_fitted_gaussian_which_beats_noise(classifier):
    refs = digit_references(200, classifier=classifier)
    real, gauss = refs["real digits"], refs["gaussian"]
    noise = digit_quality(torch.rand(200, 1, 8, 8, generator=torch.Generator().manual_seed(0)), classifier=classifier)
    assert real.frechet < gauss.frechet < noise.frechet
    assert real.covered == 10 and real.confidence > 0.9
    for q in (real, gauss, noise):
        assert sum(q.histogram) == pytest.approx(1.0) and q.n == 200


def test_one_class_shows_as_one_covered_class(classifier):
    from scorematch.data import digit_labels

    ones = digits("test", dequantize=True, generator=torch.Generator().manual_seed(0))[digit_labels("test") == 1]
    q = digit_quality(ones, classifier=classifier)
    assert q.covered <= 2 and q.histogram[1] > 0.8  # (a one or two of 31 may read as a 7 or 9)


def test_28_pixel_digits_are_read_after_averaging_down(classifier):
    q = digit_quality(digits("test", size=28)[:100], classifier=classifier)
    assert q.covered >= 8 and q.confidence > 0.7


def test_bad_images_are_refused(classifier):
    with pytest.raises(ValueError, match="grey images"):
        digit_quality(torch.rand(5, 3, 8, 8), classifier=classifier)
    with pytest.raises(ValueError, match="non-finite"):
        digit_quality(torch.full((5, 1, 8, 8), float("nan")), classifier=classifier)
