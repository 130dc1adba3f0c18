"""Score matching against contrastive divergence on the same data: cost per step, stability across learning
rates, and quality judged by the exact density.

Run: ``python examples/06_score_matching_vs_cd.py [--smoke]``; the figure is ``docs/examples/sm_vs_cd.png``.

The data are the eight-Gaussian ring (std 0.2 on the circle of radius 2). One MLP energy, the same batch, seed and
step budget, trained three ways with ``scorematch.fit``: exact score matching (``losses.explicit``, no sampling),
CD-10 (``baselines.contrastive_divergence``: negatives from 10 Langevin steps started at the data batch) and
persistent CD (``baselines.PersistentContrastiveDivergence``: 10 Langevin steps from a replay buffer), each at two
learning rates. Contrastive divergence approximates the likelihood gradient with samples of the model, so its
cost is the sampler's and its quality depends on how well those few steps mix; score matching needs no samples.
Judged by the truth: the relative Fisher divergence against the exact score on fresh points and KL(p‖q) of the
density normalised on a grid.
"""

import time

import matplotlib.pyplot as plt
import torch
from lesson import options

from scorematch import Energy, fit, losses
from scorematch.baselines.contrastive import PersistentContrastiveDivergence, contrastive_divergence
from scorematch.metrics import grid_metrics, relative_fisher_divergence
from scorematch.models import EnergyMLP
from scorematch.models.analytic import eight_gaussians
from scorematch.plot import energy_landscape
from scorematch.training.fit import TrainingDiverged

args = options(__doc__)
torch.set_default_dtype(torch.float32)
STEPS = 60 if args.smoke else 1500
truth = eight_gaussians(dtype=torch.float32)
g = torch.Generator().manual_seed(0)
data, fresh = truth.sample(5000, g), truth.sample(2000, g)
box = ((-3, 3), (-3, 3))
METHODS = {
    "explicit score matching": lambda: losses.explicit,
    "CD-10": lambda: lambda m, x, generator=None: contrastive_divergence(m, x, steps=10, step_size=0.01,
                                                                         generator=generator),
    "persistent CD-10": lambda: PersistentContrastiveDivergence(buffer_size=5000, steps=10, step_size=0.01),
}
LRS = [1e-3, 1e-2]
runs = {}
for lr in LRS:
    for name, make in METHODS.items():
        torch.manual_seed(0)
        model = Energy(EnergyMLP(2, hidden=64))
        t0 = time.perf_counter()
        try:
            result = fit(model, data, make(), steps=STEPS, batch_size=256, lr=lr, progress=False, val_fraction=None,
                         generator=torch.Generator().manual_seed(1))
            ms = 1000 * (time.perf_counter() - t0) / result.steps
            rel = float(relative_fisher_divergence(model, truth, fresh))
            kl = grid_metrics(model, box=box, resolution=200, target_log_prob=truth).kl
        except (TrainingDiverged, ValueError) as e:  # a non-finite loss, or energies the grid cannot normalise
            ms, rel, kl = 1000 * (time.perf_counter() - t0) / STEPS, float("nan"), float("nan")
            print(f"  {name} at lr {lr:g} failed: {str(e).splitlines()[0][:100]}")
        runs[(name, lr)] = (model, ms, rel, kl)
        print(f"lr {lr:<6g} {name:24s} {ms:6.1f} ms/step   relative Fisher {rel:7.3f}   KL(p‖q) {kl:7.3f}")

if not args.smoke:
    best = min(runs[("explicit score matching", lr)][2] for lr in LRS)
    assert best < 0.05, best

fig, axes = plt.subplots(len(LRS), len(METHODS), figsize=(4.2 * len(METHODS), 4.0 * len(LRS)),
                         layout="constrained")
for i, lr in enumerate(LRS):
    for j, name in enumerate(METHODS):
        model, ms, rel, kl = runs[(name, lr)]
        title = f"{name}, lr {lr:g}\n{ms:.1f} ms/step · rel. Fisher {rel:.3f} · KL {kl:.3f}"
        try:
            energy_landscape(model, box=box, ax=axes[i, j], colorbar=False, data=data[:500], title=title)
        except ValueError:
            axes[i, j].set_title(title + "\n(no density to draw)")
fig.suptitle(f"Eight Gaussians, one MLP energy, {STEPS} steps: the normalised densities", fontsize=11)
path = args.figure("sm_vs_cd.png")
fig.savefig(path, dpi=90)
print(f"figure -> {path}")
