"""The command line's samplers by name (the table :data:`SAMPLERS`), each run with its step size adapted and its
convergence reported.

=============  =================================================================================================
``smc``        energies (default): sequential Monte Carlo from a broad base N(0, 2²I) (standardized units) along
               the tempering path — the right weights between modes, and log Z; ``steps`` MALA moves per temperature
``pt``         energies: parallel tempering, 12 temperatures; ``steps`` after ``steps // 2`` warm-up steps
``mala``       energies: MALA from N(0, I); ε adapted during ``steps // 2`` warm-up steps, then frozen
``hmc``        energies: HMC, 10 leapfrog steps of size ε; adapted like MALA (target acceptance 0.75)
``langevin``   scores (default): unadjusted Langevin at a fixed ε — cannot recover the weights between modes
``annealed``   noise-conditional (ncsn) scores (default): annealed Langevin over the run's σ ladder
=============  =================================================================================================

``step_size`` is ε of the Langevin/MALA proposal ``x + (ε/2)·s + √ε·z``; for HMC it is the leapfrog step
(positions move by ε·p per leapfrog step) — a different quantity with the same name, adapted the same way.

Every draw returns a report (a JSON-ready dict): the sampler, the step size(s), the acceptance rate, split R̂ and
ESS over the chains, for SMC the ESS of its weights, log Z and its standard error, and ``warnings`` (each with a
hint) when the numbers say the samples cannot be trusted — ``trusted`` is false then.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._infra.table import Table
from ..diffusion.likelihood import sigma_conditioned
from ..protocol import has_energy
from .adapt import adapt_step_size
from .annealed import annealed_langevin
from .chains import run_chains
from .diagnostics import RHAT_LIMIT
from .driver import diagnose
from .hmc import hmc
from .langevin import langevin
from .mala import mala
from .reverse import reverse_sample
from .smc import smc
from .tempered import Base
from .tempering import adapt_tempering, default_betas, parallel_tempering

__all__ = ["BASE_STD", "SAMPLERS", "Drawn", "NotNormalisable", "Sampler", "describe", "draw", "from_kernel",
           "normalisation_problems", "slow_note", "warnings_of"]

BASE_STD = 2.0
ESS_LIMIT = 100
FAR = 10.0
FAR_SHARE = 0.05
"""A share of SMC's samples beyond ``FAR`` standard deviations of the data above which the model is judged not
normalisable (1% already gives a warning)."""
LOG_Z_SE_LIMIT = 1.0
"""A standard error of log Z (nats) above which SMC's groups disagree too much for log Z or log p to be reported."""
SLOW_TEMPERATURES = 100
Drawn = tuple[Tensor, dict[str, Any]]
"""What a sampler's ``run`` returns: the samples and the draw's report."""


class NotNormalisable(Exception):
    """The model's density cannot be normalised, or SMC cannot normalise it reliably: ``reasons`` says why. The
    command line exits with code 3 and writes nothing."""

    def __init__(self, reasons: list[str]):
        self.reasons = list(reasons)
        super().__init__("; ".join(self.reasons))


def normalisation_problems(report: dict[str, Any]) -> list[str]:
    """Why the energy model drawn from by SMC (``report`` of :func:`draw` with the ``smc`` sampler) cannot be
    normalised, each with a hint; ``[]`` when SMC can stand behind its log Z. The reasons: non-finite samples, more
    than ``FAR_SHARE`` of the samples beyond ``FAR`` standard deviations of the data (the density's mass escapes:
    an energy unbounded below, or a spike), a standard error of log Z above ``LOG_Z_SE_LIMIT`` (the independent
    groups disagree, e.g. one found a spike the others did not)."""
    out = []
    s, n = report.get("smc"), report["n"]
    if report.get("nonfinite"):
        out.append(f"{report['nonfinite']} of {n} SMC samples are not finite")
    if report.get("far", 0) > FAR_SHARE * n:
        out.append(f"{report['far']} of {n} SMC samples lie beyond {FAR:g} standard deviations of the data: the "
                   "density puts its mass far from the data (an energy unbounded below, or a spike): train longer or on "
                   "more rows, or with another --objective")
    if s is not None and not s["log_z_se"] <= LOG_Z_SE_LIMIT:
        out.append(f"SMC's independent groups disagree on log Z by far more than chance (standard error "
                   f"{s['log_z_se']:.3g} nats): the density has a region only some groups found, such as a spike")
    return out

