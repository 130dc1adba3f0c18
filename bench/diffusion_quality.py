"""Which of the library's methods gets separated modes right: diffusion against score matching of an energy and NCSN,
judged by the truth, with every method at the command line's defaults.

    python bench/diffusion_quality.py [--steps 4000] [--targets 8gaussians,rings,mixture16] [--seeds 0]
                                      [--diffusion-samplers sde,ode] [--diffusion-set times=log-sigma]
                                      [--out docs/diffusion_quality.md]
                                      [--json F] [--figure F] [--quick]

For each target with an exact density (8gaussians; rings; a 16-D mixture of four well-separated Gaussians of
weights 0.21 / 0.26 / 0.32 / 0.21) every method is trained by ``train_run`` on 5000 points and measured on fresh
points:

* **KL gap**: the exact mean log-density of 1000 test points minus the model's held-out log-likelihood — by the
  probability-flow ODE (exact divergence) for diffusion models, by SMC's log Z for an energy; ncsn's score network
  has none. It estimates KL(p‖q) in nats (≥ 0 up to its error).
* **C2ST** of 2000 samples from the run's default sampler against 2000 test points (0.5: indistinguishable).
* **weights TV**: the samples' share per true component against the exact weights
  (:func:`scorematch.metrics.modes.weight_check`), with its limit (2.5 times the TV of as many exact draws).
* **rel. Fisher**: the relative Fisher divergence of the score at the smallest noise against the exact score.

Score matching of an energy sees the relative mass of separated modes only through the network's interpolation
across the gap (the Fisher divergence is blind to it); diffusion learns the scores of the noised laws, whose modes
overlap at large noise, and samples from the prior down.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import _parse_variant

from scorematch import tune_cpu_allocator
from scorematch._infra.checkpoint import atomic_write
from scorematch._infra.defaults import multilevel_defaults
from scorematch.metrics import c2st, relative_fisher_divergence
from scorematch.models.analytic import AnalyticTarget, GaussianMixture, eight_gaussians, rings
from scorematch.report.measures import true_weights
from scorematch.runs import TrainConfig, train_run

N_TRAIN, N_TEST, N_LOGLIK = 5000, 2000, 1000


def mixture16() -> GaussianMixture:
    """Four Gaussians in 16-D, std 0.5 per coordinate, centred 3 apart along four orthonormal directions (pairwise
    distance 3√2 ≈ 8.5 standard deviations); weights 0.21 / 0.26 / 0.32 / 0.21."""
    g = torch.Generator().manual_seed(16)
    q, _ = torch.linalg.qr(torch.randn(16, 4, generator=g, dtype=torch.float64))
    means = 3.0 * q.T
    covs = 0.25 * torch.eye(16, dtype=torch.float64).expand(4, 16, 16)
    return GaussianMixture(torch.tensor([0.21, 0.26, 0.32, 0.21], dtype=torch.float64), means, covs)


TARGETS: dict[str, Callable[[], AnalyticTarget]] = {
    "8gaussians": lambda: eight_gaussians(dtype=torch.float64),
    "rings": lambda: rings(dtype=torch.float64),
    "mixture16": mixture16,
}

METHODS: dict[str, dict[str, Any]] = {
    "esm (energy, smc)": {"objective": "esm"},
    "ncsn (score, annealed)": {"objective": "ncsn", "model": "score", "ladder": True},
    "diffusion vp (energy, sde)": {"objective": "diffusion", "model": "energy", "sde": "vp"},
    "diffusion vp (score, sde)": {"objective": "diffusion", "model": "score", "sde": "vp"},
    "diffusion ve (score, sde)": {"objective": "diffusion", "model": "score", "sde": "ve", "ladder": True},
}
"""label -> the settings given (the rest are the command line's defaults)."""


def run_method(label: str, target: AnalyticTarget, train: Tensor, test: Tensor, steps: int | None, seed: int,
               n_samples: int, samplers: list[str], extra: dict[str, Any] | None = None
               ) -> list[tuple[dict[str, Any], Tensor]]:
    """One method trained on ``train`` and measured against the truth: a row and its samples (data units) for the
    run's default sampler, and for a diffusion run each of ``samplers`` besides."""
    spec = dict(METHODS[label])
    ladder = spec.pop("ladder", False)
    own = multilevel_defaults(spec["objective"], False)  # as the command line: its own defaults, then those given
    spec = {**own, **({} if steps is None else {"steps": steps}), **spec,
            **((extra or {}) if spec["objective"] == "diffusion" else {})}
    cfg = TrainConfig(data="diffusion-quality", seed=seed, **spec)
    base: dict[str, Any] = {"method": label, "seed": seed}
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run, result = train_run(cfg, Path(tmp) / "run", data=train, progress=False,
                                ladder=ladder or cfg.objective == "diffusion")
        base.update(train_seconds=time.perf_counter() - t0, steps=result.steps)
        probe = test[:N_LOGLIK]
        base["rel_fisher"] = float(relative_fisher_divergence(run.score(probe).double(), target.score(probe), probe))
        exact = float(target.log_prob(probe).mean())
        base["exact_loglik"] = exact
        if cfg.objective == "esm" or cfg.objective == "diffusion":
            t0 = time.perf_counter()
            arrays, _ = run.evaluate(probe, log_prob=True, seed=seed)
            base.update(loglik=float(arrays["log_prob"].mean()), loglik_seconds=time.perf_counter() - t0)
            base["kl_gap"] = exact - base["loglik"]
        chosen = [None] + ([s for s in samplers if s != run.default_sampler()] if cfg.objective == "diffusion" else [])
        for sampler in chosen:
            t0 = time.perf_counter()
            samples, report = run.draw(n_samples, seed=seed, sampler=sampler)
            row = {**base, "sample_seconds": time.perf_counter() - t0, "sampler": report["sampler"],
                   "evaluations": report.get("evaluations")}
            if sampler is not None:
                row["method"] = f"{label.split(',')[0].rsplit(' (', 1)[0]} ({spec.get('model', 'energy')}, {sampler})"
            samples = samples.double()
            finite = torch.isfinite(samples).all(1)
            row["c2st"] = float(c2st(samples[finite].float(), test[:n_samples].float(),
                                     generator=torch.Generator().manual_seed(0))) if finite.sum() > 10 else 1.0
            row.update(true_weights(samples, target))
            out.append((row, samples))
    return out


def _mean(rows: list[dict[str, Any]], key: str) -> tuple[float | None, float | None]:
    values = [r[key] for r in rows if r.get(key) is not None and math.isfinite(r[key])]
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else None)


