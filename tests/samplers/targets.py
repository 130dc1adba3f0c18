"""Closed-form targets for the sampler tests."""

from __future__ import annotations

import torch


class Gaussian:
    """N(m, C) with closed-form energy ½(x−m)ᵀP(x−m) and score −P(x−m)."""

    def __init__(self, mean, cov):
        self.mean, self.cov = torch.as_tensor(mean, dtype=torch.float64), torch.as_tensor(cov, dtype=torch.float64)
        self.precision = torch.linalg.inv(self.cov)

    def energy(self, x):
        r = x - self.mean
        return 0.5 * ((r @ self.precision) * r).sum(-1)

    def score(self, x):
        return -(x - self.mean) @ self.precision

    def sample(self, n, generator):
        z = torch.randn(n, len(self.mean), generator=generator)
        return self.mean + z @ torch.linalg.cholesky(self.cov).T

    def ula_cov(self, eps):
        """Stationary covariance of x ← x + (ε/2)s(x) + √ε z: per eigenvalue λ of P, 1/(λ(1 − ελ/4))."""
        lam, q = torch.linalg.eigh(self.precision)
        return q @ torch.diag(1 / (lam * (1 - eps * lam / 4))) @ q.T


class SmoothedMixture:
    """Σ_k w_k N(μ_k, I) smoothed by N(0, σ²I): the exact noise-conditional score s(x, σ)."""

    def __init__(self, weights, means):
        self.log_w = torch.as_tensor(weights, dtype=torch.float64).log()
        self.means = torch.as_tensor(means, dtype=torch.float64)

    def score(self, x, sigma=None):
        var = 1.0 if sigma is None else (1 + sigma**2)[:, None]              # (B, 1)
        diff = self.means[None] - x[:, None]                                  # (B, K, d)
        logits = self.log_w - 0.5 * diff.square().sum(-1) / var               # (B, K)
        r = logits.softmax(-1)
        return (r[..., None] * diff).sum(1) / var
