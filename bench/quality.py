"""``make quality``: how well each objective fits, judged by the truth, against the peers' own trainers.

Every target has an exact score. Each contestant trains an energy MLP d→128→128→1 (SiLU) on the same 20 000
points, standardized, with the same step budget, batch 256 and learning rate; then, on 10 000 fresh points of the
target, the relative Fisher divergence E‖s − s*‖² / E‖s*‖² of its score is measured in data units, and 2 000 of its
samples (MALA from N(0, I), standardized units, the library's default sampler) are told from 2 000 fresh target
points by a classifier (C2ST accuracy, 0.5 = indistinguishable).

Contestants:

* ``scorematch <objective>``: ``scorematch.runs.run.train_run`` with the library's defaults — the path of
  ``scorematch train DATA --objective <objective>``: 10% held out, the held-out Hyvärinen loss evaluated every 100
  steps, the best EMA weights kept, patience 1000 steps. ``dsm auto`` is ``--sigma auto``.
  During training the exact relative Fisher divergence of the evaluated weights is logged too, so that the final
  value can be compared with the best the run ever reached (the ratio column).
* ``scorematch <objective> (before)`` (``--before``): the settings before the held-out criterion existed —
  depth 3, variance-preserving initialisation, lr 2e-3, no held-out data and no early stopping.
* ``ebmkit`` / ``torchebm`` ``<objective>``: the peer's own trainer (``bench/peer_trainers.py``) on all 20 000
  points, with PyTorch's default initialisation of the same layers.

Usage: ``python bench/quality.py [--out QUALITY.md] [--steps N] [--targets a,b] [--before] [--quick]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scorematch import Energy, tune_cpu_allocator
from scorematch.data import Standardizer
from scorematch.metrics import c2st, relative_fisher_divergence
from scorematch.models.analytic import AnalyticTarget, GaussianMixture, eight_gaussians
from scorematch.models.targets import Banana, Funnel, LogisticICA, StudentT
from scorematch.runs.config import TrainConfig
from scorematch.runs.run import train_run
from scorematch.samplers import mala, sample

N_TRAIN, N_TEST, N_SAMPLES, SAMPLE_STEPS, STEP_SIZE = 20_000, 10_000, 2_000, 1_000, 5e-3
WIDTH, DEPTH, BATCH, LR, SIGMA = 128, 2, 256, 1e-3, 0.1
PEER_OBJECTIVES = {"ebmkit": ("esm", "ssm", "ssm-vr", "dsm"), "torchebm": ("esm", "ssm", "dsm")}
OUR_OBJECTIVES = ("esm", "ssm", "ssm-vr", "dsm", "dsm auto")
BEFORE = {"depth": 3, "init": "variance", "lr": 2e-3, "val_fraction": None, "patience": None}


def _correlated(d: int, seed: int, rho: float = 0.5) -> Tensor:
    """An equicorrelated covariance rotated at random: unit diagonal scale, condition number (1+(d−1)ρ)/(1−ρ)."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    eig = torch.full((d,), 1 - rho, dtype=torch.float64)
    eig[0] += rho * d
    c = q @ torch.diag(eig) @ q.T
    s = c.diagonal().rsqrt()
    return s[:, None] * c * s[None, :]


def _mixture(d: int, weights: list[float], seed: int, spread: float = 2.5) -> GaussianMixture:
    g = torch.Generator().manual_seed(seed)
    k = len(weights)
    means = spread * torch.randn(k, d, generator=g, dtype=torch.float64) / math.sqrt(d) * 2
    covs = torch.stack([0.3 * _correlated(d, seed + i, 0.3) for i in range(k)])
    return GaussianMixture(torch.tensor(weights, dtype=torch.float64), means, covs)


def _ica(d: int, seed: int) -> LogisticICA:
    """Mixing ``U diag(s) Vᵀ`` with random rotations and singular values from 0.5 to 2 (condition number 4)."""
    g = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return LogisticICA(u @ torch.diag(torch.logspace(math.log10(0.5), math.log10(2.0), d, dtype=torch.float64)) @ v.T)