def _cell(rows: list[dict[str, Any]], key: str, spec: str) -> str:
    mean, sd = _mean(rows, key)
    if mean is None:
        return "—"
    return format(mean, spec) + (f" ± {format(sd, spec)}" if sd is not None else "")


def markdown(results: dict[str, list[dict[str, Any]]], meta: dict[str, Any]) -> str:
    lines = ["# Separated modes: diffusion against score matching", "",
             f"`python bench/diffusion_quality.py {meta['command']}` — {meta['date']}, {meta['machine']}, "
             f"{meta['seconds'] / 60:.0f} min in all. Every method at the command line's defaults ("
             + (f"{meta['steps']} steps" if meta["steps"] else
                "ncsn's and diffusion's own: 30000 steps, 256×4, no patience, log-σ times for diffusion")
             + f", the data's σ ladder or β range, each run's default sampler), {N_TRAIN} training points, "
             f"seeds {meta['seeds']} (mean ± sd over seeds where more than one).", "",
             "KL gap: the exact mean log-density of 1000 test points minus the model's held-out log-likelihood "
             "(nats per point; diffusion: the probability-flow ODE, exact divergence; esm: SMC's log Z; ncsn's score "
             "network has no log-density). C2ST: 2000 samples against 2000 test points (0.5: indistinguishable). "
             "Weights TV: the samples' share per true component against the exact weights, ✓ within 2.5 times the "
             "TV of as many exact draws. Rel. Fisher: at the smallest noise, against the exact score.", ""]
    for target, rows in results.items():
        lines += [f"## {target}", "",
                  "| method | KL gap (nats) | C2ST | weights TV | within limit | shares per component | rel. Fisher | "
                  "train s | sample s | sampler evaluations |", "|---|---|---|---|---|---|---|---|---|---|"]
        for label in dict.fromkeys(r["method"] for r in rows):
            mine = [r for r in rows if r["method"] == label]
            ok = sum(bool(r.get("weights_right")) for r in mine)
            shares = " ".join(f"{v:.2f}" for v in mine[0]["weights_samples"]) if mine[0].get("weights_samples") else "—"
            lines.append(f"| {label} | {_cell(mine, 'kl_gap', '.3f')} | {_cell(mine, 'c2st', '.3f')} | "
                         f"{_cell(mine, 'weights_tv', '.3f')} | {ok}/{len(mine)} | {shares} | "
                         f"{_cell(mine, 'rel_fisher', '.3f')} | {_cell(mine, 'train_seconds', '.0f')} | "
                         f"{_cell(mine, 'sample_seconds', '.1f')} | {_cell(mine, 'evaluations', '.0f')} |")
        true = rows[0].get("weights_true")
        if true:
            lines += ["", "True weights: " + " ".join(f"{v:.3f}" for v in true) + "; shares shown for the first seed."]
        lines.append("")
    if meta.get("figure"):
        lines += [f"![samples of each method]({Path(meta['figure']).name})", ""]
    return "\n".join(lines)


