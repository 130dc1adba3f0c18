"""Unnormalised energies with a closed-form log Z, for the annealing tests (AIS, SMC)."""

from __future__ import annotations

import math

import torch

from scorematch import Energy


def gaussian_energy(d: int, seed: int) -> tuple[Energy, float]:
    """E(x) = ½(x-μ)ᵀP(x-μ) + 3 with a random precision P and mean μ: log Z = (d/2) log 2π - ½ log det P - 3."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g)
    p, mu = a @ a.T / d + 0.5 * torch.eye(d), torch.randn(d, generator=g)
    energy = Energy(lambda x: 0.5 * (((x - mu) @ p) * (x - mu)).sum(-1) + 3.0)
    return energy, 0.5 * d * math.log(2 * math.pi) - 0.5 * torch.logdet(p).item() - 3.0
