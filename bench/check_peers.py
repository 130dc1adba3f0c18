"""Check that the peer adapters in ``peers.py`` compute the objectives scorematch's namesakes compute.

Run: ``/tmp/benchvenv/bin/python bench/check_peers.py`` (a venv with torchebm==0.8.9 and ebmkit==0.16.0; peers
that do not import are skipped). Exit status 1 if any pair that should agree does not.

In float64, D = 3, on a random energy MLP 3→128→128→1 (SiLU):

1. each (peer, objective) loss from ``peers.loss_fn`` against the batch mean of scorematch's per-sample loss,
   with the **same** probes / noise (torchebm takes a ``generator``; ebmkit draws from the global RNG, which is
   re-seeded so the draw can be reproduced), comparing the value and the gradient with respect to every network
   parameter (the backward pass is what a training step times). Agreement means equal to round-off with the
   stated factor and offset: all are factor 1, offset 0.
2. torchebm's ``ScoreMatching(hessian_method="approx")`` (``peers.MISMATCHED``) against what it computes,
   ½‖s‖² + vᵀ∇s v / D, and how far that is from ESM and SSM-VR; and its float32 round-off.
3. Langevin: the stationary variance of each library's ULA on E(x) = ½λ‖x‖² with the same ε (scorematch's
   convention, ``peers.langevin`` converts it), against the exact ULA value 1/(λ(1 − ελ/4)).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import peers
import torch
from torch import Tensor, nn

from scorematch import Energy
from scorematch.derivatives import value_and_quadratic_form
from scorematch.losses import denoising, explicit, sliced
from scorematch.samplers import langevin, sample

D, B, SIGMA, SEED = 3, 64, 0.1, 1234
DTYPE = torch.float64
TOL = 1e-9  # relative; float64 round-off of differently ordered sums is ~1e-15


def energy_net(d: int, seed: int = 0, dtype: torch.dtype = DTYPE) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 128), nn.SiLU(), nn.Linear(128, 128), nn.SiLU(), nn.Linear(128, 1)).to(dtype)


def value_and_grad(net: nn.Module, loss: Callable[[], Tensor]) -> tuple[float, Tensor]:
    """The loss value and the flattened gradient of every parameter of ``net`` (zero where there is none: the
    output bias shifts the energy by a constant and so changes no score)."""
    net.zero_grad()
    value = loss()
    value.backward()
    return value.item(), torch.cat([(torch.zeros_like(p) if p.grad is None else p.grad).flatten()
                                    for p in net.parameters()])


def rel(a: float | Tensor, b: float | Tensor) -> float:
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()


def gaussian(shape: tuple[int, ...], seed: int) -> Tensor:
    """The N(0, I) draw a peer makes: from a fresh generator (torchebm) or the re-seeded global RNG (ebmkit)."""
    return torch.randn(shape, dtype=DTYPE, generator=torch.Generator().manual_seed(seed))


def reference(objective: str, field: Energy, x: Tensor, noise: Tensor) -> Tensor:
    """scorematch's batch-mean loss with the peer's probes / noise ``noise`` (shape of ``x``)."""
    if objective == "esm":
        return explicit(field, x).mean()
    if objective in ("ssm", "ssm-vr"):
        return sliced(field, x, probes=noise[None], variance_reduction=objective == "ssm-vr").mean()
    if objective == "dsm":
        return denoising(field, x, sigma=SIGMA, noise=noise).mean()
    raise ValueError(objective)


def check_losses(available: list[str]) -> bool:
    net = energy_net(D)
    field = Energy(net)
    x = torch.randn(B, D, dtype=DTYPE, generator=torch.Generator().manual_seed(7))
    noise = gaussian(x.shape, SEED)  # every peer's draw, made below with the same seed
    ok = True
    print(f"1. losses, float64, D={D}, B={B}, σ={SIGMA}: peer vs scorematch (batch mean), same probes/noise")
    print(f"   {'peer':9} {'objective':9} {'peer loss':>14} {'scorematch':>14} {'rel Δ value':>11} "
          f"{'rel Δ grad':>10}  verdict")
    for peer in available:
        generator = torch.Generator()
        for objective in peers.OBJECTIVES:
            loss = peers.loss_fn(peer, objective, net, sigma=SIGMA, generator=generator)
            if loss is None:
                print(f"   {peer:9} {objective:9} {'(not offered)':>14}")
                continue
            if (peer, objective) in peers.MISMATCHED:
                print(f"   {peer:9} {objective:9} {'(see 2.)':>14}")
                continue

            def run_peer(loss: Callable[[Tensor], Tensor] = loss, generator: torch.Generator = generator) -> Tensor:
                generator.manual_seed(SEED)
                torch.manual_seed(SEED)
                return loss(x)

            v_peer, g_peer = value_and_grad(net, run_peer)
            v_ref, g_ref = value_and_grad(net, lambda objective=objective: reference(objective, field, x, noise))
            dv, dg = rel(v_peer, v_ref), rel(g_peer, g_ref)
            agree = dv < TOL and dg < TOL
            ok &= agree
            print(f"   {peer:9} {objective:9} {v_peer:14.8f} {v_ref:14.8f} {dv:11.1e} {dg:10.1e}  "
                  f"{'agree (factor 1, offset 0)' if agree else 'DIFFER'}")
    return ok


def check_torchebm_approx() -> bool:
    """torchebm ScoreMatching(hessian_method='approx'): what it computes, and how far that is from ESM."""
    net = energy_net(D)
    field = Energy(net)
    x = torch.randn(B, D, dtype=DTYPE, generator=torch.Generator().manual_seed(7))
    v = gaussian(x.shape, SEED)
    generator = torch.Generator()
    loss = peers.loss_fn("torchebm", "fd-ssm", net, generator=generator)
    generator.manual_seed(SEED)
    value = loss(x).item()
    s, quad = value_and_quadratic_form(field.score, x, v[None])
    half_norm = 0.5 * s.square().sum(-1)
    predicted = (half_norm + quad[0] / D).mean().item()
    ssm_vr = (half_norm + quad[0]).mean().item()
    esm = explicit(field, x).mean().item()
    esm_over_d = (half_norm + (explicit(field, x) - half_norm) / D).mean().item()  # ½‖s‖² + tr∇s / D

    print("\n2. torchebm ScoreMatching(hessian_method='approx') (listed as fd-ssm; in peers.MISMATCHED), float64:")
    print(f"   its loss {value:.8f}; ½‖s‖² + vᵀ∇s v/D with its probes {predicted:.8f} (rel Δ {rel(value, predicted):.1e},"
          f" forward difference, step 1e-5)")
    print(f"   SSM-VR with the same probes {ssm_vr:.8f}; ESM {esm:.8f}; its expectation ½‖s‖² + tr∇s/D {esm_over_d:.8f}")
    print("   -> not FD-SSM / ESM: the trace term is divided by D (a different objective unless D = 1)")

    net32 = energy_net(D, dtype=torch.float32)
    loss32 = peers.loss_fn("torchebm", "fd-ssm", net32, generator=generator)
    generator.manual_seed(SEED)
    value32 = loss32(x.float()).item()
    net64 = energy_net(D)
    loss64 = peers.loss_fn("torchebm", "fd-ssm", net64, generator=generator)
    generator.manual_seed(SEED)
    value64 = loss64(x).item()
    print(f"   float32 round-off: the same net and probes give {value32:.6f} in float32 vs {value64:.6f} in float64 "
          f"(rel Δ {rel(value32, value64):.1e})")
    return abs(rel(value, predicted)) < 1e-3


class Quadratic(nn.Module):
    """E(x) = ½ λ ‖x‖² as an energy net (B, d) -> (B, 1)."""

    def __init__(self, lam: float):
        super().__init__()
        self.lam = lam

    def forward(self, x: Tensor) -> Tensor:
        return 0.5 * self.lam * x.square().sum(-1, keepdim=True)


def check_langevin(available: list[str]) -> bool:
    lam, eps, n_chains, n_steps = 4.0, 0.1, 20_000, 200
    exact = 1 / (lam * (1 - eps * lam / 4))  # stationary variance of x + (ε/2)s + √ε z on this Gaussian
    net = Quadratic(lam)
    x0 = torch.zeros(n_chains, 2, dtype=DTYPE)
    se = exact * math.sqrt(2 / (2 * n_chains))  # standard error of a variance over 2·n_chains coordinates
    print(f"\n3. Langevin, E = ½·{lam}·‖x‖², ε = {eps} (scorematch convention), {n_chains} chains × {n_steps} steps: "
          f"stationary variance, exact ULA {exact:.4f} (exact target {1 / lam:.4f}; ε taken as η would give "
          f"{1 / (lam * (1 - eps * lam / 2)):.4f})")
    runs = {"scorematch": lambda: sample(langevin(Energy(net), eps), x0, n_steps,
                                         generator=torch.Generator().manual_seed(SEED))}
    for peer in available:
        runs[peer] = peers.langevin(peer, net, x0, step_size=eps, n_steps=n_steps)
    ok = True
    for name, run in runs.items():
        torch.manual_seed(SEED)
        var = run().var().item()
        z = (var - exact) / se
        ok &= abs(z) < 4
        print(f"   {name:10} variance {var:.4f}  z = {z:+.1f}  {'agree' if abs(z) < 4 else 'DIFFER'}")
    return ok


def main() -> int:
    available = list(peers.installed())
    missing = sorted(set(peers.PEER_VERSIONS) - set(available))
    print(f"peers: {peers.installed()}" + (f"; not installed, skipped: {missing}" if missing else ""))
    ok = check_losses(available)
    if "torchebm" in available:
        ok &= check_torchebm_approx()
    ok &= check_langevin(available)
    print("\nall checks passed" if ok else "\nSOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