def figure(samples: dict[str, dict[str, Tensor]], path: Path) -> None:
    """One row per 2-D target: the test points, then each method's samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = [t for t, cols in samples.items() if next(iter(cols.values())).shape[1] == 2]
    if not targets:
        return
    n_cols = max(len(samples[t]) for t in targets)
    fig, axes = plt.subplots(len(targets), n_cols, figsize=(2.6 * n_cols, 2.7 * len(targets)), squeeze=False)
    for i, t in enumerate(targets):
        for j, (name, x) in enumerate(samples[t].items()):
            ax = axes[i][j]
            x = x[torch.isfinite(x).all(1)]
            ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.4, color="k" if j == 0 else "C0")
            ax.set_title(f"{t}: {name}", fontsize=8)
            lim = 4.2 if t == "rings" else 3.2
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
        for j in range(len(samples[t]), n_cols):
            axes[i][j].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=None, help="every method's (default: the command line's, "
                    "diffusion's own included)")
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated labels (prefix match)")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--diffusion-set", default="", help="diffusion runs: settings, e.g. times=log-sigma,hidden=256")
    ap.add_argument("--diffusion-samplers", default="", help="diffusion runs: also draw with these (e.g. sde,ode)")
    ap.add_argument("--samples", type=int, default=N_TEST, help="samples per method (C2ST, weights)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--figure", type=Path, default=None, help="samples of the 2-D targets, first seed (PNG)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 8gaussians, 150 steps, 300 samples")
    args = ap.parse_args(argv)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    wanted = [m.strip() for m in args.methods.split(",") if m.strip()]
    methods = [m for m in METHODS if any(m.startswith(w) for w in wanted)]
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        seeds = []
    samplers = [v.strip() for v in args.diffusion_samplers.split(",") if v.strip()]
    extra = _parse_variant(args.diffusion_set) if args.diffusion_set.strip() else {}
    if args.quick:
        targets, args.steps, args.samples = ["8gaussians"], 150, 300
    bad = [t for t in targets if t not in TARGETS]
    if bad or not methods or not seeds or (args.steps is not None and args.steps < 1) or not 20 <= args.samples <= N_TEST:
        sys.stderr.write(f"diffusion_quality: error: targets from {', '.join(TARGETS)}; methods from "
                         f"{', '.join(METHODS)}; seeds as 0,1,2; --samples from 20 to {N_TEST}\n")
        return 2
    tune_cpu_allocator()
    t_all = time.perf_counter()
    results: dict[str, list[dict[str, Any]]] = {}
    drawn: dict[str, dict[str, Tensor]] = {}
    for name in targets:
        target = TARGETS[name]()
        rows = []
        for seed in seeds:
            train = target.sample(N_TRAIN, generator=torch.Generator().manual_seed(100 + seed)).double()
            test = target.sample(N_TEST, generator=torch.Generator().manual_seed(200 + seed)).double()
            if seed == seeds[0]:
                drawn[name] = {"test points": test}
            for label in methods:
                for row, samples in run_method(label, target, train, test, args.steps, seed, args.samples,
                                               samplers, extra):
                    rows.append(row)
                    print(f"{name:10s} seed {seed} {row['method']:28s} KL gap {row.get('kl_gap', math.nan):7.3f}  "
                          f"C2ST {row['c2st']:.3f}  weights TV {row.get('weights_tv', math.nan):.3f}  "
                          f"rel.F {row['rel_fisher']:.3f}  {row['train_seconds']:5.0f} s", flush=True)
                    if seed == seeds[0]:
                        drawn[name][row["method"]] = samples
        results[name] = rows
    machine = (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch "
               f"{torch.__version__}")
    meta = {"date": str(datetime.date.today()), "command": shlex.join(sys.argv[1:] if argv is None else argv),
            "machine": machine, "seconds": time.perf_counter() - t_all, "steps": args.steps, "seeds": seeds,
            "figure": str(args.figure) if args.figure else None}
    if args.figure:
        figure(drawn, args.figure)
    text = markdown(results, meta)
    if args.out:
        atomic_write(args.out, text)
    else:
        print(text)
    if args.json:
        atomic_write(args.json, json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
