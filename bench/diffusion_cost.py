"""What diffusion sampling and probability-flow likelihoods cost, and how accurate they are, next to ebmkit.

    python bench/diffusion_cost.py [--n 1000] [--dims 2,16] [--out docs/diffusion_cost.md] [--quick]

Two parts, each at d = 2 (8gaussians) and d = 16 (four separated Gaussians, ``diffusion_quality.mixture16``), both
peers run on one thread, interleaved:

* **Log-likelihoods of n points**, VE SDE with σ from 0.01 to 50. Seconds and score evaluations are measured with a
  σ-conditioned energy network of the command line's default size, the errors with the *exact* time score of the
  diffused mixture (closed form, :mod:`scorematch.diffusion.marginals`), so that every estimate has a true value.
  Ours: the probability-flow ODE by dopri5 (rtol = atol = 1e-5) with the exact divergence, and with Hutchinson's
  estimate at 1, 4 and 16 Rademacher probes; ebmkit 0.16: ``pf_ode_log_likelihood`` (Euler on a geometric σ
  ladder, Hutchinson with one Rademacher probe) at 100 and 1000 rungs. Seconds per 1000 points, score evaluations,
  and the error against the exact log-density (mean absolute and mean signed, nats per point).
* **Sampling n points**: seconds and score evaluations per 1000 samples for each of our samplers and for ebmkit's
  ``PredictorCorrector`` and ``ProbabilityFlowODE`` (VE ladder of 500 rungs), timed with a σ-conditioned energy
  network of the command line's default size (the cost does not depend on its training), and their accuracy with the
  exact score: the samples' weights per component against the exact weights (TV) and MMD² against exact draws.
* **ebmkit on the same trained network** (``--trained-steps``, 0 to skip): a VE diffusion energy trained by
  ``train_run`` on 5000 points of 8gaussians with the command line's multilevel defaults (256×4, log-σ times, no
  patience) but the given number of steps. On n fresh points, its log-likelihood by our ODE (exact divergence, and
  Hutchinson with 1 probe) and by ebmkit's ``pf_ode_log_likelihood`` (1000 rungs from the run's σ(1) down to
  σ(t_min)): seconds, the agreement with our exact-divergence value, and the KL gap (exact mean log-density minus
  the model's). Then n samples by our ``pc`` and ``sde`` and by ebmkit's ``PredictorCorrector`` on the same
  network (500 steps or rungs, σ in the run's standardized units): seconds, weights TV against the exact weights,
  and MMD² against exact draws.
"""

from __future__ import annotations

import argparse
import datetime
import math
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).parent))

from diffusion_quality import mixture16

from scorematch._infra.checkpoint import atomic_write
from scorematch.diffusion import VE, VP, diffused_mixture, log_likelihood
from scorematch.diffusion.likelihood import sigma_conditioned
from scorematch.diffusion.marginals import time_score
from scorematch.metrics import mmd2
from scorematch.metrics.modes import weight_check
from scorematch.models.analytic import GaussianMixture, eight_gaussians
from scorematch.runs import TrainConfig
from scorematch.runs.model_kinds import build_model
from scorematch.samplers.reverse import reverse_sample

SIGMA_MIN, SIGMA_MAX, T0 = 0.01, 50.0, 1e-5
COMMENTARY = "<!-- commentary: kept by bench/diffusion_cost.py when it rewrites the tables above -->"
"""The line after which ``--out``'s reading of the numbers is kept when the tables are rewritten."""


def targets(dims: list[int]) -> dict[int, GaussianMixture]:
    out = {}
    for d in dims:
        if d == 2:
            out[2] = eight_gaussians(dtype=torch.float64)
        elif d == 16:
            out[16] = mixture16()
        else:
            raise ValueError(f"dimension {d}: choose from 2, 16")
    return out


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def smoothed_energy(mix: GaussianMixture) -> Callable[[Tensor, Tensor], Tensor]:
    """ebmkit's noise-conditional energy ``E(x, σ) = −log (p * N(0, σ²I))(x)``, exact (one σ per batch)."""
    eye = torch.eye(mix.dim, dtype=torch.float64)

    def energy(x: Tensor, sigma: Tensor) -> Tensor:
        s = float(sigma.reshape(-1)[0])
        return -GaussianMixture(mix.weights, mix.means, mix.covs + s**2 * eye).log_prob(x)

    return energy