LANGEVIN_NOTE = ("Langevin on a score model follows the score only locally: it cannot recover the weights between "
                 "separated modes; train a noise-conditional model (--objective ncsn) and sample with annealing")


def warnings_of(report: dict[str, Any]) -> list[str]:
    """The reasons not to trust a draw, each with a hint, from the numbers in its ``report``."""
    out = []
    rhat, ess, acc = report.get("rhat"), report.get("ess"), report.get("acceptance")
    again = "draw again with --sampler smc (energies) or more --steps"
    if rhat is not None and not rhat <= RHAT_LIMIT:
        out.append(f"chains have not mixed (split R̂ {rhat:.3g} > {RHAT_LIMIT}): the samples show where the chains "
                   f"started, not the model's weights between modes; {again}")
    if ess is not None and not ess >= ESS_LIMIT:
        out.append(f"effective sample size {ess:.0f} < {ESS_LIMIT}: the chains are strongly correlated; {again}")
    if acc is not None and report["sampler"] in ("mala", "hmc", "pt") and not acc >= 0.1:
        out.append(f"acceptance rate {acc:.2f} < 0.1: the chains barely move; give a smaller --step-size")
    s = report.get("smc")
    if s is not None:
        if not s["weights_ess"] >= 0.1 * report["n"]:
            out.append(f"SMC weights are degenerate (ESS {s['weights_ess']:.0f} of {report['n']}): draw with a larger "
                       "--n or more --steps")
        if not s["log_z_se"] <= 0.3:
            out.append(f"SMC's independent groups disagree (standard error of log Z {s['log_z_se']:.2g}): a mode may "
                       "be missed; draw with a larger --n")
        if not s["final_acceptance"] >= 0.1:
            out.append(f"SMC moves at the target barely move (acceptance {s['final_acceptance']:.2f})")
    if report.get("far", 0) > 0.01 * report["n"]:  # heavy tails put a few samples there legitimately
        out.append(f"{report['far']} of {report['n']} samples lie beyond {FAR} standard deviations of the data: the "
                   "model's density may not be normalisable there (train longer, or on more data)")
    if report.get("nonfinite"):
        out.append(f"{report['nonfinite']} of {report['n']} samples are not finite; give a smaller --step-size")
    return out


def describe(report: dict[str, Any]) -> str:
    """One line of a draw's report: the sampler and the numbers that say whether to trust it."""
    parts = [report["sampler"]]
    if report.get("acceptance") is not None:
        parts.append(f"acceptance {report['acceptance']:.2f}")
    if report.get("rhat") is not None:
        parts.append(f"R̂ {report['rhat']:.3f}, ESS {report['ess']:.0f}")
    s = report.get("smc")
    if s is not None:
        log_z = ("the model cannot be normalised (no log Z)" if report.get("normalisable") is False
                 else f"log Z {s['log_z']:.3f} ± {s['log_z_se']:.3f}")
        parts.append(f"{s['n_temperatures']} temperatures{slow_note(report)}, weights ESS {s['weights_ess']:.0f} of "
                     f"{report['n']}, {log_z}")
    if report.get("pt") is not None:
        parts.append(f"swap rate ≥ {min(report['pt']['swap_rate']):.2f}")
    parts.append("converged" if report["trusted"] else ("not converged" if report["warnings"] else "unchecked"))
    return ", ".join(parts)


