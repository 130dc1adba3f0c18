"""The NCSN toy (Song & Ermon 2019, Fig. 3): ⅕N((−5,−5), I) + ⅘N((5,5), I), exact scores, chains started uniform on
[−8, 8]². Annealed Langevin recovers the weights; plain Langevin with the same budget keeps the start's 50/50."""

import pytest
import torch

from scorematch import Score
from scorematch.models.analytic import ncsn_toy
from scorematch.models.smoothed import SmoothedMixture
from scorematch.samplers import annealed_langevin, langevin, sample
from scorematch.schedules import geometric_sigmas

TOY = SmoothedMixture(ncsn_toy(dtype=torch.float64))
N_CHAINS = 2560
SIGMAS = geometric_sigmas(20.0, 1.0, 20, dtype=torch.float64)  # 10 levels leave a +0.02 bias: mixing freezes early
T, EPS = 100, 0.1


def _start(seed):
    g = torch.Generator().manual_seed(seed)
    return 16 * torch.rand(N_CHAINS, 2, generator=g) - 8, g


def _weight_of_first_mode(x):
    return (x.sum(-1) < 0).double().mean().item()


def test_annealed_langevin_recovers_the_mixture_weights():
    x0, g = _start(0)
    x = annealed_langevin(TOY, x0, SIGMAS, step_size=EPS, steps_per_level=T, generator=g)
    w = _weight_of_first_mode(x)
    assert abs(w - 0.2) < 0.03, w
    # and the samples sit on the modes: within-mode spread ≈ 1 (after the final denoising step, a bit less)
    near = x[x.sum(-1) > 0] - torch.tensor([5.0, 5.0])
    assert 0.7 < near.std(0).min() and near.std(0).max() < 1.1


def test_plain_langevin_with_the_same_budget_does_not():
    x0, g = _start(0)
    x = sample(langevin(TOY.mixture, EPS), x0, len(SIGMAS) * T, generator=g)  # the data score, σ = 0
    w = _weight_of_first_mode(x)
    assert abs(w - 0.2) > 0.15, w  # stuck near the 50/50 split of the uniform start


def test_step_sizes_follow_sigma_squared():
    # with one step per level and no noise contribution checkable, verify α_i = ε σ_i² / σ_L² through the mean
    # move of a linear score s(x, σ) = −x: x ← x(1 − α_i/2) + √α_i z
    class Linear:
        def score(self, x, sigma):
            return -x

    sigmas = torch.tensor([2.0, 1.0])
    x0 = torch.ones(200_000, 1)
    x = annealed_langevin(Linear(), x0, sigmas, step_size=0.1, steps_per_level=1, final_denoise=False,
                          generator=torch.Generator().manual_seed(0))
    a1, a2 = 0.1 * 4, 0.1
    mean = (1 - a1 / 2) * (1 - a2 / 2)
    var = a1 * (1 - a2 / 2) ** 2 + a2
    assert abs(x.mean() - mean) < 4 * (var / x0.shape[0]) ** 0.5
    assert abs(x.var() - var) < 4 * var * (2 / x0.shape[0]) ** 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [(dict(sigmas=[1.0, 2.0]), "descending"), (dict(sigmas=[]), "non-empty"), (dict(sigmas=[1.0, 0.0]), "> 0"),
     (dict(step_size=0.0), "step_size"), (dict(steps_per_level=0), "steps_per_level")],
)
def test_bad_options_raise_value_error(kwargs, message):
    options = dict(sigmas=[2.0, 1.0], step_size=0.1, steps_per_level=2) | kwargs
    sigmas = options.pop("sigmas")
    with pytest.raises(ValueError, match=message):
        annealed_langevin(TOY, torch.zeros(3, 2), sigmas, **options)


def test_the_annealed_kernel_runs_in_every_driver_and_is_annealed_langevin_step_for_step():
    from scorematch.samplers import annealed_langevin_kernel, diagnose, sample, trajectory

    model = Score(lambda x, sigma: -x / (1 + sigma[:, None] ** 2))
    ladder, x0 = [2.0, 0.7, 0.2], torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    kernel = annealed_langevin_kernel(model, ladder, step_size=0.05, steps_per_level=7)
    by_kernel = sample(kernel, x0, 21, generator=torch.Generator().manual_seed(2))
    whole = annealed_langevin(model, x0, ladder, step_size=0.05, steps_per_level=7, final_denoise=False,
                              generator=torch.Generator().manual_seed(2))
    assert torch.equal(by_kernel, whole)
    path = trajectory(kernel, x0, 21, generator=torch.Generator().manual_seed(2))
    assert path.shape == (22, 64, 2) and torch.equal(path[-1], whole)
    info = diagnose(kernel, x0, 30, generator=torch.Generator().manual_seed(2))  # past the ladder: stays at σ_L
    assert torch.isfinite(info.x).all() and bool((info.mean_accept_prob == 1).all())