def _net(d: int) -> Any:
    """A σ-conditioned energy network of the command line's default size (float64), untrained: what a
    likelihood or a sample costs does not depend on the weights."""
    torch.manual_seed(0)
    return build_model(TrainConfig(data="cost", objective="diffusion", model="energy", sde="ve"), d).double()


def likelihood_rows(mix: GaussianMixture, n: int, quick: bool) -> list[dict[str, Any]]:
    """Seconds and evaluations with the network; errors with the exact score of the diffused mixture."""
    from ebm.eval.likelihood import pf_ode_log_likelihood

    from scorematch.schedules import geometric_sigmas

    sde = VE(SIGMA_MIN, SIGMA_MAX)
    x = mix.sample(n, torch.Generator().manual_seed(1)).double()
    truth_ours = diffused_mixture(mix, sde, T0).log_prob(x)
    eye = torch.eye(mix.dim, dtype=torch.float64)
    truth_ebm = GaussianMixture(mix.weights, mix.means, mix.covs + SIGMA_MIN**2 * eye).log_prob(x)
    exact_score, net = time_score(mix, sde), _net(mix.dim)
    net_score = sigma_conditioned(net, sde)
    log_likelihood(net_score, x[:4], sde, t0=0.5)  # warm-up: the first call imports the solver and torch.func
    rows = []

    def add(name: str, run: Callable[[Any], tuple[Tensor, int, Tensor | None]], exact: Any, timed: Any,
            truth: Tensor) -> None:
        (value, _, se) = run(exact)
        (_, nfe, _), seconds = _timed(lambda: run(timed))
        err = value - truth
        rows.append({"method": name, "seconds_per_1000": 1000 * seconds / n, "nfe": nfe,
                     "mean_abs_error": float(err.abs().mean()), "mean_error": float(err.mean()),
                     "reported_se": float(se.mean()) if se is not None else None})

    def ours(divergence: str, k: int) -> Callable[[Any], tuple[Tensor, int, Tensor | None]]:
        def run(score: Any) -> tuple[Tensor, int, Tensor | None]:
            out = log_likelihood(score, x, sde, t0=T0, divergence=divergence, n_probes=k,
                                 generator=torch.Generator().manual_seed(2))
            return out.log_prob, out.nfe, (out.se if divergence == "hutchinson" else None)
        return run

    add("scorematch: ODE (dopri5), exact divergence", ours("exact", 1), exact_score, net_score, truth_ours)
    for k in (1, 4) if quick else (1, 4, 16):
        add(f"scorematch: ODE (dopri5), Hutchinson {k} probe{'s' if k > 1 else ''}", ours("hutchinson", k),
            exact_score, net_score, truth_ours)
    for rungs in (100,) if quick else (100, 1000):
        sigmas = geometric_sigmas(SIGMA_MAX, SIGMA_MIN, rungs, dtype=torch.float64)

        def peer(energy: Any, sigmas: Tensor = sigmas) -> tuple[Tensor, int, Tensor | None]:
            torch.manual_seed(3)
            return pf_ode_log_likelihood(energy, x, sigmas, n_hutchinson=1).detach(), len(sigmas) - 1, None

        add(f"ebmkit: Euler, {rungs} rungs, Hutchinson 1 probe", peer, smoothed_energy(mix),
            lambda z, s: net.energy(z, s), truth_ebm)
    return rows


