"""The cost of the trace: one training step of explicit score matching against sliced and denoising score matching as
the dimension d grows, measured interleaved in one process.

Run: ``python examples/08_cost_of_the_trace.py [--smoke]``; the figure is ``docs/examples/cost_of_the_trace.png``.
``make bench`` measures the same against the peers' implementations (``BENCHMARKS.md``).

Explicit score matching needs tr ∇ₓs(x), the Laplacian of the energy. Computed by autograd it takes one
backward pass per coordinate, d of them (``explicit`` on a ``Score`` model, or on an energy network that the
forward-Laplacian sweep does not cover): its cost grows like d. For an MLP energy the library computes the
Laplacian in one forward sweep that carries the second derivatives along (``scorematch.sweeps``), whose cost grows
with d only until d passes the network's width. Sliced score matching replaces the trace by one Hessian-vector
product per probe (a forward sweep for MLP energies), denoising by a plain regression: both cost about the same at
any d. The script times a full step (loss, backward, Adam) for each, for d from 2 to 512, on the same
2-hidden-layer MLP of width 128 and a batch of 128, taking the median of repeated, interleaved measurements.
"""

import functools
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from lesson import options

from scorematch import Energy, Score, losses
from scorematch.models import EnergyMLP, ScoreMLP

args = options(__doc__)
torch.set_default_dtype(torch.float32)
torch.manual_seed(0)
DIMS = [2, 8, 32] if args.smoke else [2, 8, 32, 128, 256, 512]
REPEATS, BATCH = (3, 32) if args.smoke else (11, 128)


def step_of(model, objective):
    """One optimiser step of ``objective`` on ``model``; returns a callable timing it."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def run(x: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        objective(model, x, generator=torch.Generator().manual_seed(0)).mean().backward()
        opt.step()

    return run


def methods(d: int) -> dict:
    return {
        "explicit, MLP energy (forward-Laplacian sweep)": step_of(Energy(EnergyMLP(d, hidden=128)), losses.explicit),
        "explicit, score net (d backward passes)": step_of(Score(ScoreMLP(d, hidden=128)), losses.explicit),
        "sliced, MLP energy (1 probe)": step_of(Energy(EnergyMLP(d, hidden=128)),
                                                functools.partial(losses.sliced, n_probes=1)),
        "denoising, score net": step_of(Score(ScoreMLP(d, hidden=128)),
                                        functools.partial(losses.denoising, sigma=0.1)),
    }


times: dict[str, list[float]] = {}
for d in DIMS:
    x = torch.randn(BATCH, d)
    runs = methods(d)
    for run in runs.values():
        run(x)  # warm-up, twice: the allocator settles
        run(x)
    samples = {name: [] for name in runs}
    for _ in range(REPEATS):  # interleaved: drift on a shared machine hits every method alike
        for name, run in runs.items():
            t0 = time.perf_counter()
            run(x)
            samples[name].append(time.perf_counter() - t0)
    for name, values in samples.items():
        times.setdefault(name, []).append(1000 * float(np.median(values)))
    short = ("explicit (sweep)", "explicit (autograd)", "sliced", "denoising")
    print(f"d = {d:4d}: " + ",  ".join(f"{k} {times[n][-1]:.1f}" for k, n in zip(short, runs, strict=True))
          + "  (ms per step)")
names = list(times)
ratio_autograd = times[names[1]][-1] / times[names[2]][-1]
ratio_sweep = times[names[0]][-1] / times[names[2]][-1]
print(f"at d = {DIMS[-1]}: explicit by autograd costs {ratio_autograd:.1f}× a sliced step, explicit by the sweep "
      f"{ratio_sweep:.1f}×")
if not args.smoke:
    assert ratio_autograd > 5 * ratio_sweep, (ratio_autograd, ratio_sweep)

fig, ax = plt.subplots(figsize=(7.5, 5), layout="constrained")
for (name, t), marker in zip(times.items(), "osD^", strict=True):
    ax.loglog(DIMS, t, marker=marker, label=name)
ax.set_xlabel("dimension d")
ax.set_ylabel(f"ms per training step (batch {BATCH}, median)")
ax.set_title("The cost of the trace")
ax.legend(fontsize=8)
path = args.figure("cost_of_the_trace.png")
fig.savefig(path, dpi=100)
print(f"figure -> {path}")
