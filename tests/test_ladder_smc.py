"""``bench/ladder_smc.py``'s SMC along a noise ladder, with the exact energies of a diffused mixture: it must give
log Z = 0 (the energies are normalised) and the mixture's weights."""

import importlib.util
from pathlib import Path

import torch

from scorematch import Energy
from scorematch.diffusion import VE
from scorematch.metrics.modes import weight_check
from scorematch.models.analytic import GaussianMixture

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("ladder_smc", ROOT / "bench" / "ladder_smc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ladder_smc_with_exact_energies_normalises_and_keeps_the_weights():
    mix = GaussianMixture(torch.tensor([0.3, 0.7]), torch.tensor([[-4.0, 0.0], [4.0, 1.0]]),
                          0.25 * torch.eye(2).expand(2, 2, 2))
    sde = VE(0.05, 10.0)

    def energy(x, sigma):  # −log of the mixture diffused to the level σ (one σ per batch)
        s = float(sigma.reshape(-1)[0])
        return -GaussianMixture(mix.weights, mix.means, mix.covs + s**2 * torch.eye(2)).log_prob(x)

    x, log_z, log = _script().ladder_smc(Energy(energy), sde, 1e-3, 2000, 2, levels=40, moves=3,
                                         generator=torch.Generator().manual_seed(0))
    assert abs(log_z) < 0.05, log_z          # the exact energies are normalised: log Z = 0
    check = weight_check(x.float(), mix.component, mix.weights)
    assert check.agree, (check.samples, check.tv, check.limit)
    assert 0.4 < log["accept"] < 0.8