def sampling_rows(mix: GaussianMixture, n: int, steps: int) -> list[dict[str, Any]]:
    from ebm.samplers.score_sde import PredictorCorrector, ProbabilityFlowODE

    from scorematch.schedules import geometric_sigmas

    d = mix.dim
    ve, vp = VE(SIGMA_MIN, SIGMA_MAX), VP()
    net = _net(d)
    truth_draws = mix.sample(n, torch.Generator().manual_seed(5)).double()
    rows = []
    sigmas = geometric_sigmas(SIGMA_MAX, SIGMA_MIN, steps, dtype=torch.float64)

    def ebm_energy_of_net(x: Tensor, sigma: Tensor) -> Tensor:
        return net.energy(x, sigma)

    def measure(samples: Tensor) -> dict[str, Any]:
        ok = torch.isfinite(samples).all(1)
        check = weight_check(samples, mix.component, mix.weights)
        return {"weights_tv": check.tv, "mmd2": float(mmd2(samples[ok].float(), truth_draws.float()))}

    reverse_sample(sigma_conditioned(net, ve), ve, 4, (d,), sampler="ode", dtype=torch.float64)  # warm-up
    ours = [("pc", ve), ("sde", ve), ("ode", ve), ("ddpm", vp)]
    for sampler, sde in ours:
        (_, nfe), s = _timed(lambda sampler=sampler, sde=sde: reverse_sample(
            sigma_conditioned(net, sde), sde, n, (d,), sampler=sampler, steps=steps,
            generator=torch.Generator().manual_seed(4), dtype=torch.float64))
        exact, _ = reverse_sample(time_score(mix, sde), sde, n, (d,), sampler=sampler, steps=steps,
                                  generator=torch.Generator().manual_seed(4), dtype=torch.float64)
        rows.append({"method": f"scorematch: {sampler} ({'VP' if sde is vp else 'VE'})", "nfe": nfe,
                     "seconds_per_1000": 1000 * s / n, **measure(exact)})
    peers = [("ebmkit: PredictorCorrector (VE)", PredictorCorrector(sigmas, n_corrector=1, snr=0.16), 2),
             ("ebmkit: ProbabilityFlowODE (VE, Euler)", ProbabilityFlowODE(sigmas), 1)]
    for name, sampler, per_rung in peers:
        torch.manual_seed(4)
        start = SIGMA_MAX * torch.randn(n, d, dtype=torch.float64)
        _, s = _timed(lambda sampler=sampler, start=start: sampler.sample(ebm_energy_of_net, start))
        torch.manual_seed(4)
        exact = sampler.sample(smoothed_energy(mix), start).detach()
        rows.append({"method": name, "nfe": per_rung * (steps - 1), "seconds_per_1000": 1000 * s / n,
                     **measure(exact)})
    return rows


