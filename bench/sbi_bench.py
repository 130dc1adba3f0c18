"""Posterior quality of the library's inference methods against sbi's, on the benchmark tasks with a reference.

    python bench/sbi_bench.py [--tasks all] [--simulations 10000] [--observations 1-10] [--samples 2000]
                              [--methods npse,fsm,sbi-npe,sbi-npse,sbi-fmpe,exact] [--iid 10] [--calibration 100]
                              [--steps N] [--json bench/sbi_bench.json] [--out docs/sbi_bench.md]

Each (task, simulations, method) trains once on its own simulations (the same prior draws and simulator seeds for
every method that simulates at prior draws; Fisher score matching simulates at θ + σε instead) and then draws
``--samples`` posterior samples for each observation. The C2ST follows the benchmark's protocol (Lueckmann et al.
2021): a classifier of two hidden layers of 10·dim units, 5 folds, inputs standardized on the reference; it is the
library's torch classifier (1000 Adam steps), and the samples are 2000 per side instead of 10,000.

* ``npse``: :func:`scorematch.sbi.train_npse` (defaults) and the reverse SDE, 500 steps; with ``--iid`` the
  single-observation scores composed with Gaussian weights (:mod:`scorematch.sbi.npse_iid`).
* ``fsm``: amortised Fisher score matching, an energy network (defaults of :func:`scorematch.sbi.train_fisher`),
  posterior sampled by SMC; with ``--iid`` the energies of the iid observations add.
* ``sbi-npe``, ``sbi-npse``, ``sbi-fmpe``: sbi 0.27's NPE, NPSE (``sde_type="ve"``) and FMPE with their defaults.
* ``exact``: a second, independent set of reference draws, so its C2ST is the floor a perfect method reaches with
  this classifier and sample size (above 0.5 by chance).

``--iid K`` adds K iid observations per observation on ``gaussian_linear`` (exact posterior N(Σx/(K+1), 0.1/(K+1)))
and ``two_moons`` (reference: the exact likelihood on a grid), for the methods that take several observations
(``npse``, ``fsm``, and ``sbi-npse`` with its default iid method, ``auto_gauss``). ``--calibration N``:
simulation-based calibration from N draws (θ, x) of the prior and simulator: the rank of each true parameter
among 200 posterior draws, reported as the mean absolute error of the central intervals' coverage at 50, 80 and 95%.

Results accumulate in the JSON file (one row per task, budget, method, observation), so an interrupted run resumes
and runs with different flags fill one table; ``--out`` renders every row held.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from scorematch._infra.checkpoint import atomic_write
from scorematch.metrics import c2st
from scorematch.samplers.smc import smc
from scorematch.sbi import TASKS, Task, get_task, npse_sample, posterior_model, sample_prior, train_fisher, train_npse

OURS = ("npse", "fsm")
PEERS = ("sbi-npe", "sbi-npse", "sbi-fmpe")
FLOOR = ("exact",)  # a second set of reference draws: the C2ST of a perfect method at this sample size
IID_METHODS = ("npse", "fsm", "sbi-npse", "exact")
Sampler = Callable[[torch.Tensor, int, int], torch.Tensor]  # (x (k, d), n, seed) -> (n, p)


def _sbi_prior(task: Task):
    from sbi.utils import BoxUniform

    base = getattr(task.prior, "base_dist", task.prior)
    if isinstance(base, torch.distributions.Uniform):
        return BoxUniform(base.low.float(), base.high.float())
    return torch.distributions.MultivariateNormal(task.prior.loc.float(), task.prior.covariance_matrix.float())


def train(task: Task, method: str, n_sim: int, steps: int | None = None) -> tuple[Sampler, float]:
    """A posterior sampler for ``method`` trained on ``n_sim`` simulations (ours at most ``steps`` steps when
    given), and the training seconds."""
    if method == "exact":
        return (lambda xs, n, seed: reference(task, xs, n, 50_000 + seed)), 0.0
    g = torch.Generator().manual_seed(0)
    budget = {} if steps is None else {"steps": steps}
    t0 = time.perf_counter()
    if method == "fsm":
        fit = train_fisher(task, n_sim, generator=g, **budget)
        draws = sample_prior(task.prior, 10000, torch.Generator().manual_seed(1)).double()

        def fsm(x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
            return smc(posterior_model(fit, task.prior, x), n, (task.dim_parameters,), base_mean=draws.mean(0),
                       base_std=float(draws.std(0).max()), generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64).x

        return fsm, time.perf_counter() - t0
    theta, x = task.simulations(n_sim, g)
    if method == "npse":
        fit = train_npse(theta, x, generator=g, **budget)
        return (lambda xo, n, seed: npse_sample(fit, task.prior, xo, n,
                                                generator=torch.Generator().manual_seed(seed))), \
            time.perf_counter() - t0
    from sbi.inference import FMPE, NPE, NPSE

    torch.manual_seed(0)
    prior = _sbi_prior(task)
    inference = {"sbi-npe": lambda: NPE(prior=prior, show_progress_bars=False),
                 "sbi-npse": lambda: NPSE(prior=prior, sde_type="ve", show_progress_bars=False),
                 "sbi-fmpe": lambda: FMPE(prior=prior, show_progress_bars=False)}[method]()
    inference.append_simulations(theta.float(), x.float()).train(show_train_summary=False)
    posterior = inference.build_posterior()

    def peer(xo: torch.Tensor, n: int, seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        return posterior.sample((n,), x=(xo[0] if xo.shape[0] == 1 else xo).float(),
                                show_progress_bars=False).double()

    return peer, time.perf_counter() - t0


def observations(task: Task, j: int, iid: int) -> torch.Tensor:
    """Observation ``j`` ``(1, d)``, or ``iid`` draws at its true θ (seed ``2000 + j``) ``(iid, d)``."""
    theta, x = task.observation(j)
    if iid <= 1:
        return x[None]
    return task.simulate(theta.expand(iid, -1).clone(), torch.Generator().manual_seed(2000 + j))


def reference(task: Task, xs: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if xs.shape[0] == 1:
        return task.reference_posterior(xs[0], n, g)
    if task.name == "gaussian_linear":
        k = xs.shape[0]
        return xs.sum(0) / (k + 1) + math.sqrt(0.1 / (k + 1)) * torch.randn(n, xs.shape[1], generator=g,
                                                                                dtype=torch.float64)
    return _grid_posterior(task, xs, n, g)


def _grid_posterior(task: Task, xs: torch.Tensor, n: int, g: torch.Generator) -> torch.Tensor:
    """Draws of a 2-parameter posterior on the prior's box from its exact density on a grid: 1000² cells over the
    box, then 1000² over the box around every cell within 30 nats of the maximum; a cell by its mass, then a
    uniform point inside it (exact up to the fine cell's width)."""
    base = task.prior.base_dist
    lo, hi = base.low.double(), base.high.double()
    for _ in range(2):
        axes = [torch.linspace(float(lo[i]), float(hi[i]), 1001, dtype=torch.float64) for i in range(2)]
        width = torch.stack([a[1] - a[0] for a in axes])
        centres = torch.cartesian_prod(*[(a[:-1] + a[1:]) / 2 for a in axes])
        log_p = sum(task.log_likelihood(centres, x.expand(centres.shape[0], -1)) for x in xs)
        keep = log_p > log_p.max() - 30
        lo = (centres[keep].min(0).values - 2 * width).clamp_min(base.low.double())
        hi = (centres[keep].max(0).values + 2 * width).clamp_max(base.high.double())
    cells = torch.multinomial(torch.softmax(log_p, 0), n, replacement=True, generator=g)
    return centres[cells] + (torch.rand(n, 2, generator=g, dtype=torch.float64) - 0.5) * width


def calibration(task: Task, sampler: Sampler, n: int) -> float:
    """Mean |coverage − level| of central intervals at 50/80/95% over parameters, from ``n`` SBC draws."""
    theta, x = task.simulations(n, torch.Generator().manual_seed(7))
    ranks = []
    for i in range(n):
        draws = sampler(x[i][None].double(), 200, 10_000 + i)
        ranks.append((draws < theta[i]).double().mean(0))
    u = torch.stack(ranks)  # (n, p), uniform when calibrated
    errors = [float(((u - 0.5).abs() <= level / 2).double().mean(0).sub(level).abs().mean())
              for level in (0.5, 0.8, 0.95)]
    return statistics.mean(errors)


def key(task: str, n_sim: int, method: str, iid: int) -> str:
    return f"{task}|{n_sim}|{method}|{iid}"


def run(args: argparse.Namespace, rows: dict, save: Callable[[], None]) -> None:
    for name in args.tasks:
        task = get_task(name)
        iid_list = [1] + ([args.iid] if args.iid > 1 and name in ("gaussian_linear", "two_moons") else [])
        for n_sim in args.simulations:
            for method in args.methods:
                todo = [(k, j) for k in iid_list if k == 1 or method in IID_METHODS for j in args.observations
                        if str(j) not in rows.get(key(name, n_sim, method, k), {}).get("c2st", {})]
                need_cal = (args.calibration and method not in FLOOR
                            and "calibration" not in rows.get(key(name, n_sim, method, 1), {}))
                if not todo and not need_cal:
                    continue
                print(f"[{name} {n_sim} {method}] training", flush=True)
                sampler, train_s = train(task, method, n_sim, args.steps)
                for k, j in todo:
                    row = rows.setdefault(key(name, n_sim, method, k), {"c2st": {}, "sample_s": {}})
                    row["train_s"] = train_s
                    xs = observations(task, j, k)
                    t0 = time.perf_counter()
                    draws = sampler(xs.double(), args.samples, j)
                    row["sample_s"][str(j)] = time.perf_counter() - t0
                    ref = reference(task, xs, args.samples, 100 + j)
                    row["c2st"][str(j)] = float(c2st(ref.float(), draws.float(), hidden=10 * task.dim_parameters,
                                                     standardize="x", generator=torch.Generator().manual_seed(0)))
                    print(f"[{name} {n_sim} {method} iid={k}] observation {j}: C2ST {row['c2st'][str(j)]:.3f}",
                          flush=True)
                    save()
                if need_cal:
                    row = rows.setdefault(key(name, n_sim, method, 1), {"c2st": {}, "sample_s": {}})
                    row["calibration"] = calibration(task, sampler, args.calibration)
                    print(f"[{name} {n_sim} {method}] calibration error {row['calibration']:.3f}", flush=True)
                    save()


PUBLISHED = {"two_moons": 0.606, "gaussian_linear": 0.552, "slcp": 0.771, "gaussian_mixture": 0.615,
             "bernoulli_glm": 0.605}


def render(rows: dict) -> str:
    lines = ["# Simulation-based inference: the library against sbi 0.27", "",
             "`make sbi-bench` (`python bench/sbi_bench.py`, its docstring gives the protocol). C2ST against the "
             "reference posterior, mean over the observations listed (0.5: indistinguishable); **bold**: the best "
             "of each row group. Calibration: mean |coverage − level| of central intervals at 50/80/95% "
             "(simulation-based calibration). Seconds on 2 CPU cores.", ""]
    groups: dict[tuple[str, int, int], dict[str, dict]] = {}
    for k, row in rows.items():
        task, n_sim, method, iid = k.split("|")
        groups.setdefault((task, int(n_sim), int(iid)), {})[method] = row
    lines += ["| task | simulations | iid | method | C2ST | observations | calibration | train s | sample s / obs |",
              "|---|---|---|---|---|---|---|---|---|"]
    order = {m: i for i, m in enumerate(OURS + PEERS + FLOOR)}
    for (task, n_sim, iid), methods in sorted(groups.items(), key=lambda kv: (list(TASKS).index(kv[0][0]),
                                                                            kv[0][1], kv[0][2])):
        means = {m: statistics.mean(r["c2st"].values()) for m, r in methods.items() if r["c2st"]}
        contest = [v for m, v in means.items() if m not in FLOOR]
        best = min(contest) if contest else None
        for m in sorted(methods, key=lambda m: order.get(m, 99)):
            r = methods[m]
            if m not in means:
                continue
            c = f"{means[m]:.3f}"
            c = f"**{c}**" if means[m] == best and m not in FLOOR else c
            obs = ",".join(sorted(r["c2st"], key=int))
            cal = f"{r['calibration']:.3f}" if "calibration" in r else ""
            sample_s = statistics.mean(r["sample_s"].values())
            lines.append(f"| {task} | {n_sim} | {iid} | {m} | {c} | {obs} | {cal} | {r.get('train_s', 0):.0f} | "
                         f"{sample_s:.1f} |")
    lines += ["", "Published best non-sequential C2ST at 10⁴ simulations (sbibm, 10,000 samples, its own "
              "observations): " + ", ".join(f"{t} {v}" for t, v in PUBLISHED.items()) + "."]
    return "\n".join(lines) + "\n"


def _ints(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="all")
    ap.add_argument("--simulations", default="10000")
    ap.add_argument("--observations", default="1-10")
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--methods", default=",".join(OURS + PEERS + FLOOR))
    ap.add_argument("--iid", type=int, default=0)
    ap.add_argument("--calibration", type=int, default=0)
    ap.add_argument("--steps", type=int, help="training steps of the library's methods (default: theirs)")
    ap.add_argument("--json", type=Path, default=Path("bench/sbi_bench.json"))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    try:
        args.tasks = list(TASKS) if args.tasks == "all" else [t for t in args.tasks.split(",") if t]
        for t in args.tasks:
            get_task(t)
        args.simulations, args.observations = _ints(args.simulations), _ints(args.observations)
        args.methods = [m for m in args.methods.split(",") if m]
        bad = [m for m in args.methods if m not in OURS + PEERS + FLOOR]
        if bad:
            raise ValueError(f"unknown method {bad[0]!r}; known: {', '.join(OURS + PEERS + FLOOR)}")
    except ValueError as e:
        sys.stderr.write(f"sbi_bench: error: {e}\n")
        return 2
    rows = json.loads(args.json.read_text()) if args.json.exists() else {}

    def save() -> None:
        atomic_write(args.json, json.dumps(rows, indent=1, sort_keys=True) + "\n")
        if args.out:
            atomic_write(args.out, render(rows))

    run(args, rows, save)
    print(render(rows))
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
