"""The σ ladder from the data (NCSNv2's rules) on data whose answer is known."""

import math

import pytest
import torch

from scorematch.schedules import ladder_from_data, shell_overlap


def test_two_points_at_a_known_distance_set_the_largest_level():
    ladder = ladder_from_data(torch.tensor([[1.0, 1.0], [4.0, 5.0]]), sigma_min=0.05)
    assert ladder.sigmas[0] == 5.0 and ladder.sigmas[-1] == 0.05
    assert all(a > b for a, b in zip(ladder.sigmas, ladder.sigmas[1:], strict=False))
    ratios = [a / b for a, b in zip(ladder.sigmas, ladder.sigmas[1:], strict=False)]
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-9) and ratios[0] <= 2.0  # geometric, capped in 2-D
    assert "capped" in ladder.reasons["ratio"]


@pytest.mark.parametrize("dim", [16, 784, 3072])
def test_adjacent_levels_overlap_by_one_half_in_the_data_s_dimension(dim):
    """Gaussian data of dimension D: L is the fewest geometric levels whose adjacent levels overlap by at least one
    half (one level fewer would not); for D = 3072 (CIFAR-10) the ratio is the NCSNv2 paper's, 232 levels from 50
    to 0.01: γ = (50/0.01)^(1/231) = 1.0376 — ours 1.0397 (0.2%)."""
    x = torch.randn(300, dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ladder = ladder_from_data(x, sigma_min=0.01)
    n = len(ladder.sigmas)
    fewer = (ladder.sigmas[0] / 0.01) ** (1 / (n - 2))  # the ratio with one level fewer
    assert shell_overlap(ladder.ratio, dim) >= 0.5
    if "capped" in ladder.reasons["ratio"]:  # D = 16: the overlap is still 0.63 at γ = 2
        assert ladder.ratio <= 2.0 < fewer and shell_overlap(2.0, dim) > 0.5
    else:
        assert shell_overlap(fewer, dim) < 0.5
    if dim == 3072:
        assert ladder.ratio == pytest.approx(1.0376, rel=0.005)


def _variance_ratio(u, gamma, t):
    """NCSNv2's eq. 7: the variance after t steps x ← (1 − u)x + √(2u)σz from N(0, γ²σ²), over σ²."""
    return (1 - u) ** (2 * t) * (gamma**2 - 2 / (2 - u)) + 2 / (2 - u)


def test_the_step_brings_the_variance_after_t_steps_closest_to_the_level_s():
    """NCSNv2 technique 4 on CIFAR-10's ladder (σ_L = 0.01, T = 5): the paper's ε = 6.2e-6; ours in its convention
    (ε = step_size·σ_L²/2) within 5%. The step is the best one (a step 20% smaller or larger ends further from 1),
    and a simulation of T steps from the level above on a Gaussian level ends at the variance the formula says
    (1%)."""
    x = torch.randn(300, 3072, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ladder = ladder_from_data(x, sigma_min=0.01)
    t, gamma, u = ladder.steps_per_level, ladder.ratio, ladder.step_size / 2
    assert u * 0.01**2 == pytest.approx(6.2e-6, rel=0.05)
    best = abs(_variance_ratio(u, gamma, t) - 1)
    assert best < abs(_variance_ratio(0.8 * u, gamma, t) - 1) and best < abs(_variance_ratio(1.25 * u, gamma, t) - 1)
    sigma = 1.0
    z = gamma * sigma * torch.randn(400000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    eps = ladder.step_size * sigma**2
    g = torch.Generator().manual_seed(2)
    for _ in range(t):  # this library's convention: x + (ε/2) s + √ε z, s = −x/σ²
        z = z - 0.5 * eps * z / sigma**2 + math.sqrt(eps) * torch.randn(z.shape, generator=g, dtype=torch.float64)
    assert float(z.var()) == pytest.approx(_variance_ratio(u, gamma, t) * sigma**2, rel=0.01)


def test_sigma_min_is_the_data_s_resolution():
    pixels = torch.randint(0, 256, (400, 64), generator=torch.Generator().manual_seed(0)) / 255.0
    assert ladder_from_data(pixels).sigmas[-1] == pytest.approx(1 / 255, rel=1e-4)
    assert "grid" in ladder_from_data(pixels).reasons["sigma_min"]
    smooth = 3.0 * torch.randn(400, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert ladder_from_data(smooth).sigmas[-1] == pytest.approx(0.15, rel=0.1)  # 5% of the scale 3


def test_bad_data_are_refused():
    with pytest.raises(ValueError, match="n >= 2"):
        ladder_from_data(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="every point is the same"):
        ladder_from_data(torch.ones(5, 3))


def test_the_command_line_takes_the_ladder_from_the_data_when_no_sigma_is_given(tmp_path):
    import json

    from scorematch.cli import main

    args = ["--objective", "ncsn", "--model", "score", "--steps", "20", "--hidden", "8", "--quiet"]
    assert main(["train", "moons", "--out", str(tmp_path / "a"), *args]) == 0
    rule = json.loads((tmp_path / "a" / "ladder.json").read_text())
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert (config["sigma_max"], config["sigma"], config["n_sigmas"]) == (rule["sigma_max"], rule["sigma_min"],
                                                                          rule["n_sigmas"])
    assert set(rule["reasons"]) == {"sigma_max", "sigma_min", "ratio", "n_sigmas", "step_size"}
    assert rule["steps_per_level"] * rule["n_sigmas"] >= 1000 // rule["n_sigmas"] * rule["n_sigmas"]
    assert main(["sample", str(tmp_path / "a"), "--n", "20", "--out", str(tmp_path / "s.npy"), "--quiet"]) == 0
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["steps"] == rule["steps_per_level"] * rule["n_sigmas"]  # the sampler takes the rule's budget
    assert report["step_size"] == pytest.approx(rule["step_size"])  # and its step
    old = {("n_steps_each" if k == "steps_per_level" else k): v for k, v in rule.items()}  # an older folder's key
    (tmp_path / "a" / "ladder.json").write_text(json.dumps(old))
    assert main(["sample", str(tmp_path / "a"), "--n", "20", "--out", str(tmp_path / "t.npy"), "--quiet"]) == 0
    assert json.loads((tmp_path / "t.json").read_text())["steps"] == report["steps"]
    assert main(["train", "moons", "--out", str(tmp_path / "b"), "--sigma", "0.2", *args]) == 0
    assert not (tmp_path / "b" / "ladder.json").exists()  # a σ given: the settings as given
