"""From a model to samples in two hops: ``sampling.draw`` takes any model, and the annealed sampler reads the σ ladder
the model carries (``protocol.with_ladder``) instead of a closure passed through every sampler."""

import pytest
import torch

from scorematch import Score
from scorematch.protocol import with_ladder
from scorematch.samplers.named import SAMPLERS, draw


def smoothed_gaussian(x, sigma):
    """The score of N(0, I) smoothed at σ: −x/(1 + σ²)."""
    return -x / (1 + sigma[:, None] ** 2)


def test_the_annealed_sampler_reads_the_ladder_from_the_model():
    model = with_ladder(Score(smoothed_gaussian), [5.0, 1.0, 0.1])
    assert model.sigmas.tolist() == [5.0, 1.0, 0.1]
    x = torch.ones(3, 2)
    assert torch.allclose(model.score(x), -x / 1.01)                                 # alone: the smallest σ
    assert torch.allclose(model.score(x, torch.full((3,), 5.0)), -x / 26)             # given a σ: that σ
    model = with_ladder(Score(smoothed_gaussian), [3.0, 1.0, 0.5])
    samples, report = draw("annealed", model, 4000, (2,), steps=3000, seed=0)   # 1000 steps per level
    assert report["sampler"] == "annealed" and samples.shape == (4000, 2)
    # at σ_L: Langevin x' = x(1 − α/2v) + √α z on N(0, v), v = 1 + σ_L², α = 0.05 σ_L² (the default relative step),
    # stationary variance α / (1 − (1 − α/2v)²); then Tweedie's step x + σ_L² s = x / v divides the variance by v²
    v, alpha = 1.25, 0.05 * 0.25
    expected = alpha / (1 - (1 - alpha / (2 * v)) ** 2) / v**2
    assert abs(float(samples.var()) - expected) < 0.05 and abs(float(samples.mean())) < 0.05


def test_a_model_without_a_ladder_is_refused_by_the_annealed_sampler_only():
    plain = Score(lambda x: -x)
    with pytest.raises(ValueError, match="needs a noise-conditional model with its σ ladder"):
        draw("annealed", plain, 10, (2,), steps=20)
    with pytest.raises(ValueError, match="at least 3"):
        draw("annealed", with_ladder(Score(smoothed_gaussian), [3.0, 1.0, 0.3]), 10, (2,), steps=2)
    samples, _ = draw("langevin", with_ladder(Score(smoothed_gaussian), [3.0, 1.0]), 10, (2,), steps=20)
    assert samples.shape == (10, 2)
    assert all(not s.needs_ladder for s in SAMPLERS.entries() if s.name != "annealed")