def same_network_rows(n: int, steps: int, rungs: int = 1000, sample_steps: int = 500) -> dict[str, Any]:
    """ebmkit's likelihood and predictor–corrector sampler on a network we trained (see the module docstring)."""
    import tempfile

    from ebm.eval.likelihood import pf_ode_log_likelihood
    from ebm.samplers.score_sde import PredictorCorrector

    from scorematch._infra.defaults import multilevel_defaults
    from scorematch.runs.objectives import at_smallest_sigma
    from scorematch.runs.run import train_run
    from scorematch.schedules import geometric_sigmas

    mix = eight_gaussians(dtype=torch.float64)
    train = mix.sample(5000, torch.Generator().manual_seed(11))
    x = mix.sample(n, torch.Generator().manual_seed(12))
    exact_mean = float(mix.log_prob(x).mean())
    cfg = TrainConfig(data="8gaussians", objective="diffusion", model="energy", sde="ve", seed=0,
                      **{**multilevel_defaults("diffusion", False), "steps": steps})
    with tempfile.TemporaryDirectory() as tmp:
        (run, _), train_s = _timed(lambda: train_run(cfg, Path(tmp) / "run", data=train, progress=False, ladder=True))
    view = at_smallest_sigma(run.model, cfg)
    net, sde, t_min = view.unbound.double(), view.sde, cfg.t_min
    sig_hi = float(sde.std(torch.tensor(1.0, dtype=torch.float64)))
    sig_lo = float(sde.std(torch.tensor(t_min, dtype=torch.float64)))
    z = run.stats.transform(x.double())
    log_scale = float(run.stats.log_scale)

    def energy(u: Tensor, sigma: Tensor) -> Tensor:
        return net.energy(u, sigma.reshape(-1)[:1].expand(u.shape[0]).to(u))

    rows: list[dict[str, Any]] = []

    def ours(divergence: str) -> tuple[Tensor, int]:
        out = log_likelihood(sigma_conditioned(net, sde), z, sde, t0=t_min, divergence=divergence, n_probes=1,
                             generator=torch.Generator().manual_seed(2))
        return out.log_prob.detach() - log_scale, out.nfe

    (reference, nfe), s = _timed(lambda: ours("exact"))
    rows.append({"method": "scorematch: ODE (dopri5), exact divergence", "seconds_per_1000": 1000 * s / n,
                 "nfe": nfe, "log_p": reference})
    (value, nfe), s = _timed(lambda: ours("hutchinson"))
    rows.append({"method": "scorematch: ODE (dopri5), Hutchinson 1 probe", "seconds_per_1000": 1000 * s / n,
                 "nfe": nfe, "log_p": value})
    sigmas = geometric_sigmas(sig_hi, sig_lo, rungs, dtype=torch.float64)
    torch.manual_seed(3)
    value, s = _timed(lambda: pf_ode_log_likelihood(energy, z, sigmas, n_hutchinson=1).detach() - log_scale)
    rows.append({"method": f"ebmkit: Euler, {rungs} rungs, Hutchinson 1 probe", "seconds_per_1000": 1000 * s / n,
                 "nfe": rungs - 1, "log_p": value})
    for r in rows:
        diff = r.pop("log_p") - reference
        r.update(mean_abs_diff=float(diff.abs().mean()), mean_diff=float(diff.mean()),
                 kl_gap=exact_mean - float((reference + diff).mean()))
    truth_draws = mix.sample(n, torch.Generator().manual_seed(5))
    samples: list[dict[str, Any]] = []

    def judge(name: str, z_samples: Tensor, seconds: float, nfe: int) -> None:
        xs = run.stats.inverse(z_samples.detach().double())
        ok = torch.isfinite(xs).all(1)
        samples.append({"method": name, "seconds_per_1000": 1000 * seconds / n, "nfe": nfe,
                        "weights_tv": weight_check(xs[ok], mix.component, mix.weights).tv,
                        "mmd2": float(mmd2(xs[ok].float(), truth_draws.float()))})

    for sampler in ("pc", "sde"):
        (zs, nfe), s = _timed(lambda sampler=sampler: reverse_sample(
            sigma_conditioned(net, sde), sde, n, (2,), sampler=sampler, steps=sample_steps, t_min=t_min,
            generator=torch.Generator().manual_seed(4), dtype=torch.float64))
        judge(f"scorematch: {sampler}", zs, s, nfe)
    torch.manual_seed(4)
    start = sig_hi * torch.randn(n, 2, dtype=torch.float64)
    pc = PredictorCorrector(geometric_sigmas(sig_hi, sig_lo, sample_steps, dtype=torch.float64), n_corrector=1,
                            snr=0.16)
    zs, s = _timed(lambda: pc.sample(energy, start))
    judge("ebmkit: PredictorCorrector", zs, s, 2 * (sample_steps - 1))
    return {"steps": steps, "train_seconds": train_s, "sigma_range": (sig_lo, sig_hi), "t_min": t_min,
            "exact_loglik": exact_mean, "likelihood": rows, "sampling": samples}


def same_network_markdown(part: dict[str, Any], n: int) -> list[str]:
    lo, hi = part["sigma_range"]
    lines = ["## ebmkit on the same trained network", "",
             f"A VE diffusion energy trained on 8gaussians by `train_run` ({part['steps']} steps, otherwise the "
             f"command line's multilevel defaults; {part['train_seconds']:.0f} s), σ from {hi:.3g} down to {lo:.3g} "
             f"(t_min = {part['t_min']:g}) in standardized units; {n} fresh points. Agreement with our "
             "exact-divergence ODE, and the KL gap (exact mean log-density "
             f"{part['exact_loglik']:.3f} minus the model's):", "",
             "| method | s / 1000 points | score evaluations | mean abs. difference | mean difference | KL gap |",
             "|---|---|---|---|---|---|"]
    for r in part["likelihood"]:
        lines.append(f"| {r['method']} | {r['seconds_per_1000']:.2f} | {r['nfe']} | {r['mean_abs_diff']:.2e} | "
                     f"{r['mean_diff']:+.2e} | {r['kl_gap']:.3f} |")
    lines += ["", "Samples of the same network (500 steps or rungs):", "",
              "| method | s / 1000 samples | score evaluations | weights TV | MMD² |", "|---|---|---|---|---|"]
    for r in part["sampling"]:
        lines.append(f"| {r['method']} | {r['seconds_per_1000']:.2f} | {r['nfe']} | {r['weights_tv']:.3f} | "
                     f"{r['mmd2']:.1e} |")
    return [*lines, ""]


