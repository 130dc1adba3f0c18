"""Hyvärinen's identity, numerically: in 1-D, E_p[½ s_θ² + s_θ′] + ½ E_p[s_p²] = ½ E_p[(s_θ − s_p)²] by quadrature, for
several densities p and models s_θ — and what goes wrong on [0, ∞), where the boundary term does not vanish.

Run: ``python examples/02_hyvarinen_identity.py [--smoke]``; the figure is ``docs/examples/hyvarinen_identity.png``.

Expanding the square, ½E(s_θ − s_p)² = ½E s_θ² − E s_θ s_p + ½E s_p², and integrating by parts,
E_p[s_θ s_p] = ∫ s_θ p′ dx = [s_θ p] − ∫ s_θ′ p dx. On ℝ the bracket vanishes when s_θ p → 0 in the tails, which
gives the identity: the Fisher divergence is Hyvärinen's J(θ) = E_p[½ s_θ² + s_θ′] plus a constant free of θ.
On [0, ∞) the bracket is −s_θ(0) p(0), so ½E(s_θ − s_p)² = J(θ) + ½E s_p² + s_θ(0) p(0). For the exponential
density p(x) = e^{−x} and the model s_θ(x) = −θ (the exponential family with rate θ), J(θ) = ½θ² is least at
θ = 0 — no density at all — while the truth is θ = 1. Generalised score matching for non-negative data
(Hyvärinen 2007 with h(x) = x²; Yu, Drton & Shojaie 2019 with other h) weights the
objective by h(x) with h(0) = 0, here h(x) = x: J_h(θ) = E_p[½ h s_θ² + h s_θ′ + h′ s_θ], whose boundary term
h(0) p(0) s_θ(0) is zero, and J_h(θ) = ½θ² − θ is least at θ = 1.
"""

import math

import matplotlib.pyplot as plt
import numpy as np
from lesson import options
from scipy import integrate, stats

args = options(__doc__)
TOL = dict(epsabs=1e-13, epsrel=1e-13, limit=400)


def expect(p, f, lo=-np.inf, hi=np.inf):
    """E_p[f] by adaptive quadrature."""
    return integrate.quad(lambda x: p.pdf(x) * f(x), lo, hi, **TOL)[0]


def mixture():
    w, m, s = np.array([0.3, 0.7]), np.array([-2.0, 1.0]), np.array([0.5, 1.0])

    class Mix:
        @staticmethod
        def pdf(x):
            return float(np.sum(w * stats.norm.pdf(x, m, s)))

        @staticmethod
        def score(x):
            comp = w * stats.norm.pdf(x, m, s)
            return float(np.sum(comp * -(x - m) / s**2) / max(np.sum(comp), 1e-300))

    return Mix()


def normal_score(mu, sd):
    return lambda x: -(x - mu) / sd**2


# (name of p, p with .pdf, s_p, name of the model, s_θ, s_θ′)
CASES = [
    ("N(0, 1)", stats.norm(), normal_score(0, 1), "Gaussian score, μ=0.7, σ=1.5",
     normal_score(0.7, 1.5), lambda x: -1 / 1.5**2),
    ("N(0, 1)", stats.norm(), normal_score(0, 1), "a·tanh(bx) − cx, (1, 2, 0.5)",
     lambda x: math.tanh(2 * x) - 0.5 * x, lambda x: 2 * (1 - math.tanh(2 * x) ** 2) - 0.5),
    ("logistic", stats.logistic(), lambda x: -math.tanh(x / 2), "Gaussian score, μ=0, σ=1.8",
     normal_score(0, 1.8), lambda x: -1 / 1.8**2),
    ("Student t, 5 d.o.f.", stats.t(5), lambda x: -6 * x / (5 + x * x), "Gaussian score, μ=-0.2, σ=1.2",
     normal_score(-0.2, 1.2), lambda x: -1 / 1.2**2),
    ("0.3 N(−2, ½²) + 0.7 N(1, 1)", mixture(), mixture().score, "Gaussian score, μ=0.1, σ=1.6",
     normal_score(0.1, 1.6), lambda x: -1 / 1.6**2),
]
if args.smoke:
    CASES = CASES[:3]

