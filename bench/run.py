"""``make bench``: scorematch against torchebm and ebmkit, measured interleaved in one process; writes BENCHMARKS.md.

Rows:

* one full training step (loss + backward + optimizer step) of every objective, for an energy MLP
  d→128→128→1 with SiLU, batch 256, d ∈ {2, 16, 64, 784}, float32;
* unadjusted Langevin sampling of the d = 2 net, 256 and 10 000 particles, 1000 steps.

Each contestant gets its own copy of the same initial net and the same batches. scorematch runs the step of
``scorematch.training.fit.fit`` (``training_step`` with ``default_optimizer``); a peer runs its own loss object with
``torch.optim.Adam``, as its documentation shows (``bench/peers.py``). Every round times each contestant once, in
turn, so that a change in machine load hits all of them alike; the table gives medians over rounds.

Usage: ``python bench/run.py [--out BENCHMARKS.md] [--quick] [--threads N] [--peers torchebm,ebmkit]``.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers

from scorematch import Energy, losses, tune_cpu_allocator
from scorematch.models import NoiseConditionalEnergyMLP
from scorematch.samplers import langevin, sample
from scorematch.training.fit import default_optimizer, training_step

WIDTH, BATCH, LR, SIGMA, STEP_SIZE = 128, 256, 1e-4, 0.1, 0.01
OURS: dict[str, Callable[..., Tensor]] = {
    "esm": losses.explicit,
    "ssm": functools.partial(losses.sliced, probe="gaussian"),  # Gaussian probes, as the peers are set up
    "ssm-vr": functools.partial(losses.sliced, probe="gaussian", variance_reduction=True),
    "dsm": functools.partial(losses.denoising, sigma=SIGMA),
    "fd-ssm": losses.finite_difference_sliced,
    "ncsn": functools.partial(losses.multiscale_denoising, sigmas=torch.logspace(0, -2, 10).tolist()),
}


@dataclass
class Settings:
    dims: list[int] = field(default_factory=lambda: [2, 16, 64, 784])
    rounds: int = 30
    rounds_slow: int = 3  # rows in which some contestant takes seconds per step (esm at d = 784)
    warmup: int = 3
    particles: list[int] = field(default_factory=lambda: [256, 10_000])
    langevin_steps: int = 1000
    langevin_rounds: int = 3


QUICK = Settings(dims=[2], rounds=2, rounds_slow=1, warmup=1, particles=[16], langevin_steps=5, langevin_rounds=1)


def energy_net(d: int) -> nn.Sequential:
    """The benchmark's energy, the same initial weights for every contestant."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(d, WIDTH), nn.SiLU(), nn.Linear(WIDTH, WIDTH), nn.SiLU(), nn.Linear(WIDTH, 1))


def ours_step(objective: str, d: int, batches: list[Tensor]) -> Callable[[int], None]:
    torch.manual_seed(0)
    if objective == "ncsn":  # needs a noise-conditional energy: the same trunk with a σ embedding as extra inputs
        model = Energy(NoiseConditionalEnergyMLP(d, hidden=WIDTH, depth=2))
    else:
        model = Energy(energy_net(d))
    step = training_step(model, OURS[objective], default_optimizer(model.parameters(), LR))
    generator = torch.Generator().manual_seed(1)

    def run(i: int) -> None:
        loss, _ = step(batches[i % len(batches)], generator)
        if not math.isfinite(loss.item()):
            raise RuntimeError(f"scorematch {objective}: non-finite loss")

    return run


def peer_step(peer: str, objective: str, d: int, batches: list[Tensor]) -> Callable[[int], None] | None:
    if (peer, objective) in peers.MISMATCHED:
        return None
    net = energy_net(d)
    step = peers.training_step(peer, objective, net, torch.optim.Adam(net.parameters(), lr=LR), sigma=SIGMA,
                               generator=torch.Generator().manual_seed(1))
    return None if step is None else (lambda i: step(batches[i % len(batches)]))


def interleaved(contestants: dict[str, Callable[[int], object]], rounds: int, warmup: int) -> dict[str, float]:
    """Median seconds per call of each contestant, called in turn in every round."""
    for fn in contestants.values():
        for i in range(warmup):
            fn(i)
    times: dict[str, list[float]] = {name: [] for name in contestants}
    for r in range(rounds):
        for name, fn in contestants.items():
            t0 = time.perf_counter()
            fn(warmup + r)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def training_rows(settings: Settings, names: list[str]) -> list[dict]:
    rows = []
    for d in settings.dims:
        gen = torch.Generator().manual_seed(2)
        batches = [torch.randn(BATCH, d, generator=gen) for _ in range(8)]
        for objective in OURS:
            contestants: dict[str, Callable[[int], None]] = {"scorematch": ours_step(objective, d, batches)}
            for peer in names:
                step = peer_step(peer, objective, d, batches)
                if step is not None:
                    contestants[peer] = step
            slow = objective == "esm" and d > 100
            medians = interleaved(contestants, settings.rounds_slow if slow else settings.rounds,
                                  min(settings.warmup, 1) if slow else settings.warmup)
            rows.append({"d": d, "objective": objective, **{k: 1e3 * v for k, v in medians.items()}})
            print(f"  d={d:<4} {objective:<7}" + "".join(f" {k} {1e3 * v:9.2f} ms" for k, v in medians.items()),
                  flush=True)
    return rows


