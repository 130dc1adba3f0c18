"""How closely every score-matching estimator agrees with exact (Hyvärinen) score matching.

Run: ``.venv/bin/python examples/estimator_agreement.py``. In float64, on random smooth networks:

1. sliced SM (each probe kind, with and without variance reduction) and FD-SSM: the mean of K single-probe
   estimates minus the exact loss, in standard errors (|z| < 3 is agreement);
2. FD-SSM against sliced SM with the same probes as ε shrinks (central differences: error ∝ ε²);
3. denoising SM minus D/(2σ²) against explicit SM as σ shrinks, the expectation over the noise taken by
   Gauss–Hermite quadrature (error ∝ σ²).
"""

import math

import numpy as np
import torch

from scorematch import Energy, Score
from scorematch.derivatives import draw_probes
from scorematch.losses import denoising, explicit, finite_difference_sliced, sliced

torch.set_default_dtype(torch.float64)
K = 20_000


def net(kind: str, d: int, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    out = 1 if kind == "energy" else d
    return torch.nn.Sequential(torch.nn.Linear(d, 32), torch.nn.SiLU(), torch.nn.Linear(32, 32), torch.nn.Tanh(),
                               torch.nn.Linear(32, out))


def field(kind: str, d: int) -> Energy | Score:
    return (Energy if kind == "energy" else Score)(net(kind, d))


def z_score(estimator, model, x) -> tuple[float, float, float]:
    xs = x.repeat(K, 1)
    diff = (estimator(model, xs).reshape(K, -1) - explicit(model, x)).mean(1).detach()
    se = diff.std().item() / math.sqrt(K)
    return diff.mean().item(), se, diff.mean().item() / se


def section_unbiased() -> None:
    print("1. mean of K = 20000 single-probe estimates − exact explicit SM (batch of 8, d = 4)")
    print(f"   {'estimator':34s} {'model':7s} {'mean diff':>11s} {'std err':>9s} {'z':>6s}")
    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(1))
    rows = [(f"sliced {p}{' VR' if vr else ''}",
             lambda m, xs, p=p, vr=vr: sliced(m, xs, probe=p, variance_reduction=vr,
                                              generator=torch.Generator().manual_seed(2)))
            for p in ("gaussian", "rademacher", "sphere") for vr in (False, True)]
    rows.append(("fd-ssm sphere eps=1e-3",
                 lambda m, xs: finite_difference_sliced(m, xs, fd_step=1e-3, generator=torch.Generator().manual_seed(3))))
    worst = 0.0
    for name, est in rows:
        for kind in ("energy", "score"):
            mean, se, z = z_score(est, field(kind, 4), x)
            worst = max(worst, abs(z))
            print(f"   {name:34s} {kind:7s} {mean:+11.2e} {se:9.2e} {z:+6.2f}")
    print(f"   max |z| = {worst:.2f}\n")


def section_fd() -> None:
    print("2. FD-SSM − sliced SM with the same probes, max over 8 samples × 4 probes (d = 4)")
    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(3))
    v = draw_probes(x, 4, "sphere", generator=torch.Generator().manual_seed(4))
    for kind in ("energy", "score"):
        m = field(kind, 4)
        target = sliced(m, x, probes=v)
        errs = [(finite_difference_sliced(m, x, fd_step=e, probes=v) - target).abs().max().item()
                for e in (1e-1, 1e-2, 1e-3)]
        print(f"   {kind:7s} eps = 1e-1, 1e-2, 1e-3: " + ", ".join(f"{e:.2e}" for e in errs))
    print()


def section_dsm() -> None:
    print("3. E_ε[denoising] − D/(2σ²) − explicit, max over 8 samples (d = 2, 40×40 Gauss–Hermite nodes)")
    t, w = np.polynomial.hermite_e.hermegauss(40)
    t, w = torch.tensor(t), torch.tensor(w / math.sqrt(2 * math.pi))
    e1, e2 = torch.meshgrid(t, t, indexing="ij")
    eps = torch.stack([e1.reshape(-1), e2.reshape(-1)], -1)
    weight = (w[:, None] * w[None, :]).reshape(-1)
    x = torch.randn(8, 2, generator=torch.Generator().manual_seed(5))
    for kind in ("energy", "score"):
        m = field(kind, 2)
        exact = explicit(m, x)
        errs = []
        for sigma in (0.2, 0.1, 0.05, 0.025):
            vals = denoising(m, x.repeat(len(eps), 1), sigma=sigma, noise=eps.repeat_interleave(8, 0))
            mean = (weight[:, None] * vals.reshape(len(eps), 8)).sum(0)
            errs.append((mean - 1 / sigma**2 - exact).abs().max().item())
        print(f"   {kind:7s} σ = 0.2, 0.1, 0.05, 0.025: " + ", ".join(f"{e:.2e}" for e in errs))


if __name__ == "__main__":
    section_unbiased()
    section_fd()
    section_dsm()