def _fmt(v: Any, spec: str) -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def markdown(tables: dict[int, dict[str, list[dict[str, Any]]]], meta: dict[str, Any]) -> str:
    lines = ["# Diffusion: the cost of sampling and of likelihoods", "",
             f"`python bench/diffusion_cost.py {meta['command']}` — {meta['date']}, {meta['machine']}; "
             f"{meta['n']} points or samples per row, shown per 1000.", ""]
    for d, parts in tables.items():
        lines += [f"## d = {d}", "", "Log-likelihoods with the exact score of the diffused mixture (VE, σ 0.01 → 50):",
                  "", "| method | s / 1000 points | score evaluations | mean abs. error | mean error | reported se |",
                  "|---|---|---|---|---|---|"]
        for r in parts["likelihood"]:
            lines.append(f"| {r['method']} | {r['seconds_per_1000']:.2f} | {r['nfe']} | "
                         f"{r['mean_abs_error']:.2e} | {r['mean_error']:+.2e} | {_fmt(r['reported_se'], '.2e')} |")
        lines += ["", f"Sampling ({meta['steps']} steps or rungs; seconds with the default-size σ-conditioned "
                  "energy network, accuracy with the exact score):", "",
                  "| method | s / 1000 samples | score evaluations | weights TV (exact score) | MMD² (exact score) |",
                  "|---|---|---|---|---|"]
        for r in parts["sampling"]:
            lines.append(f"| {r['method']} | {r['seconds_per_1000']:.2f} | {r['nfe']} | {r['weights_tv']:.3f} | "
                         f"{r['mmd2']:.1e} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--dims", default="2,16")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--trained-steps", type=int, default=6000,
                    help="training steps of the network shared with ebmkit (0: skip that part)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: d = 2, 100 points, 50 steps, 200 training steps")
    args = ap.parse_args(argv)
    try:
        dims = [int(v) for v in args.dims.split(",") if v.strip()]
        if args.quick:
            dims, args.n, args.steps, args.trained_steps = [2], 100, 50, min(args.trained_steps, 200)
        mixes = targets(dims)
        if args.n < 10 or args.steps < 2 or args.trained_steps < 0:
            raise ValueError("--n at least 10, --steps at least 2, --trained-steps at least 0")
    except ValueError as e:
        sys.stderr.write(f"diffusion_cost: error: {e}\n")
        return 2
    torch.set_num_threads(1)
    tables = {}
    for d, mix in mixes.items():
        tables[d] = {"likelihood": likelihood_rows(mix, args.n, args.quick),
                     "sampling": sampling_rows(mix, args.n, args.steps)}
        for part in tables[d].values():
            for r in part:
                print(f"d={d:3d} {r['method']:45s} {r['seconds_per_1000']:8.2f} s/1000  nfe {r['nfe']}", flush=True)
    shared = same_network_rows(args.n, args.trained_steps) if args.trained_steps else None
    if shared:
        for part in ("likelihood", "sampling"):
            for r in shared[part]:
                print(f"trained {r['method']:45s} {r['seconds_per_1000']:8.2f} s/1000  nfe {r['nfe']}", flush=True)
    meta = {"date": str(datetime.date.today()), "command": " ".join(sys.argv[1:] if argv is None else argv),
            "machine": f"{platform.processor() or platform.machine()}, 1 thread, torch {torch.__version__}",
            "n": args.n, "steps": args.steps}
    text = markdown(tables, meta)
    if shared:
        text += "\n" + "\n".join(same_network_markdown(shared, args.n))
    if args.out:
        kept = args.out.read_text().partition(COMMENTARY)[1:] if args.out.is_file() else ("", "")
        atomic_write(args.out, text.rstrip() + "\n\n" + "".join(kept) if kept[0] else text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