def langevin_rows(settings: Settings, names: list[str]) -> list[dict]:
    rows = []
    net = energy_net(2)
    for n in settings.particles:
        x0 = torch.randn(n, 2, generator=torch.Generator().manual_seed(3))
        model = Energy(net)
        contestants: dict[str, Callable[[int], object]] = {
            "scorematch": lambda i, x0=x0, model=model: sample(langevin(model, STEP_SIZE), x0, settings.langevin_steps,
                                                               generator=torch.Generator().manual_seed(i))}
        for peer in names:
            run = peers.langevin(peer, net, x0, step_size=STEP_SIZE, n_steps=settings.langevin_steps)
            if run is not None:
                contestants[peer] = lambda i, run=run: run()
        medians = interleaved(contestants, settings.langevin_rounds, 1)
        rows.append({"particles": n, **medians})
        print(f"  langevin n={n:<6}" + "".join(f" {k} {v:8.3f} s" for k, v in medians.items()), flush=True)
    return rows


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _fmt(v: float | None, unit: str = "") -> str:
    return "—" if v is None else f"{v:.3g}{unit}" if v < 10 else f"{v:.1f}{unit}"


def _ratio_cells(row: dict, names: list[str]) -> tuple[str, str, float | None]:
    """(ours / fastest peer, fastest peer / ours as 'N.N×', the speed-up) of a row."""
    times = [row[p] for p in names if p in row]
    if not times:
        return "—", "—", None
    best = min(times)
    return f"{row['scorematch'] / best:.2f}", f"{best / row['scorematch']:.1f}×", best / row["scorematch"]


def targets(train: list[dict], sampling: list[dict], names: list[str]) -> list[str]:
    """The issue's targets, each with the measured figure and whether it holds."""
    by = {(r["d"], r["objective"]): r for r in train}
    lines = []

    def speedup(d: int, objective: str) -> float | None:
        row = by.get((d, objective))
        return None if row is None else _ratio_cells(row, names)[2]

    def mark(ok: bool | None) -> str:
        return "n/a (no peer timed)" if ok is None else ("met" if ok else "**not met**")

    s = speedup(64, "esm")
    lines.append(f"- explicit SM at d = 64 ≥ 5× faster than the faster peer: {_fmt(s, '×')} — "
                 f"{mark(None if s is None else s >= 5)}")
    if (784, "esm") in by and (64, "esm") in by:
        q = by[(784, "esm")]["scorematch"] / by[(64, "esm")]["scorematch"]
        lines.append(f"- explicit SM at d = 784 costs < 2× our d = 64 step: {q:.2f}× — {mark(q < 2)}")
    for objective in ("dsm", "ssm"):
        for d in (2, 64):
            s = speedup(d, objective)
            if (d, objective) in by:
                lines.append(f"- {objective} at d = {d} ≥ 2× faster than the fastest peer: {_fmt(s, '×')} — "
                             f"{mark(None if s is None else s >= 2)}")
    for row in sampling:
        _, _, s = _ratio_cells(row, names)
        need = 2.0 if row["particles"] <= 256 else 1.0
        lines.append(f"- Langevin, {row['particles']} particles: ≥ {need:g}× the fastest peer's speed: "
                     f"{_fmt(s, '×')} — {mark(None if s is None else s >= need)}")
    return lines


def adam_note(settings: Settings) -> str:
    """Fused against plain Adam on the d = 64 net, alone: how much of a step is the optimizer."""
    nets = {k: energy_net(64) for k in ("fused", "plain")}
    for net in nets.values():
        for p in net.parameters():
            p.grad = torch.randn_like(p)
    opts = {"fused": default_optimizer(nets["fused"].parameters(), LR),
            "plain": torch.optim.Adam(nets["plain"].parameters(), lr=LR)}
    med = interleaved({k: (lambda i, o=o: o.step()) for k, o in opts.items()}, max(settings.rounds, 5), 2)
    return (f"The optimizer step alone on this net (d = 64, {sum(p.numel() for p in nets['fused'].parameters())} "
            f"parameters): scorematch's fused Adam {1e3 * med['fused']:.3f} ms, torch.optim.Adam "
            f"{1e3 * med['plain']:.3f} ms.")


