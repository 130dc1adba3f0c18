"""Bayesian posterior sampling without a normaliser: MALA and HMC on an unnormalised log-posterior written in a few
lines, checked against a reference HMC run with twice the chains.

Run: ``python examples/10_bayesian_posterior.py [--smoke]``; the figure is ``docs/examples/bayesian_posterior.png``.

Logistic regression on scikit-learn's breast-cancer data (569 tumours, 30 standardized measurements and an
intercept, so 31 coefficients w), with the prior w ~ N(0, I):

    −E(w) = log p(w | data) + const = Σᵢ [yᵢ xᵢᵀw − log(1 + e^{xᵢᵀw})] − ½‖w‖².

The normaliser p(data) is never needed: the samplers use only E and its gradient. ``Energy(fn)`` makes the
function a model, and the library's kernels run many chains at once with the step size adapted during warm-up
(``adapt_step_size``), reporting split R̂ and the effective sample size (``run_chains``). The reference is an
HMC run with twice the chains and more steps; each chain's final state is one draw. The check is each
coefficient's posterior mean and standard deviation: their largest difference from the reference, in units of the
reference's posterior standard deviation.

Plain MALA moves every coordinate with one step size, which the narrowest direction of this correlated posterior
sets; ``adapt_preconditioner`` learns the posterior's covariance from the chains during warm-up and samples in
coordinates where it is near the identity (a dense mass matrix), so the step can be far larger.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from lesson import options
from sklearn.datasets import load_breast_cancer

from scorematch import Energy
from scorematch.samplers import adapt_preconditioner, adapt_step_size, hmc, mala
from scorematch.samplers.chains import run_chains

args = options(__doc__)
torch.set_default_dtype(torch.float64)
data = load_breast_cancer()
x = torch.tensor((data.data - data.data.mean(0)) / data.data.std(0))
X = torch.cat([torch.ones(len(x), 1), x], 1)  # an intercept and the 30 measurements
y = torch.tensor(data.target, dtype=torch.float64)


def energy(w: torch.Tensor) -> torch.Tensor:
    """−log p(w | data) up to a constant, for a batch of coefficient vectors w (B, 31)."""
    logits = w @ X.T
    return -(y * logits - torch.nn.functional.softplus(logits)).sum(-1) + 0.5 * w.square().sum(-1)


model = Energy(energy)
CHAINS, STEPS = (32, 200) if args.smoke else (256, 2000)


def run(name: str, make, n_chains: int, steps: int, seed: int, target: float, precondition: bool = False):
    """``make(model, step_size)`` chains from near 0: warm-up (half as many steps), then ``steps``; with
    ``precondition`` the warm-up also learns a dense mass matrix from the chains' covariance."""
    g = torch.Generator().manual_seed(seed)
    start = 0.1 * torch.randn(n_chains, X.shape[1], generator=g)
    if precondition:
        target_model, warm = adapt_preconditioner(make, model, start, steps // 2, step_size=1e-3,
                                                  target_accept=target, generator=g)
        to_x = target_model.to_x
    else:
        target_model, to_x = model, (lambda z: z)
        warm = adapt_step_size(lambda e: make(model, e), start, steps // 2, step_size=1e-3, target_accept=target,
                               generator=g)
    out = run_chains(make(target_model, warm.step_size), warm.state, steps, generator=g)
    print(f"  {name:18s} {n_chains} chains × {steps} steps (+ {steps // 2} warm-up): step {warm.step_size:.3g}, "
          f"acceptance {out.accept_prob:.2f}, R̂ {out.rhat:.3f}, ESS {out.ess:.0f}")
    return to_x(out.x)


print("sampling the posterior of 31 logistic-regression coefficients:")
draws = {
    "MALA": run("MALA", lambda m, e: mala(m, e), CHAINS, STEPS, 0, 0.57),
    "MALA, preconditioned": run("MALA, preconditioned", lambda m, e: mala(m, e), CHAINS, STEPS, 3, 0.57,
                                precondition=True),
    "HMC": run("HMC", lambda m, e: hmc(m, e, 10), CHAINS, STEPS // 5, 1, 0.75),
}
ref = run("reference", lambda m, e: hmc(m, e, 10), 2 * CHAINS, STEPS // 4, 2, 0.75)
ref_mean, ref_sd = ref.mean(0), ref.std(0)
errors = {}
for name, w in draws.items():
    mean_err = ((w.mean(0) - ref_mean) / ref_sd).abs().max().item()
    sd_err = (w.std(0) / ref_sd - 1).abs().max().item()
    errors[name] = (mean_err, sd_err)
    # Monte Carlo standard errors of the differences, both samples' noise: a mean's sqrt(1/n + 1/n_ref) posterior
    # sd, an sd ratio's sqrt(1/(2n) + 1/(2n_ref)); the largest of 31 coefficients is about 3 of them
    se_mean, se_sd = np.sqrt(1 / len(w) + 1 / len(ref)), np.sqrt(0.5 / len(w) + 0.5 / len(ref))
    print(f"  {name}: largest |mean − reference| {mean_err:.3f} posterior sd, largest |sd / reference − 1| "
          f"{sd_err:.3f} (3 Monte Carlo standard errors with {len(w)} and {len(ref)} draws: {3 * se_mean:.2f} for a "
          f"mean, {3 * se_sd:.2f} for an sd ratio)")
if not args.smoke:
    for name, (mean_err, sd_err) in errors.items():
        assert mean_err < 0.3 and sd_err < 0.25, (name, mean_err, sd_err)

fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.6), layout="constrained", gridspec_kw={"width_ratios": [2, 1]})
order = torch.argsort(ref_mean.abs(), descending=True)[:12]
pos = np.arange(len(order))
a.errorbar(pos - 0.2, ref_mean[order], 2 * ref_sd[order], fmt="o", color="k", label="reference (HMC, twice the chains)")
for k, (name, w) in enumerate(draws.items()):
    a.errorbar(pos + 0.2 * k, w.mean(0)[order], 2 * w.std(0)[order], fmt="s", ms=4, label=name)
names = ["intercept", *data.feature_names]
a.set_xticks(pos, [names[i] for i in order.tolist()], rotation=40, ha="right", fontsize=8)
a.set_ylabel("posterior mean ± 2 sd")
a.set_title("the 12 largest coefficients")
a.legend(fontsize=8, loc="upper left")
i, j = order[0].item(), order[1].item()
b.scatter(ref[:, i], ref[:, j], s=3, color="0.6", label="reference")
for name in ("MALA", "MALA, preconditioned"):
    b.scatter(draws[name][:, i], draws[name][:, j], s=3, label=name)
b.set_xlabel(names[i])
b.set_ylabel(names[j])
b.set_title("two coefficients: joint posterior draws")
b.legend(fontsize=8, markerscale=3)
path = args.figure("bayesian_posterior.png")
fig.savefig(path, dpi=100)
print(f"figure -> {path}")