def slow_note(report: dict[str, Any]) -> str:
    """Why an SMC draw took long, when it did: ``""`` otherwise."""
    s = report.get("smc")
    if s is None or s["n_temperatures"] <= SLOW_TEMPERATURES:
        return ""
    return (f" (slow: more than {SLOW_TEMPERATURES}; the model is far from the base N(0, {BASE_STD:g}²I) in "
            "standardized units, a very peaked or very spread density)")


def _smc(model: Any, x0: Tensor, steps: int, step_size: float | None, g: torch.Generator, progress: bool) -> Drawn:
    n, shape = x0.shape[0], tuple(x0.shape[1:])
    out = smc(model, n, shape, base_std=BASE_STD, steps_per_temperature=steps, step_size=step_size,
              adapt_step_size=step_size is None, generator=g, dtype=torch.float32, device=x0.device,
              progress=progress, pool_ranks=True)
    run = out.run
    final = diagnose(mala(model, run.step_size), out.x, steps, generator=g)  # spread the resampled copies
    report = {"step_size": run.step_size, "acceptance": float(run.accept_prob[-1]), "rhat": None, "ess": None,
              "smc": {"log_z": out.log_z, "log_z_se": out.standard_error, "weights_ess": out.ess,
                      "n_temperatures": len(run.betas) - 1, "min_ess_fraction": float(run.ess.min()),
                      "resampling_steps": int((run.resampled > 0).sum()), "groups": len(run.log_z_groups),
                      "final_acceptance": final.mean_accept_prob.mean().item()},
              "notes": ["R̂ and ESS over chains do not apply to SMC's particles: they are judged by the ESS of "
                        "their weights and by how well its independent groups agree (the standard error of log Z)"]}
    return final.x, report


