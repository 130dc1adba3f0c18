"""The built-in tasks' reference posteriors against the benchmark's published ones (sbibm 1.1.0, observation 1,
1000 of its reference draws, ``tests/data/sbibm``): at the benchmark's own observation, the library's exact or SMC
sampler and the published draws are told apart by the C2ST classifier no better than two sets of our own draws
are (the floor), plus 0.03."""

from pathlib import Path

import numpy as np
import pytest
import torch

from scorematch.metrics.c2st import c2st
from scorematch.sbi import get_task

DATA = Path(__file__).parent.parent / "data" / "sbibm"


def _csv(name: str) -> torch.Tensor:
    return torch.from_numpy(np.loadtxt(DATA / name, delimiter=",", skiprows=1, ndmin=2))


@pytest.mark.parametrize("name", [
    "gaussian_linear", "two_moons", "gaussian_mixture",
    pytest.param("slcp", marks=pytest.mark.slow), pytest.param("bernoulli_glm", marks=pytest.mark.slow)])
def test_reference_posterior_matches_the_benchmarks(name):
    task = get_task(name)
    x = _csv(f"{name}_observation.csv")[0]
    published = _csv(f"{name}_reference.csv")
    n = published.shape[0]
    ours = task.reference_posterior(x, 2 * n, torch.Generator().manual_seed(0))

    def judge(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(c2st(a.float(), b.float(), hidden=10 * task.dim_parameters, standardize="x",
                          generator=torch.Generator().manual_seed(0)))

    floor = judge(ours[:n], ours[n:])
    against = judge(published, ours[:n])
    assert against < floor + 0.03, (against, floor)
