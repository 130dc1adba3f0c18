"""Explicit against sliced score matching at MNIST size: the cost of one training step and the quality reached in a
fixed wall-clock budget, on the handwritten digits (d = 64) and their 28×28 stand-in (d = 784), for an MLP energy
and a convolutional score network. Writes ``docs/digits_cost.md``.

* MLP energy: ``Energy(EnergyMLP(d, hidden=256, depth=2))`` on the flattened images (the analytic sweeps apply).
* Conv score net: ``Score(NoiseConditionalScoreCNN(1, width=32, n_blocks=2))`` held at σ = 0.05 (the objectives
  below are not noise-conditional), on the images.
* Objectives: exact explicit SM (``esm``; on the conv net its trace takes D vector-Jacobian products, done 32
  directions at a time; at d = 784 its parameter gradient keeps the graph of all 784 products, over 24 GB at
  batch 64, so that cell runs at batch 4), sliced SM with one Rademacher probe (``ssm``) and
  its variance-reduced form (``ssm-vr``), finite-difference sliced SM (``fd-ssm``, step 0.01), denoising SM at
  σ = 0.05 (``dsm``).
* Data: the dequantized digits of :func:`scorematch.data.digits` in [0, 1], train split; quality is the held-out
  Hyvärinen loss on the test split (the Fisher divergence up to a constant; lower is better; the trace is exact
  for the MLP energy, Hutchinson with 4 fixed probes for the conv net), after ``--budget`` seconds of training
  from the same initial weights (Adam, lr 1e-3, batch 64). Step cost: the median of ``--repeats`` steps after two
  warm-up steps (two when a step takes over a second); a step slower than the whole budget is timed once and the
  cell is not trained.

Usage: ``python bench/digits_cost.py [--budget 20] [--repeats 7] [--sizes 8,28] [--models mlp,conv]
[--out docs/digits_cost.md]``.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from scorematch import Energy, Score, losses, tune_cpu_allocator
from scorematch.data import digits
from scorematch.metrics import HeldOutCriterion
from scorematch.models import EnergyMLP, NoiseConditionalScoreCNN
from scorematch.training.fit import default_optimizer, training_step

SIGMA = 0.05
OBJECTIVES = {
    "esm": losses.explicit,
    "ssm": functools.partial(losses.sliced, n_probes=1, probe="rademacher"),
    "ssm-vr": functools.partial(losses.sliced, n_probes=1, probe="rademacher", variance_reduction=True),
    "fd-ssm": functools.partial(losses.finite_difference_sliced, fd_step=0.01, n_probes=1),
    "dsm": functools.partial(losses.denoising, sigma=SIGMA),
}


class AtSigma(nn.Module):
    """The conv net at one noise level, as an ordinary score network."""

    def __init__(self, net: nn.Module, sigma: float):
        super().__init__()
        self.net, self.sigma = net, sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x, torch.full(x.shape[:1], self.sigma, dtype=x.dtype))


def build(kind: str, size: int) -> nn.Module:
    torch.manual_seed(0)
    if kind == "mlp":
        return Energy(EnergyMLP(size * size, hidden=256, depth=2))
    return Score(AtSigma(NoiseConditionalScoreCNN(1, width=32, n_blocks=2), SIGMA))


CHUNK = 32  # exact trace of the conv net: VJPs 32 directions at a time
SMALL_BATCH = 4  # exact trace of the conv net at d = 784: the parameter gradient keeps the graph of all 784 VJPs,
# more than 24 GB at batch 64 (the process was killed), so this cell runs at batch 4


def objective(kind: str, name: str) -> functools.partial:
    if kind == "conv" and name == "esm":
        return functools.partial(losses.explicit, chunk_size=CHUNK)
    return OBJECTIVES[name]


def measure(kind: str, size: int, name: str, train: torch.Tensor, test: torch.Tensor, budget: float,
            repeats: int) -> dict:
    model = build(kind, size)
    step = training_step(model, objective(kind, name), default_optimizer(model.parameters(), 1e-3))
    g = torch.Generator().manual_seed(1)

    size_of_batch = SMALL_BATCH if kind == "conv" and name == "esm" and size * size > 100 else 64

    def batch() -> torch.Tensor:
        return train[torch.randint(0, train.shape[0], (size_of_batch,), generator=g)]

    t0 = time.perf_counter()
    step(batch(), g)
    first = time.perf_counter() - t0
    if first > budget:
        return {"ms": 1000 * first, "steps": 0, "quality": None,
                "note": f"batch {size_of_batch}: one step takes {first:.0f} s, more than the whole budget: not trained"}
    step(batch(), g)
    times = []
    for _ in range(repeats if first < 1.0 else 2):
        t = time.perf_counter()
        step(batch(), g)
        times.append(time.perf_counter() - t)
    model = build(kind, size)  # quality: fresh weights, the same budget for every objective
    step = training_step(model, objective(kind, name), default_optimizer(model.parameters(), 1e-3))
    g = torch.Generator().manual_seed(1)
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < budget:
        step(batch(), g)
        done += 1
    quality = HeldOutCriterion(test, seed=0)(model)["val_hyvarinen"]
    note = f"batch {size_of_batch}: at 64 the exact trace needs over 24 GB" if size_of_batch != 64 else ""
    return {"ms": 1000 * statistics.median(times), "steps": done, "quality": quality, "note": note}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=20.0, help="seconds of training per cell (default: 20)")
    parser.add_argument("--repeats", type=int, default=7, help="timed steps per cell (default: 7)")
    parser.add_argument("--sizes", default="8,28", help="image sides, comma-separated (default: 8,28)")
    parser.add_argument("--models", default="mlp,conv", help="mlp and/or conv (default: both)")
    parser.add_argument("--out", default="docs/digits_cost.md")
    args = parser.parse_args()
    tune_cpu_allocator()
    rows = []
    for size in (int(v) for v in args.sizes.split(",")):
        g = torch.Generator().manual_seed(0)
        train = digits("train", size=size, dequantize=True, generator=g)
        test = digits("test", size=size, dequantize=True, generator=g)
        for kind in args.models.split(","):
            xs, ts = (train.flatten(1), test.flatten(1)) if kind == "mlp" else (train, test)
            for name in OBJECTIVES:
                r = measure(kind, size, name, xs, ts, args.budget, args.repeats)
                rows.append({"d": size * size, "model": kind, "objective": name, **r})
                print(rows[-1], flush=True)
    lines = ["# Explicit against sliced score matching at MNIST size", "",
             f"`python bench/digits_cost.py --budget {args.budget:g}` on {torch.get_num_threads()} CPU threads, "
             f"torch {torch.__version__}. One training step (batch 64, Adam) of each objective, and the held-out "
             f"Hyvärinen loss on the test digits after {args.budget:g} s of training (lower is better; compare "
             "within one model and d). See the script's docstring for the models and settings.", "",
             "| d | model | objective | ms/step | steps in budget | held-out Hyvärinen | note |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        q = "—" if r["quality"] is None else f"{r['quality']:.4g}"
        lines.append(f"| {r['d']} | {r['model']} | {r['objective']} | {r['ms']:.1f} | {r['steps']} | {q} | {r['note']} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
