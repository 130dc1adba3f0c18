"""Explicit against denoising score matching on a 2-D energy: their gradients, and how denoising's optimum approaches
the explicit one as σ → 0 (the gap against σ on log axes, with its slope).

Run: ``python examples/03_explicit_vs_denoising.py [--smoke]``; the figure is
``docs/examples/explicit_vs_denoising.png``.

The model is the exponential family of quartic energies E_θ(x) = θᵀT(x), T = the 14 monomials x₁ⁱx₂ʲ of degree
1 to 4, so s_θ = −J(x)θ with J = ∂T/∂x, and every Fisher divergence ½E_q‖s_θ − s_q‖² is quadratic in θ with the
minimiser θ_q = −E_q[JᵀJ]⁻¹ E_q[Jᵀs_q]. The data are a mixture of three Gaussians p. Explicit score matching
(Hyvärinen) minimises the divergence to p; denoising score matching with noise σ minimises, in expectation over
the noise, the divergence to the smoothed p_σ = p * N(0, σ²I) (Vincent 2011; the library's ``denoising`` states the
identity), itself a mixture with covariances Σₖ + σ²I. So θ_σ − θ₀ measures the bias of denoising, and it is
O(σ²): p_σ = p + (σ²/2)Δp + O(σ⁴). The script fits the slope of log‖θ_σ − θ₀‖ against log σ over σ ≤ 0.1, and
checks that the gradients of the library's ``explicit`` and ``denoising`` losses (autograd, on samples) agree with
these expectations within their Monte Carlo error.
"""

import functools

import matplotlib.pyplot as plt
import numpy as np
import torch
from lesson import options

from scorematch import Energy
from scorematch.losses import denoising, explicit
from scorematch.models.analytic import GaussianMixture

args = options(__doc__)
torch.set_default_dtype(torch.float64)
N = 20_000 if args.smoke else 400_000
POWERS = [(i, k - i) for k in range(1, 5) for i in range(k + 1)]  # 14 monomials x1^i x2^j, 1 <= i + j <= 4

w = torch.tensor([0.4, 0.35, 0.25])
means = torch.tensor([[-1.5, 0.0], [1.0, 1.2], [1.0, -1.2]])
covs = torch.stack([torch.diag(torch.tensor([0.3, 0.5])), 0.25 * torch.eye(2), torch.tensor([[0.4, 0.15], [0.15, 0.2]])])
p = GaussianMixture(w, means, covs)


def smoothed(sigma: float) -> GaussianMixture:
    """p * N(0, σ²I): the same mixture with Σₖ + σ²I."""
    return GaussianMixture(w, means, covs + sigma**2 * torch.eye(2))


def jac(x: torch.Tensor) -> torch.Tensor:
    """J(x) = ∂T/∂x, shape (n, 2, 14)."""
    x1, x2 = x[:, :1], x[:, 1:]
    d1 = torch.cat([i * x1 ** max(i - 1, 0) * x2**j for i, j in POWERS], 1)
    d2 = torch.cat([j * x1**i * x2 ** max(j - 1, 0) for i, j in POWERS], 1)
    return torch.stack([d1, d2], 1)


def optimum(x: torch.Tensor, target_score: torch.Tensor) -> torch.Tensor:
    """θ minimising ½ mean ‖−Jθ − s‖² over the points x."""
    J = jac(x)
    A = torch.einsum("nda,ndb->ab", J, J) / len(x)
    b = torch.einsum("nda,nd->a", J, target_score) / len(x)
    return -torch.linalg.solve(A, b)


def expected_grad(theta: torch.Tensor, x: torch.Tensor, target_score: torch.Tensor) -> torch.Tensor:
    """∇_θ ½ mean ‖−Jθ − s‖² = mean Jᵀ(Jθ + s)."""
    J = jac(x)
    return torch.einsum("nda,nd->a", J, torch.einsum("ndb,b->nd", J, theta) + target_score) / len(x)


g = torch.Generator().manual_seed(0)
x = p.sample(N, g)
eps = torch.randn(N, 2, generator=g)  # the same noise for every σ, and its mirror image (antithetic: the odd
eps = torch.cat([eps, -eps])  # powers of σ cancel in the sample as they do in expectation), so the gaps are smooth
x2 = torch.cat([x, x])
theta0 = optimum(x, p.score(x))
sigmas = np.geomspace(1e-3, 1.0, 7 if args.smoke else 19)
gaps, grad_gaps = [], []
probe = theta0 + 0.05 * torch.randn(14, generator=g)  # a point away from the optimum
g_esm = expected_grad(probe, x, p.score(x))
for s in sigmas:
    xt = x2 + s * eps
    gaps.append(float((optimum(xt, smoothed(s).score(xt)) - theta0).norm()))
    grad_gaps.append(float((expected_grad(probe, xt, smoothed(s).score(xt)) - g_esm).norm() / g_esm.norm()))