def _pt(model: Any, x0: Tensor, steps: int, step_size: float | None, g: torch.Generator, progress: bool) -> Drawn:
    base = Base(tuple(x0.shape[1:]), 0.0, BASE_STD)
    betas = default_betas()
    state, eps = adapt_tempering(model, base, x0, max(1, steps // 2), betas, generator=g)
    kernel = parallel_tempering(model, base, eps, betas)
    out = run_chains(kernel, state, steps, generator=g, progress=progress)
    return out.x, {"step_size": eps.tolist(), "acceptance": out.accept_prob, "rhat": out.rhat, "ess": out.ess,
                   "pt": {"betas": betas.tolist(), "swap_rate": out.state.swap_rate.tolist()}}


def from_kernel(make: Callable[[Any, float], Any], first_step: float, target_accept: float | None
                ) -> Callable[..., Drawn]:
    """A :class:`Sampler`'s ``run`` from a kernel ``make(model, ε) -> Kernel``: ε adapted towards ``target_accept``
    during ``steps // 2`` warm-up steps (unless given; ``target_accept`` ``None``: an unadjusted kernel, no
    adaptation), then ``steps`` steps over the chains, reported with their acceptance, split R̂ and ESS."""

    def run(model: Any, x0: Tensor, steps: int, step_size: float | None, g: torch.Generator, progress: bool) -> Drawn:
        start: Any = x0
        restarts = 0
        if step_size is None and target_accept is not None:
            adapted = adapt_step_size(lambda e: make(model, e), x0, max(1, steps // 2), step_size=first_step,
                                      target_accept=target_accept, generator=g)
            start, step_size, restarts = adapted.state, adapted.step_size, adapted.restarts
        eps = step_size or first_step
        out = run_chains(make(model, eps), start, steps, generator=g, progress=progress)
        report = {"step_size": eps, "acceptance": out.accept_prob if target_accept is not None else None,
                  "rhat": out.rhat, "ess": out.ess}
        if target_accept is None:
            report["notes"] = [LANGEVIN_NOTE]
        if restarts:
            report["notes"] = [f"{restarts} chain restarts in warm-up: chains that accepted nothing for 50 steps "
                               "(far in a tail, or in a mode the step size cannot move in) restarted where moving "
                               "chains were"]
        return out.x, report

    return run


def _annealed(model: Any, x0: Tensor, steps: int, step_size: float | None, g: torch.Generator, progress: bool) -> Drawn:
    ladder = getattr(model, "sigmas", None)
    if ladder is None:
        raise ValueError("the annealed sampler needs a noise-conditional model with its σ ladder "
                         "(protocol.with_ladder; a run of a noise-conditional objective has it)")
    ladder = ladder.to(dtype=x0.dtype, device=x0.device)
    if steps < len(ladder):
        raise ValueError(f"the annealed sampler shares --steps among {len(ladder)} noise levels: give at least "
                         f"{len(ladder)}, got {steps}")
    eps = step_size or SAMPLERS["annealed"].step_size
    x = annealed_langevin(getattr(model, "unbound", model), x0, ladder, step_size=eps * float(ladder[-1]) ** 2,
                          steps_per_level=max(1, steps // len(ladder)), generator=g, progress=progress)
    return x, {
        "step_size": eps, "acceptance": None, "rhat": None, "ess": None,
        "notes": ["annealed Langevin ends after its last noise level: no chains to compare"]}


def _reverse(kind: str) -> Callable[..., Drawn]:
    """The run of a diffusion sampler (:mod:`~scorematch.samplers.reverse`): from the prior of the SDE the model
    carries (``model.sde``, a diffusion run's view) down to t_min; ``steps`` is the time grid's (the ODE's solver
    chooses its own)."""

    def run(model: Any, x0: Tensor, steps: int, step_size: float | None, g: torch.Generator, progress: bool) -> Drawn:
        sde = model.sde
        score = sigma_conditioned(getattr(model, "unbound", model), sde)
        x, nfe = reverse_sample(score, sde, x0.shape[0], tuple(x0.shape[1:]), sampler=kind, steps=steps,
                                generator=g, dtype=x0.dtype, device=x0.device, progress=progress)
        return x, {"step_size": None, "acceptance": None, "rhat": None, "ess": None, "evaluations": nfe,
                   "notes": [f"{kind}: from the prior down, {nfe} score evaluations; no chains to compare"]}

    return run


@dataclass(frozen=True)
class Sampler:
    """A command-line sampler: ``run(model, x0, steps, step_size, generator, progress) -> (x, report)``, its default
    ``steps`` and ``step_size`` (the first guess where it is adapted), whether it needs an energy, and whether it
    needs a noise-conditional model's σ ladder (``model.sigmas``, :func:`~scorematch.protocol.with_ladder`) or a
    diffusion model's SDE (``model.sde``); ``judged`` is false for a sampler that cannot say whether it
    converged."""

    name: str
    help: str
    run: Callable[..., tuple[Tensor, dict[str, Any]]]
    steps: int
    step_size: float
    needs_energy: bool = False
    needs_ladder: bool = False
    judged: bool = True
    needs_sde: bool = False


SAMPLERS: Table[Sampler] = Table("sampler")
for _sampler in (
    Sampler("smc", "sequential Monte Carlo (energies): the right weights between modes, and log Z", _smc, 10, 0.5,
            needs_energy=True),
    Sampler("pt", "parallel tempering (energies), 12 temperatures", _pt, 1000, 0.1, needs_energy=True),
    Sampler("mala", "MALA (energies); chains from N(0, I) stay in the mode they find",
            from_kernel(lambda m, e: mala(m, e), 0.01, 0.57), 1000, 0.01, needs_energy=True),
    Sampler("hmc", "HMC, 10 leapfrog steps (energies)", from_kernel(lambda m, e: hmc(m, e, 10), 0.1, 0.75), 200, 0.1,
            needs_energy=True),
    Sampler("langevin", "unadjusted Langevin (any model)", from_kernel(lambda m, e: langevin(m, e), 2e-3, None), 1000,
            2e-3, judged=False),
    Sampler("annealed", "annealed Langevin over the σ ladder (noise-conditional models)", _annealed, 1000, 0.05,
            needs_ladder=True, judged=False),
    Sampler("pc", "predictor–corrector from the prior down (diffusion models): reverse SDE and a Langevin corrector",
            _reverse("pc"), 500, 0.16, judged=False, needs_sde=True),
    Sampler("sde", "Euler–Maruyama on the reverse SDE (diffusion models)", _reverse("sde"), 1000, 0.0, judged=False,
            needs_sde=True),
    Sampler("ddpm", "DDPM ancestral sampling (diffusion models, --sde vp)", _reverse("ddpm"), 1000, 0.0,
            judged=False, needs_sde=True),
    Sampler("ode", "the probability-flow ODE by an adaptive solver (diffusion models)", _reverse("ode"), 1, 0.0,
            judged=False, needs_sde=True),
):
    SAMPLERS.register(_sampler)


def draw(name: str, model: Any, n: int, event_shape: tuple[int, ...], *, steps: int | None = None,
         step_size: float | None = None, seed: int = 0, progress: bool = False,
         device: str | torch.device | None = None) -> tuple[Tensor, dict[str, Any]]:
    """``n`` samples (standardized units) from ``model`` by the sampler ``name`` and their report.

    ``step_size`` fixes ε (no adaptation); ``None`` adapts it where the sampler can. The annealed sampler reads the
    σ ladder of a noise-conditional ``model`` (``model.sigmas``, :func:`~scorematch.protocol.with_ladder`), shares
    ``steps`` equally among its levels and takes ``step_size`` relative to the smallest level,
    ε = step_size · σ_L² (level i moves with step_size · σ_i²). ``device``: where the chains run (the model's
    device; default CPU).

    Under a ``torch.distributed`` process group (``torchrun``) the draw is sharded: the ``n`` starting points are
    drawn alike on every rank, each rank runs its share of them with its own random numbers
    (:func:`scorematch._infra.distributed.noise_generator`), SMC pools the weighted particles of all ranks before its
    final resampling (so log Z uses every group), and every rank returns all ``n`` samples in rank order. The
    diagnostics over chains (acceptance, R̂, ESS) are rank 0's share's.
    """
    from .._infra.distributed import gather, noise_generator, portion, world

    entry = SAMPLERS[name]
    if entry.needs_energy and not has_energy(model):
        raise ValueError(f"the {name} sampler needs an energy model (train with --model energy)")
    if entry.needs_sde and getattr(model, "sde", None) is None:
        raise ValueError(f"the {name} sampler needs a diffusion model (a run of the diffusion objective)")
    if entry.needs_ladder and getattr(model, "sigmas", None) is None:
        raise ValueError(f"the {name} sampler needs a noise-conditional model with its σ ladder (a run of a "
                         "noise-conditional objective such as ncsn)")
    if step_size is not None and not (math.isfinite(step_size) and step_size > 0):
        raise ValueError(f"--step-size must be a finite number > 0, got {step_size}")
    steps = int(steps or entry.steps)
    device = torch.device(device or "cpu")
    g = torch.Generator(device).manual_seed(seed)
    t0 = time.perf_counter()
    x0 = torch.randn(n, *event_shape, generator=g, dtype=torch.float32, device=device)
    rank, size = world()
    if size > n:
        raise ValueError(f"--n {n} is fewer samples than the {size} processes drawing them")
    if size > 1:
        x0, g = x0[portion(n)], noise_generator(g, device)
    x, report = entry.run(model, x0, steps, step_size, g, progress and rank == 0)
    x = gather(x).cpu()
    report = {"sampler": name, "n": n, "steps": steps, "seconds": time.perf_counter() - t0,
              "nonfinite": int((~torch.isfinite(x.flatten(1)).all(1)).sum()),
              "far": int((x.flatten(1).abs().amax(1) > FAR).sum()), **report}
    if size > 1:
        report["processes"] = size
    report["warnings"] = warnings_of(report)
    if name == "smc":  # SMC judges whether the model can be normalised at all
        report["normalisation_problems"] = normalisation_problems(report)
        report["normalisable"] = not report["normalisation_problems"]
    report["trusted"] = not report["warnings"] and entry.judged
    return x, report
