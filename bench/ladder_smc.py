r"""Sequential Monte Carlo along a diffusion energy's own noise ladder, measured against the truth.

    python bench/ladder_smc.py RUN [--particles 4096] [--levels 100] [--moves 5] [--seed 0] [--out F]

A diffusion run of an energy (``--model energy``) learns one energy per noise level, :math:`E(x, \sigma(t))` for
the diffused law :math:`p_t`, from the prior at t = 1 down to t_min. SMC can anneal along these laws themselves
instead of along a temperature: particles from the prior :math:`\pi_K`, levels :math:`t_K = 1 > \dots > t_0 =
t_{\min}` (σ geometric), and at each level

.. math::

    \ell_i \mathrel{+}= E(x_i, \sigma_{k+1}) - E(x_i, \sigma_k)

(the first weight :math:`-E(x, \sigma_K) - \log\pi_K(x)`), systematic resampling when the effective sample size
falls under half, then ``moves`` MALA steps that leave :math:`e^{-E(\cdot,\sigma_k)}` invariant (step
:math:`c\,\sigma_k^2`, c adapted to an acceptance of 0.57). The product of the mean weights estimates
:math:`Z_{t_{\min}} = \int e^{-E(x, \sigma_{\min})}dx`.

Whatever the path, SMC's particles converge to :math:`e^{-E(\cdot, \sigma_{\min})}/Z`: the weights it reports
between separated modes are the smallest level's, not the large levels'. The script measures that on a run whose
data is a built-in set with an exact law: the weights per true component of (a) the ladder SMC's samples, (b) the
library's SMC on the smallest level (tempering from N(0, 2²I)), (c) the reverse SDE (the run's default sampler),
against the exact weights; and log Z of (a) and (b), with the mean log-likelihood of fresh points by each log Z and
by the probability-flow ODE, next to the exact mean log-density.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from scorematch._infra.checkpoint import atomic_write
from scorematch.metrics.modes import weight_check
from scorematch.models.analytic import ANALYTIC
from scorematch.runs.objectives import OBJECTIVES
from scorematch.runs.run import load_run
from scorematch.samplers.mala import mala_init, mala_step
from scorematch.samplers.smc import systematic_resample, weights_ess


def ladder_smc(model: Any, sde: Any, t_min: float, n: int, dim: int, *, levels: int = 100, moves: int = 5,
               generator: torch.Generator | None = None) -> tuple[Tensor, float, dict[str, Any]]:
    """Samples ``(n, dim)`` and log Z of :math:`e^{-E(\\cdot,\\sigma(t_{\\min}))}` (standardized units), and a log."""
    dtype = torch.float64
    sig_hi = float(sde.std(torch.tensor(1.0, dtype=dtype)))
    sig_lo = float(sde.std(torch.tensor(t_min, dtype=dtype)))
    sigmas = torch.logspace(math.log10(sig_hi), math.log10(sig_lo), levels, dtype=dtype)
    x = sde.prior_sample((n, dim), generator=generator, dtype=dtype)

    def level(s: Tensor) -> tuple[Tensor, ...]:
        return (s.expand(n).to(torch.float32),)

    def energy(z: Tensor, s: Tensor) -> Tensor:
        with torch.no_grad():
            return model.energy(z.float(), *level(s)).double()

    log_w = -energy(x, sigmas[0]) - sde.prior_log_prob(x)
    log_z, c, accept, resampled = 0.0, 0.5, [], 0
    for k in range(1, levels):
        log_w = log_w + energy(x, sigmas[k - 1]) - energy(x, sigmas[k])
        if float(weights_ess(log_w)) < 0.5 * n:
            log_z += float(torch.logsumexp(log_w, 0) - math.log(n))
            x = x[systematic_resample(log_w[None], n, generator)[0]]
            log_w = torch.zeros(n, dtype=dtype)
            resampled += 1
        cond = level(sigmas[k])
        state = mala_init(x.float(), model, cond)
        for _ in range(moves):
            state, info = mala_step(state, model, c * float(sigmas[k]) ** 2, cond=cond, generator=generator)
            rate = float(info.accept_prob.mean())
            c *= math.exp(2 * (rate - 0.57))
            accept.append(rate)
        x = state.x.double()
    log_z += float(torch.logsumexp(log_w, 0) - math.log(n))
    keep = systematic_resample(log_w[None], n, generator)[0]
    return x[keep], log_z, {"levels": levels, "moves": moves, "resampled": resampled,
                            "accept": sum(accept) / len(accept), "final_ess": float(weights_ess(log_w)) / n}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--particles", type=int, default=4096)
    ap.add_argument("--levels", type=int, default=100)
    ap.add_argument("--moves", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    run = load_run(args.run)
    cfg = run.config
    if OBJECTIVES[cfg.objective].sde is None or cfg.model != "energy" or cfg.data not in ANALYTIC:
        sys.stderr.write("ladder_smc: error: needs a diffusion run of an energy on a built-in set\n")
        return 2
    truth = ANALYTIC[cfg.data](dtype=torch.float64)
    sde = OBJECTIVES[cfg.objective].sde(cfg)
    g = torch.Generator().manual_seed(args.seed)
    t0 = time.perf_counter()
    z, log_z, log = ladder_smc(run.model, sde, cfg.t_min, args.particles, run.dim, levels=args.levels,
                               moves=args.moves, generator=g)
    seconds = time.perf_counter() - t0
    x = run.stats.inverse(z)
    test = truth.sample(2000, torch.Generator().manual_seed(99)).double()
    exact = float(truth.log_prob(test).mean())
    rows = []

    def row(name: str, samples: Tensor, lz: float | None, secs: float, note: str = "") -> None:
        check = weight_check(samples.double(), truth.component, truth.weights)
        ll = None if lz is None else float((-run.energy(test) - lz).mean())
        rows.append((name, check, lz, ll, secs, note))

    row("SMC along the noise ladder", x, log_z, seconds,
        f"{log['levels']} levels × {log['moves']} MALA moves, {log['resampled']} resamplings, "
        f"acceptance {log['accept']:.2f}, final ESS {log['final_ess']:.2f}")
    t0 = time.perf_counter()
    samples, report = run.draw(args.particles, sampler="smc", seed=args.seed)
    s = report["smc"]
    row("SMC on the smallest level (tempering)", samples, s["log_z"], time.perf_counter() - t0,
        f"{s['n_temperatures']} temperatures, log Z ± {s['log_z_se']:.3f}")
    t0 = time.perf_counter()
    samples, _ = run.draw(args.particles, seed=args.seed)
    row("reverse SDE (the run's default)", samples, None, time.perf_counter() - t0)
    t0 = time.perf_counter()
    arrays, _ = run.evaluate(test[:500], log_prob=True, seed=args.seed)
    ode = float(arrays["log_prob"].mean())
    ode_s = time.perf_counter() - t0
    exact_500 = float(truth.log_prob(test[:500]).mean())
    lines = [f"# SMC along the noise ladder: {args.run}", "",
             f"`python bench/ladder_smc.py {' '.join(sys.argv[1:] if argv is None else argv)}` — {cfg.data}, "
             f"{cfg.objective} ({cfg.sde}) energy, {args.particles} particles; weights per true component against "
             f"the exact weights {[round(float(w), 3) for w in truth.weights]}. The run: `scorematch train "
             f"{cfg.data} --objective diffusion --model energy{'' if cfg.sde == 'vp' else ' --sde ' + cfg.sde}` "
             f"({cfg.steps} steps, {cfg.hidden}×{cfg.depth}, times {cfg.times}).", "",
             "| sampler | weights of the samples | weights TV | log Z | mean log p (2000 fresh points) | s | notes |",
             "|---|---|---|---|---|---|---|"]
    for name, check, lz, ll, secs, note in rows:
        w = " / ".join(f"{float(v):.3f}" for v in check.samples)
        lines.append(f"| {name} | {w} | {check.tv:.3f} | {'—' if lz is None else f'{lz:.3f}'} | "
                     f"{'—' if ll is None else f'{ll:.3f}'} | {secs:.1f} | {note} |")
    lines += ["", f"Exact mean log-density of the 2000 points: {exact:.3f}. The probability-flow ODE on 500 of them: "
              f"{ode:.3f} against an exact {exact_500:.3f} ({ode_s:.0f} s)."]
    ladder, tempering, reverse = rows
    lines += ["", f"Both SMC runs target the energy at the smallest level, e^(−E(x, σ(t_min)))/Z, and agree: log Z "
              f"{ladder[2]:.3f} against {tempering[2]:.3f} (± {report['smc']['log_z_se']:.3f}), weights TV between "
              f"them {0.5 * float((ladder[1].samples - tempering[1].samples).abs().sum()):.3f}. Annealing along the "
              "learned noise levels does not carry the large levels' weights down: each level's reweighting corrects "
              "the particles to that level's law, and the last law is the smallest level's. Where that energy "
              f"weighs the modes wrongly (weights TV {ladder[1].tv:.2f} here, mean log p {ladder[3]:.2f} against an "
              f"exact {exact:.2f}), so does any SMC on it; the reverse SDE, which follows the scores of every level "
              f"without reweighting, keeps the weights (TV {reverse[1].tv:.3f}), and the probability-flow ODE's "
              f"log-likelihood of that path is {exact_500 - ode:.2f} nats per point below the exact one. A diffusion "
              "energy is a model of the path, not of its last level alone: it is sampled by the reverse SDE and "
              "normalised by the ODE (`scorematch eval --log-prob`), and SMC along its ladder is not offered."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        atomic_write(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