rows = []
print("On ℝ: J(θ) + ½E s_p²  against  ½E(s_θ − s_p)²  (quadrature, float64)")
for p_name, p, s_p, m_name, s, ds in CASES:
    left = (expect(p, lambda x, s=s, ds=ds: 0.5 * s(x) ** 2 + ds(x))
            + 0.5 * expect(p, lambda x, s_p=s_p: s_p(x) ** 2))
    right = 0.5 * expect(p, lambda x, s=s, s_p=s_p: (s(x) - s_p(x)) ** 2)
    rows.append((p_name, m_name, left, right))
    print(f"  p = {p_name:28s} s_θ = {m_name:30s} {left:.12f}  {right:.12f}  |diff| {abs(left - right):.1e}")
    assert abs(left - right) < 1e-12 * max(1.0, abs(right)), (p_name, m_name, left, right)

# On [0, ∞): p = Exp(1), s_p = −1, s_θ = −θ
p = stats.expon()
thetas = np.linspace(0.0, 2.0, 21 if args.smoke else 201)
fisher = np.array([0.5 * expect(p, lambda x, t=t: (-t + 1.0) ** 2, 0, np.inf) for t in thetas])
naive = np.array([expect(p, lambda x, t=t: 0.5 * t * t, 0, np.inf) for t in thetas]) + 0.5  # J(θ) + ½E s_p²
general = np.array([expect(p, lambda x, t=t: 0.5 * x * t * t + 1.0 * -t, 0, np.inf) for t in thetas])  # h = x
boundary = -thetas * p.pdf(0.0)  # s_θ(0) p(0)
gap = np.abs(fisher - (naive + boundary)).max()
h_const = 0.5 * expect(p, lambda x: x * 1.0, 0, np.inf)  # ½E[h s_p²]
h_fisher = np.array([0.5 * expect(p, lambda x, t=t: x * (1.0 - t) ** 2, 0, np.inf) for t in thetas])
h_gap = np.abs(h_fisher - (general + h_const)).max()
print("On [0, ∞), p(x) = e^{−x}, s_θ = −θ:")
print(f"  ½E(s_θ − s_p)² = J(θ) + ½E s_p² + s_θ(0)p(0) to {gap:.1e}; the naive J is least at θ = "
      f"{thetas[naive.argmin()]:.2f}, the Fisher divergence at θ = {thetas[fisher.argmin()]:.2f}")
print(f"  with h(x) = x: ½E[h(s_θ − s_p)²] = J_h(θ) + ½E[h s_p²] to {h_gap:.1e}; J_h is least at θ = "
      f"{thetas[general.argmin()]:.2f}")
assert gap < 1e-10 and h_gap < 1e-10
assert thetas[naive.argmin()] == 0.0 and abs(thetas[general.argmin()] - 1.0) < 1e-9

fig, (a, b) = plt.subplots(1, 2, figsize=(12.5, 4.6), layout="constrained")
lefts, rights = [r[2] for r in rows], [r[3] for r in rows]
a.plot([0, max(rights) * 1.1], [0, max(rights) * 1.1], color="0.7", lw=1)
for (p_name, m_name, left, right), marker in zip(rows, "osD^v", strict=False):
    a.scatter(right, left, marker=marker, s=50, label=f"p = {p_name}; s_θ = {m_name}")
a.set_xlabel("½ E_p[(s_θ − s_p)²]  (the Fisher divergence)")
a.set_ylabel("E_p[½ s_θ² + s_θ′] + ½ E_p[s_p²]")
worst = max(abs(x - y) for x, y in zip(lefts, rights, strict=True))
a.set_title(f"On ℝ the two sides agree (largest |difference| {worst:.0e})")
a.legend(fontsize=7, loc="upper left")
b.plot(thetas, fisher, lw=2.5, label="½E(s_θ − s_p)², the Fisher divergence")
b.plot(thetas, naive, "--", label="J(θ) + ½E s_p² (Hyvärinen, boundary ignored)")
b.plot(thetas, general + h_const, ":", lw=2, label="J_h(θ) + ½E[h s_p²], h(x) = x (= the Fisher divergence here)")
for curve, color in ((fisher, "C0"), (naive, "C1"), (general + h_const, "C2")):
    b.scatter([thetas[curve.argmin()]], [curve.min()], color=color, zorder=3)
b.set_xlabel("θ (model s_θ(x) = −θ, the exponential with rate θ)")
b.set_title("On [0, ∞), p = Exp(1): the boundary term s_θ(0)p(0) = −θ is missed")
b.legend(fontsize=8)
path = args.figure("hyvarinen_identity.png")
fig.savefig(path, dpi=110)
print(f"figure -> {path}")
