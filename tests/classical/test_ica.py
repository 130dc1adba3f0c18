"""ICA by score matching: its objective is the library's explicit loss of the ICA energy; it recovers the mixing
up to permutation and scale, more closely with more data; the Amari distance is zero exactly on scaled
permutations."""

import math

import pytest
import torch

from scorematch import Energy
from scorematch.classical.ica import SAMPLERS, amari_distance, ica, ica_objective
from scorematch.losses import explicit

G = {"logistic": lambda u: 2 * torch.log(torch.cosh(u / 2)), "cosh": lambda u: torch.log(torch.cosh(u))}


def _mixed(source, n, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(d, d, generator=g, dtype=torch.float64)
    return SAMPLERS[source](n, d, g) @ A.T, A


@pytest.mark.parametrize("source", ["logistic", "cosh"])
def test_the_objective_is_the_explicit_loss_of_the_ica_energy(source):
    x, A = _mixed(source, 300)
    W = torch.linalg.inv(A) + 0.1 * torch.randn(3, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    energy = Energy(lambda z: G[source](z @ W.T).sum(-1))  # −log p up to the constant log|det W|
    assert torch.allclose(ica_objective(W, x, source), explicit(energy, x).mean(), rtol=1e-10)


@pytest.mark.parametrize("source", ["logistic", "cosh"])
def test_ica_recovers_the_mixing_and_improves_with_n(source):
    distances = []
    for n in (1000, 20000):
        x, A = _mixed(source, n, seed=2)
        distances.append(amari_distance(ica(x, source=source), A))
    assert distances[1] < 0.03, distances
    assert distances[1] < distances[0], distances


def test_amari_distance_is_zero_on_scaled_permutations_only():
    P = torch.tensor([[0.0, 0.0, 2.0], [-1.0, 0.0, 0.0], [0.0, 5.0, 0.0]])
    assert amari_distance(P, torch.eye(3)) == 0.0
    assert amari_distance(P + 0.1, torch.eye(3)) > 0.0
    assert math.isclose(amari_distance(torch.ones(2, 2), torch.eye(2)), 1.0)


def test_unknown_sources_and_too_few_rows_are_named():
    with pytest.raises(ValueError, match="source must be one of"):
        ica(torch.randn(10, 2), source="laplace")
    with pytest.raises(ValueError, match="n > d"):
        ica(torch.randn(2, 3))