TARGETS: dict[str, Callable[[], AnalyticTarget]] = {
    "8gaussians (2)": lambda: eight_gaussians(dtype=torch.float64),
    "banana (2)": lambda: Banana(2, curvature=1.0, scale=1.0),
    "mixture 0.6/0.3/0.1 (4)": lambda: _mixture(4, [0.6, 0.3, 0.1], seed=1),
    "ICA logistic (4)": lambda: _ica(4, seed=2),
    "funnel (5)": lambda: Funnel(5, scale=1.0),
    "Student-t ν=5 (8)": lambda: StudentT(torch.zeros(8, dtype=torch.float64), _correlated(8, 3), df=5.0),
    "mixture 0.5/0.3/0.2 (16)": lambda: _mixture(16, [0.5, 0.3, 0.2], seed=4),
    "Student-t ν=5 (32)": lambda: StudentT(torch.zeros(32, dtype=torch.float64), _correlated(32, 5), df=5.0),
    "ICA logistic (32)": lambda: _ica(32, seed=6),
}
"""name (dimension) -> target; each target's parameters are fixed by its seed."""


def _data(target: AnalyticTarget, n: int, seed: int) -> Tensor:
    return target.sample(n, generator=torch.Generator().manual_seed(seed)).double()


def _peer_net(d: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    width = d
    for _ in range(DEPTH):
        layers += [nn.Linear(width, WIDTH), nn.SiLU()]
        width = WIDTH
    layers.append(nn.Linear(width, 1, bias=False))
    return nn.Sequential(*layers)


Result = dict[str, Any]


def _measure(energy: Energy, stats: Standardizer, target: AnalyticTarget, test: Tensor, seed: int) -> dict[str, float]:
    """Relative Fisher divergence at ``test`` (data units) and C2ST of MALA samples against fresh points."""
    with torch.no_grad():
        z = stats.transform(test).float()
        s = stats.score_to_data(energy.score(z).double())
    rel = float(relative_fisher_divergence(s, target.score(test), test))
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(N_SAMPLES, test.shape[1], generator=g)
    samples = stats.inverse(sample(mala(energy, STEP_SIZE), x0, SAMPLE_STEPS, generator=g).double())
    finite = torch.isfinite(samples).all(1)
    acc = (float(c2st(samples[finite].float(), test[:N_SAMPLES].float(), generator=torch.Generator().manual_seed(0)))
           if finite.sum() >= 100 else 1.0)
    return {"rel_fisher": rel, "c2st": acc}


def _parse_variant(text: str) -> dict[str, Any]:
    """``"init=variance,lr=0.002"`` -> ``{"init": "variance", "lr": 0.002}`` (values typed as TrainConfig's; 0, off
    or none turn off a setting that ``None`` turns off)."""
    out: dict[str, Any] = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        key = key.strip()
        default = getattr(TrainConfig(data="x"), key)
        if key in ("patience", "val_fraction", "clip_grad_norm", "ema_decay") and value in ("0", "off", "none"):
            out[key] = None
        else:
            out[key] = type(default)(value) if not isinstance(default, str) else value
    return out


def run_ours(objective: str, x: Tensor, target: AnalyticTarget, test: Tensor, steps: int, before: bool,
             variant: str | None = None) -> Result:
    sigma: float | str = "auto" if objective == "dsm auto" else SIGMA
    name = objective.split()[0]
    overrides = dict(BEFORE) if before else _parse_variant(variant) if variant else {}
    cfg = TrainConfig(**{"data": "quality", "objective": name, "steps": steps, "sigma": sigma, "seed": 0, **overrides})
    probe = test[:2000]

    def truth(model: Energy, stats: Standardizer) -> dict[str, float]:
        with torch.no_grad():
            s = stats.score_to_data(model.score(stats.transform(probe).float()).double())
        return {"rel_fisher_true": float(relative_fisher_divergence(s, target.score(probe), probe))}

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run, result = train_run(cfg, Path(tmp) / "run", data=x, progress=False, eval_fn=truth)
    seconds = time.perf_counter() - t0
    seen = [r["rel_fisher_true"] for r in result.history if math.isfinite(r.get("rel_fisher_true", math.nan))]
    label = " (before)" if before else f" [{variant}]" if variant else ""
    out: Result = dict(contestant=f"scorematch {objective}{label}", seconds=seconds,
                 steps=result.steps, stop=result.stop_reason, sigma=run.config.sigma,
                 best_seen=min(seen) if seen else math.nan,
                 overfit_warned=any("overfitting" in str(w.message) for w in caught))
    out.update(_measure(run.model, run.stats, target, test, seed=1))
    final_on_probe = truth(run.model, run.stats)["rel_fisher_true"]  # the same points as the values seen
    out["ratio_to_best_seen"] = final_on_probe / out["best_seen"] if seen else math.nan
    return out


def run_peer(peer: str, objective: str, x: Tensor, target: AnalyticTarget, test: Tensor, steps: int) -> Result:
    from peer_trainers import train_peer

    stats = Standardizer.fit(x)
    z = stats.transform(x).float()
    net = _peer_net(x.shape[1], seed=0)
    t0 = time.perf_counter()
    info = train_peer(peer, objective, net, z, steps=steps, batch_size=BATCH, lr=LR, sigma=SIGMA, seed=0)
    seconds = time.perf_counter() - t0
    out: Result = dict(contestant=f"{peer} {objective}", seconds=seconds, steps=info["steps"], stop="steps", sigma=SIGMA,
                 best_seen=math.nan, ratio_to_best_seen=math.nan, overfit_warned=False)
    net.eval()
    out.update(_measure(Energy(net), stats, target, test, seed=1))
    return out


def _fmt(v: Any, spec: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return format(v, spec)


WHY_SHORT = (
    "Why: on these targets the peers' plain loops with the exact or sliced objective do not overfit within the "
    "budget (PyTorch's initialisation, the same as ours, keeps them stable), and every trainer of this network "
    "reaches about the same error. That error is set by the network and the data, not by the budget: where it was "
    "measured, four times the steps without early stopping does not improve on the defaults (the 4× row). The held-"
    "out criterion and the initialisation win by large factors where the earlier settings overfit (the 'before' "
    "rows: 10–1000×), and by 7–41% against peers that do not (the EMA and the choice of the best evaluation). "
    "Two limits showed: on the 32-D ICA the sliced peer is within noise of ours; and selecting the minimum of many "
    "held-out evaluations over a long plateau can pick weights that fit the 2 000 held-out points by chance (banana, "
    "16 000 steps: kept 0.030 although the run passed 0.0067), which patience keeps short in the defaults.")

NOTES: dict[str, str] = {}
"""target name -> what its numbers mean, where they need explaining (printed under the target's table)."""


def _markdown(results: dict[str, list[Result]], meta: dict[str, Any]) -> str:
    lines = ["# Quality", "",
             f"Written by `make quality` on {meta['date']} (`python bench/quality.py {meta['command']}`), "
             f"{meta['seconds'] / 60:.0f} min. Machine: {meta['machine']}.", "",
             __doc__.split("\n\n", 1)[1].split("Usage:")[0].strip().replace("``", "`"), "",
             "Columns: *rel. Fisher* on fresh points (lower is better; 1 = the zero score); *÷ best peer*: ours "
             "divided by the best peer objective's on that target (target ≤ 0.5); *final ÷ best seen*: the final "
             "value over the lowest the run reached at any evaluation (target ≤ 1.5); *C2ST*; *steps* done (early "
             "stopping); *s*: wall seconds of training.", ""]
    summary = ["## Summary: the library's defaults against the best peer", "",
               "| target | best peer | its rel. Fisher | scorematch defaults (esm) | ÷ | best scorematch objective | "
               "its rel. Fisher | ÷ |", "|---|---|---:|---:|---:|---|---:|---:|"]
    for name, rows in results.items():
        peers = [r for r in rows if not r["contestant"].startswith("scorematch")]
        ours = [r for r in rows if r["contestant"].startswith("scorematch") and "(before)" not in r["contestant"]
                and "[" not in r["contestant"]]
        best_peer = min(peers, key=lambda r: r["rel_fisher"]) if peers else None
        default = next((r for r in ours if r["contestant"] == "scorematch esm"), None)
        best_ours = min(ours, key=lambda r: r["rel_fisher"]) if ours else None
        bp = best_peer["rel_fisher"] if best_peer else math.nan
        summary.append(
            f"| {name} | {best_peer['contestant'] if best_peer else '—'} | {_fmt(bp, '.4f')} | "
            f"{_fmt(default['rel_fisher'] if default else None, '.4f')} | "
            f"{_fmt(default['rel_fisher'] / bp if default and best_peer else None, '.2f')} | "
            f"{best_ours['contestant'] if best_ours else '—'} | "
            f"{_fmt(best_ours['rel_fisher'] if best_ours else None, '.4f')}"
            f" | {_fmt(best_ours['rel_fisher'] / bp if best_ours and best_peer else None, '.2f')} |")
    lines += [*summary, ""]
    short = []
    for name, rows in results.items():
        peers = [r for r in rows if not r["contestant"].startswith("scorematch")]
        ours = [r for r in rows if r["contestant"].startswith("scorematch") and "(" not in r["contestant"]
                and "[" not in r["contestant"]]
        if not peers or not ours:
            continue
        bp, bo = min(peers, key=lambda r: r["rel_fisher"]), min(ours, key=lambda r: r["rel_fisher"])
        ratio = bo["rel_fisher"] / bp["rel_fisher"]
        if ratio <= 0.5:
            continue
        text = (f"- **{name}**: {bo['contestant']} {bo['rel_fisher']:.4f} is {ratio:.2f}× {bp['contestant']}'s "
                f"{bp['rel_fisher']:.4f}.")
        for label, key in (("4× row: 16 000 steps, no early stopping", "scorematch esm [steps=16000,patience=0]"),
                           ("3 hidden layers", "scorematch esm [depth=3]")):
            alt = next((r for r in rows if r["contestant"] == key), None)
            if alt:
                text += f" {label}: {alt['rel_fisher']:.4f} ({alt['rel_fisher'] / bp['rel_fisher']:.2f}×)."
        short.append(text + (" " + NOTES[name] if name in NOTES else ""))
    if short:
        lines += ["## Where the best objective with the defaults is not at most half the best peer", "", *short, "",
                  WHY_SHORT, ""]
    auto = [(name, next((r for r in rows if r["contestant"] == "scorematch dsm"), None),
             next((r for r in rows if r["contestant"] == "scorematch dsm auto"), None)) for name, rows in results.items()]
    auto = [(n, a, b) for n, a, b in auto if a and b]
    if auto:
        lines += ["## dsm: `--sigma auto` against σ = 0.1", "",
                  "| target | σ chosen | rel. Fisher at σ = 0.1 | with `--sigma auto` | ratio |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {n} | {b['sigma']:g} | {a['rel_fisher']:.4f} | {b['rel_fisher']:.4f} | "
                  f"{b['rel_fisher'] / a['rel_fisher']:.2f} |" for n, a, b in auto]
        lines.append("")
    variants = sorted({r["contestant"].split("[", 1)[1].rstrip("]") for rows in results.values() for r in rows
                       if "[" in r["contestant"]})
    if variants:
        lines += ["## How the defaults were chosen", "",
                  "Each row changes one setting of the defaults; the entries are the geometric mean over the targets "
                  "of (rel. Fisher with the change) ÷ (rel. Fisher with the defaults), per objective: above 1, the "
                  "change makes the fit worse.", "", "| change | esm | ssm-vr | dsm |", "|---|---:|---:|---:|"]
        for v in variants:
            cells = []
            for o in ("esm", "ssm-vr", "dsm"):
                logs = []
                for rows in results.values():
                    base = next((r for r in rows if r["contestant"] == f"scorematch {o}"), None)
                    alt = next((r for r in rows if r["contestant"] == f"scorematch {o} [{v}]"), None)
                    if base and alt and base["rel_fisher"] > 0 and alt["rel_fisher"] > 0:
                        logs.append(math.log(alt["rel_fisher"] / base["rel_fisher"]))
                cells.append(_fmt(math.exp(sum(logs) / len(logs)) if logs else None, ".2f"))
            lines.append(f"| {v} | " + " | ".join(cells) + " |")
        lines.append("")
    for name, rows in results.items():
        peers = [r["rel_fisher"] for r in rows if not r["contestant"].startswith("scorematch")]
        bp = min(peers) if peers else math.nan
        lines += [f"## {name}", "",
                  "| contestant | rel. Fisher | ÷ best peer | final ÷ best seen | C2ST | steps | stop | σ | s |",
                  "|---|---:|---:|---:|---:|---:|---|---:|---:|"]
        for r in rows:
            lines.append(f"| {r['contestant']}{' ⚠ overfitting seen' if r['overfit_warned'] else ''} | "
                         f"{_fmt(r['rel_fisher'], '.4f')} | {_fmt(r['rel_fisher'] / bp, '.2f')} | "
                         f"{_fmt(r['ratio_to_best_seen'], '.2f')} | {_fmt(r['c2st'], '.3f')} | {r['steps']} | {r['stop']} | "
                         f"{_fmt(r['sigma'], 'g') if r['contestant'].split()[1].startswith('dsm') else ''} | "
                         f"{_fmt(r['seconds'], '.0f')} |")
        lines.append("")
        if name in NOTES:
            lines += [NOTES[name], ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="QUALITY.md")
    ap.add_argument("--json", default=None, help="also write the raw results here")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--targets", default=None, help="comma-separated subset of target names (prefix match)")
    ap.add_argument("--objectives", default=",".join(OUR_OBJECTIVES))
    ap.add_argument("--peers", default="ebmkit,torchebm", help="comma-separated; empty for none")
    ap.add_argument("--before", action="store_true", help="add the settings before the held-out criterion")
    ap.add_argument("--variants", default="", help="';'-separated settings to compare with the defaults, each "
                    "'key=value[,key=value]', run with --variant-objectives (how the defaults were chosen)")
    ap.add_argument("--variant-objectives", default="esm,ssm-vr,dsm")
    ap.add_argument("--quick", action="store_true", help="a smoke run: one small target, 200 steps")
    ap.add_argument("--from-json", default=None, help="write the report of a saved --json run, training nothing")
    args = ap.parse_args()
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        Path(args.out).write_text(_markdown(saved["results"], saved["meta"]))
        print(f"-> {args.out}")
        return
    tune_cpu_allocator()
    names = list(TARGETS)
    global N_SAMPLES, SAMPLE_STEPS
    if args.quick:  # the test suite's smoke run: one small target, short runs, few samples
        names, args.steps, N_SAMPLES, SAMPLE_STEPS = ["banana (2)"], 200, 500, 200
    if args.targets:
        wanted = [t.strip() for t in args.targets.split(",")]
        names = [n for n in names if any(n.startswith(w) for w in wanted)]
    peers = [p for p in args.peers.split(",") if p]
    objectives = [o.strip() for o in args.objectives.split(",") if o.strip()]
    unknown = [p for p in peers if p not in PEER_OBJECTIVES] + [o for o in objectives if o not in OUR_OBJECTIVES]
    if unknown or not names:
        sys.stderr.write(f"quality.py: error: unknown peer(s)/objective(s)/target(s) {', '.join(unknown) or args.targets}; "
                 f"peers: {', '.join(PEER_OBJECTIVES)}; objectives: {', '.join(OUR_OBJECTIVES)}; targets: "
                 f"{', '.join(TARGETS)}\n")
        sys.exit(2)
    machine = (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch "
               f"{torch.__version__}, Python {platform.python_version()}")
    t_all = time.perf_counter()
    results: dict[str, list[Result]] = {}
    for name in names:
        target = TARGETS[name]()
        x, test = _data(target, N_TRAIN, seed=10), _data(target, N_TEST, seed=11)
        rows: list[Result] = []
        jobs: list[tuple[Callable[..., Result], tuple[Any, ...]]] = [
            (run_ours, (o, x, target, test, args.steps, False)) for o in objectives]
        if args.before:
            jobs += [(run_ours, (o, x, target, test, args.steps, True)) for o in ("esm", "ssm-vr", "dsm")]
        for variant in [v for v in args.variants.split(";") if v]:
            jobs += [(run_ours, (o, x, target, test, args.steps, False, variant))
                     for o in args.variant_objectives.split(",")]
        for peer in peers:
            jobs += [(run_peer, (peer, o, x, target, test, args.steps)) for o in PEER_OBJECTIVES[peer]]
        for job, job_args in jobs:
            r = job(*job_args)
            rows.append(r)
            print(f"{name:28s} {r['contestant']:34s} rel.F {r['rel_fisher']:8.4f}  best seen {r['best_seen']:8.4f}  "
                  f"C2ST {r['c2st']:.3f}  steps {r['steps']:5d}  {r['seconds']:6.1f} s", flush=True)
        results[name] = rows
    meta = {"date": str(datetime.date.today()), "command": " ".join(sys.argv[1:]), "machine": machine,
            "seconds": time.perf_counter() - t_all}
    Path(args.out).write_text(_markdown(results, meta))
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=float))
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