def report(train: list[dict], sampling: list[dict], names: list[str], versions: dict[str, str],
           settings: Settings, adam: str, tuned: bool) -> str:
    peers_cols = [p for p in peers.PEER_VERSIONS if p in names]
    threads = torch.get_num_threads()
    head = ["d", "objective", "scorematch (ms)", *[f"{p} (ms)" for p in peers_cols], "ours / fastest peer",
            "speed-up"]
    out = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {datetime.date.today().isoformat()}. Machine: {cpu_name()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}, {threads} thread{'s' * (threads != 1)}, Python "
        f"{platform.python_version()}. Peers: "
        + (", ".join(f"{p} {versions[p]}" for p in peers_cols) if peers_cols else "none installed") + ".",
        "",
        ("All contestants run in one process, with glibc's malloc tuned by `scorematch.tune_cpu_allocator()` "
         "(as the `scorematch` command does): without it every 128 KiB temporary is a fresh `mmap`, which slows "
         "every library's small-batch steps several-fold." if tuned else
         "glibc's malloc could not be tuned here (`tune_cpu_allocator()` returned False)."),
        "",
        "## Training steps",
        "",
        f"Energy MLP d→{WIDTH}→{WIDTH}→1 (SiLU), batch {BATCH}, float32. Median milliseconds per full training "
        f"step (loss, backward, optimizer step) over {settings.rounds} interleaved rounds "
        f"({settings.rounds_slow} for explicit SM at d = 784). *ours / fastest peer* is the time ratio; "
        "*speed-up* its inverse. — : the library has no such objective.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---:" for _ in head) + "|",
    ]
    for row in train:
        ratio, speed, _ = _ratio_cells(row, peers_cols)
        cells = [str(row["d"]), row["objective"], _fmt(row["scorematch"]), *[_fmt(row.get(p)) for p in peers_cols],
                 ratio, speed]
        out.append("| " + " | ".join(cells) + " |")
    out += [
        "",
        "Objectives: esm = explicit SM with an exact trace; ssm / ssm-vr = sliced SM with one Gaussian probe, "
        "plain / variance-reduced; dsm = denoising SM, σ = 0.1; fd-ssm = finite-difference sliced SM; "
        "ncsn = multi-scale DSM over 10 levels (scorematch's noise-conditional MLP: the same trunk plus a "
        "9-feature σ embedding). Every peer objective in the table was checked to give the same value and "
        "parameter gradients as scorematch's to float64 round-off (`bench/check_peers.py`). torchebm's "
        "`ScoreMatching(hessian_method='approx')` is a different objective (trace divided by d) and is left out.",
        "",
        adam,
        "",
        "## Langevin sampling",
        "",
        f"Unadjusted Langevin on the d = 2 net above, ε = {STEP_SIZE}, {settings.langevin_steps} steps; median "
        f"seconds over {settings.langevin_rounds} interleaved rounds.",
        "",
        "| particles | scorematch (s) | " + " | ".join(f"{p} (s)" for p in peers_cols)
        + (" | " if peers_cols else "") + "ours / fastest peer | speed-up |",
        "|" + "|".join("---:" for _ in range(4 + len(peers_cols))) + "|",
    ]
    for row in sampling:
        ratio, speed, _ = _ratio_cells(row, peers_cols)
        cells = [str(row["particles"]), _fmt(row["scorematch"]), *[_fmt(row.get(p)) for p in peers_cols], ratio, speed]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "## Targets", "", *targets(train, sampling, peers_cols), ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"))
    parser.add_argument("--quick", action="store_true", help="a few rounds at d = 2 only (a smoke test)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--dims", help="comma-separated dimensions (default 2,16,64,784)")
    parser.add_argument("--peers", default=",".join(peers.PEER_VERSIONS),
                        help="comma-separated peers to time if installed ('' for none)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    tuned = tune_cpu_allocator()  # for every contestant alike: one process
    settings = QUICK if args.quick else Settings()
    if args.dims:
        settings.dims = [int(v) for v in args.dims.split(",")]
    wanted = [p for p in args.peers.split(",") if p]
    unknown = [p for p in wanted if p not in peers.PEER_VERSIONS]
    if unknown:
        parser.error(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(peers.PEER_VERSIONS)}")
    versions = peers.installed()
    names = [p for p in wanted if p in versions]
    for p in wanted:
        if p not in versions:
            print(f"note: {p} is not installed; its columns are left out", file=sys.stderr)
        elif versions[p] != peers.PEER_VERSIONS[p]:
            print(f"note: {p} {versions[p]} is installed; the bench pins {peers.PEER_VERSIONS[p]}", file=sys.stderr)
    print(f"training steps ({', '.join(['scorematch', *names])}):", flush=True)
    train = training_rows(settings, names)
    print("sampling:", flush=True)
    sampling = langevin_rows(settings, names)
    text = report(train, sampling, names, versions, settings, adam_note(settings), tuned)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
