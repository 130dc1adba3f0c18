"""Gaussian energies and scores with closed forms, for the loss tests."""

from __future__ import annotations

import torch
from torch import nn

from scorematch import Energy, Score


def quadratic_energy(mu: torch.Tensor, p: torch.Tensor):
    """E(x) = ½ (x−μ)ᵀ P (x−μ) on flattened events."""
    def energy(x):
        r = x.flatten(1) - mu
        return 0.5 * ((r @ p) * r).sum(-1)
    return energy


class GaussianFamily(nn.Module):
    """N(μ, Σ) with P = Σ⁻¹ = L Lᵀ (L lower-triangular, positive diagonal).

    ``noise_aware``: for noisy data x + σε the model is N(μ, Σ + σ²I), so that denoising objectives recover
    the clean Σ. As an energy it returns ½(x−μ)ᵀ(Σ+σ²I)⁻¹(x−μ); as a score −(Σ+σ²I)⁻¹(x−μ).
    """

    def __init__(self, d: int, *, kind: str, noise_aware: bool = False, sigma: float | None = None):
        super().__init__()
        self.mu = nn.Parameter(torch.zeros(d))
        self.raw = nn.Parameter(torch.zeros(d, d))
        self.kind, self.noise_aware, self.sigma = kind, noise_aware, sigma

    def precision(self) -> torch.Tensor:
        lower = torch.tril(self.raw, -1) + torch.diag(self.raw.diagonal().exp())
        return lower @ lower.T

    def forward(self, x, sigma=None):
        p = self.precision()
        r = x - self.mu
        if self.noise_aware:
            sigma = torch.full(x.shape[:1], self.sigma) if sigma is None else sigma
            cov = torch.linalg.inv(p)
            p_noisy = torch.linalg.inv(cov + sigma.reshape(-1, 1, 1) ** 2 * torch.eye(len(self.mu)))  # (B, d, d)
            pr = (p_noisy @ r.unsqueeze(-1)).squeeze(-1)
        else:
            pr = r @ p
        return 0.5 * (pr * r).sum(-1) if self.kind == "energy" else -pr

    def field(self):
        return Energy(self) if self.kind == "energy" else Score(self)
