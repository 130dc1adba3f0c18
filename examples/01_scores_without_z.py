"""Why the partition function disappears: the score ∇ₓ log p of a Gaussian and of a Gaussian mixture in closed form,
checked against autograd, drawn as vector fields — and blind to Z.

Run: ``python examples/01_scores_without_z.py [--smoke]``; the figure is ``docs/examples/scores_without_z.png``.

For p(x) = p̃(x)/Z, ∇ₓ log p = ∇ₓ log p̃ − ∇ₓ log Z = ∇ₓ log p̃: Z does not depend on x. So

* Gaussian N(μ, Σ):        s(x) = −Σ⁻¹(x − μ);
* mixture Σₖ wₖ N(μₖ, Σₖ):  s(x) = Σₖ rₖ(x) (−Σₖ⁻¹(x − μₖ)),  rₖ(x) = wₖ Nₖ(x) / Σⱼ wⱼ Nⱼ(x)
  (the responsibilities: each component's score weighted by how much it explains x).

The script checks both formulas against autograd of log p, and against the library's analytic targets, to round-off
in float64; then multiplies the unnormalised density by Z = 10⁶ and shows the score does not move.
"""

import math

import matplotlib.pyplot as plt
import torch
from lesson import options

from scorematch.models.analytic import Gaussian, GaussianMixture
from scorematch.plot import score_field

args = options(__doc__)
torch.set_default_dtype(torch.float64)
n = 200 if args.smoke else 20_000
x = 4 * torch.rand(n, 2, generator=torch.Generator().manual_seed(0)) - 2

# A Gaussian: its score by the formula, by autograd of log p, and the library's
mu, cov = torch.tensor([0.5, -0.3]), torch.tensor([[1.0, 0.6], [0.6, 0.8]])
formula = -(x - mu) @ torch.linalg.inv(cov)  # Σ⁻¹ is symmetric: (Σ⁻¹(x − μ))ᵀ row by row


def autograd_score(log_p, points):
    points = points.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(log_p(points).sum(), points)
    return grad


normal = torch.distributions.MultivariateNormal(mu, cov)
gauss_err = (formula - autograd_score(normal.log_prob, x)).abs().max().item()
gauss_lib = (formula - Gaussian(mu, cov).score(x)).abs().max().item()

# A mixture of three: the responsibility-weighted sum of the components' scores
w = torch.tensor([0.5, 0.3, 0.2])
means = torch.tensor([[-1.0, -1.0], [1.2, 0.0], [-0.5, 1.3]])
covs = torch.stack([0.3 * torch.eye(2), torch.tensor([[0.4, -0.2], [-0.2, 0.3]]), torch.diag(torch.tensor([0.6, 0.1]))])
comps = [torch.distributions.MultivariateNormal(m, c) for m, c in zip(means, covs, strict=True)]


def log_mixture(points):
    return torch.logsumexp(torch.stack([math.log(wk) + c.log_prob(points) for wk, c in zip(w.tolist(), comps,
                                                                                            strict=True)]), 0)


log_parts = torch.stack([math.log(wk) + c.log_prob(x) for wk, c in zip(w.tolist(), comps, strict=True)], -1)
resp = torch.softmax(log_parts, -1)  # rₖ(x), shape (n, K)
comp_scores = torch.stack([-(x - m) @ torch.linalg.inv(c) for m, c in zip(means, covs, strict=True)], 1)
mix_formula = (resp.unsqueeze(-1) * comp_scores).sum(1)
mix_err = (mix_formula - autograd_score(log_mixture, x)).abs().max().item()
mix_lib = (mix_formula - GaussianMixture(w, means, covs).score(x)).abs().max().item()

# Blind to Z: an unnormalised density Z·p has the same score
Z = 1e6
z_err = (autograd_score(lambda p: math.log(Z) + log_mixture(p), x) - mix_formula).abs().max().item()

print(f"{n} points in [-2, 2]², float64; largest |difference| of the scores:")
print(f"  Gaussian   −Σ⁻¹(x − μ) vs autograd of log p   {gauss_err:.1e}   vs the library's Gaussian  {gauss_lib:.1e}")
print(f"  mixture    Σ r_k(x) s_k(x) vs autograd       {mix_err:.1e}   vs the library's mixture   {mix_lib:.1e}")
print(f"  mixture × Z = 1e6 (unnormalised) vs normalised  {z_err:.1e}")
for name, err in (("Gaussian", gauss_err), ("Gaussian (library)", gauss_lib), ("mixture", mix_err),
                  ("mixture (library)", mix_lib), ("times Z", z_err)):
    assert err < 1e-12, (name, err)

fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.4), layout="constrained")
box = ((-2.5, 2.5), (-2.5, 2.5))
score_field(Gaussian(mu, cov), box=box, ax=axes[0], title="Gaussian: s(x) = −Σ⁻¹(x − μ)", colorbar=False)
mixture = GaussianMixture(w, means, covs)
score_field(mixture, box=box, ax=axes[1], title="mixture: s(x) = Σₖ rₖ(x) sₖ(x)", colorbar=False)
grid = torch.stack(torch.meshgrid(torch.linspace(-2.5, 2.5, 200), torch.linspace(-2.5, 2.5, 200), indexing="xy"), -1)
r = torch.softmax(torch.stack([math.log(wk) + c.log_prob(grid) for wk, c in zip(w.tolist(), comps, strict=True)],
                              -1), -1)
axes[2].imshow(r.numpy(), origin="lower", extent=(-2.5, 2.5, -2.5, 2.5))  # the three responsibilities as RGB
axes[2].set_title("responsibilities rₖ(x) (red, green, blue)")
axes[2].set_aspect("equal")
fig.suptitle(f"Scores without Z: formula = autograd to {max(gauss_err, mix_err):.0e}; "
             f"multiplying p̃ by Z = 10⁶ moves the score by {z_err:.0e}", fontsize=11)
path = args.figure("scores_without_z.png")
fig.savefig(path, dpi=110)
print(f"figure -> {path}")