small = sigmas <= 0.1
slope = np.polyfit(np.log(sigmas[small]), np.log(np.array(gaps)[small]), 1)[0]
grad_slope = np.polyfit(np.log(sigmas[small]), np.log(np.array(grad_gaps)[small]), 1)[0]
print(f"‖θ_σ − θ₀‖ against σ (N = {N}): slope {slope:.2f} over σ ≤ 0.1 (theory: 2); "
      f"the expected gradients at a probe: slope {grad_slope:.2f}")
for s, gap, gg in zip(sigmas, gaps, grad_gaps, strict=True):
    print(f"  σ = {s:8.4f}   ‖θ_σ − θ₀‖ = {gap:.3e}   relative gradient gap {gg:.3e}")
assert 1.8 < slope < 2.2 and 1.8 < grad_slope < 2.2, (slope, grad_slope)

# The library's losses on samples, by autograd: explicit on x, denoising on x with fresh noise (one draw per point)
energy = Energy(lambda z, th=None: (torch.cat([z[:, :1] ** i * z[:, 1:] ** j for i, j in POWERS], 1) @ th))
theta = probe.clone().requires_grad_(True)
model = Energy(functools.partial(energy.net, th=theta))
(ge,) = torch.autograd.grad(explicit(model, x).mean(), theta)
esm_err = float((ge - g_esm).norm() / g_esm.norm())  # the same samples: equal in expectation (by parts), not here
print(f"  library: the explicit gradient against its expectation {esm_err:.3f} (relative; Monte Carlo error)")
assert esm_err < 20 / N**0.5, esm_err
for s in (0.3, 0.1, 0.03):
    (gd,) = torch.autograd.grad(denoising(model, x, sigma=s, generator=torch.Generator().manual_seed(1)).mean(),
                                theta)
    xt = x2 + s * eps
    err = float((gd - expected_grad(probe, xt, smoothed(s).score(xt))).norm() / g_esm.norm())
    bound = 0.02 + 6 / (s * N**0.5)  # its Monte Carlo error grows like 1/(σ√N)
    print(f"  library: the denoising gradient at σ = {s} against its expectation {err:.3f} (bound {bound:.3f})")
    assert err < bound, (s, err, bound)

fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.6), layout="constrained")
a.loglog(sigmas, gaps, "o-", label="‖θ_σ − θ₀‖ (denoising's optimum − explicit's)")
a.loglog(sigmas, grad_gaps, "s-", label="‖E∇DSM_σ − ∇ESM‖ / ‖∇ESM‖ at a probe θ")
ref = gaps[int(np.argmax(small)) if small.any() else 0]
a.loglog(sigmas[small], ref * (sigmas[small] / sigmas[small][0]) ** 2, "k--", lw=1, label="slope 2")
a.set_xlabel("σ")
a.set_title(f"Denoising's bias is O(σ²): fitted slope {slope:.2f} (σ ≤ 0.1)")
a.legend(fontsize=8)
grid = torch.stack(torch.meshgrid(torch.linspace(-3, 3, 160), torch.linspace(-3, 3, 160), indexing="xy"), -1)
flat = grid.reshape(-1, 2)
for s, style in ((0.0, "-"), (0.5, "--"), (1.0, ":")):
    th = theta0 if s == 0 else optimum(x2 + s * eps, smoothed(s).score(x2 + s * eps))
    e = (torch.cat([flat[:, :1] ** i * flat[:, 1:] ** j for i, j in POWERS], 1) @ th).reshape(160, 160)
    b.contour(grid[..., 0], grid[..., 1], (e - e.min()).numpy(), levels=[0.5, 2, 4], linestyles=style,
              colors=["C0", "C1", "C2"])
b.scatter(*x[:1500].T, s=1, color="0.6")
b.set_title("energy contours: explicit (—), denoising σ = 0.5 (- -), σ = 1 (··)")
b.set_aspect("equal")
path = args.figure("explicit_vs_denoising.png")
fig.savefig(path, dpi=110)
print(f"figure -> {path}")
