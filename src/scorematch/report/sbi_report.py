"""``scorematch sbi``: a posterior (or the maximum likelihood) from a simulator, with its simulations, a pair plot,
and a report that checks it against the reference posterior and by simulation-based calibration.

Files written into ``out`` (all at once, nothing on failure):

* ``simulations.npz``: the simulations (``theta``, ``x``, and for ``fsm`` the noise ``eps`` and width ``sigma``),
  reusable by ``--simulations-from``;
* ``posterior.csv``: posterior draws, one column per parameter (``fsm``, ``npse``);
* ``mle.csv``: the estimate with standard errors, and the exact maximum likelihood where the task has a likelihood
  (``fsm-local``), with ``path.png``, its iterates;
* ``pairplot.png``: the posterior's pairs, the reference's beside them where known, the true θ where known;
* ``report.json`` and ``report.md``: the settings, seconds, C2ST against the reference and the calibration error.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..metrics import c2st
from ..samplers.smc import smc
from ..sbi import Task, local_mle, npse_sample, posterior_model, sample_prior, train_fisher, train_npse
from ..sbi.fisher import fisher_simulations, noise_width
from ..sbi.npse_iid import takes_iid
from .staging import staged

__all__ = ["SBI_METHODS", "sbi_report"]

SBI_METHODS = ("fsm", "fsm-local", "npse")
LOCAL_STEPS = 20


def _say(progress: bool, text: str) -> None:
    if progress:
        sys.stderr.write(f"scorematch sbi: {text}\n")
        sys.stderr.flush()


def _load_simulations(path: Path, method: str, task: Task) -> dict[str, Tensor]:
    try:
        with np.load(path) as f:
            saved = {k: torch.from_numpy(np.asarray(f[k], dtype=np.float64)) for k in f.files}
    except (OSError, ValueError) as e:
        raise ValueError(f"--simulations-from {path}: cannot be read ({str(e).splitlines()[0]})") from None
    need = ("theta", "eps", "x", "sigma") if method == "fsm" else ("theta", "x")
    missing = [k for k in need if k not in saved]
    if missing:
        raise ValueError(f"--simulations-from {path}: has no {', '.join(missing)}; simulations for --method "
                         f"{method} need {', '.join(need)}")
    p = task.dim_parameters
    if saved["theta"].ndim != 2 or saved["theta"].shape[1] != p or saved["x"].shape[0] != saved["theta"].shape[0]:
        raise ValueError(f"--simulations-from {path}: theta {tuple(saved['theta'].shape)} and x "
                         f"{tuple(saved['x'].shape)} do not fit a task of {p} parameters")
    return saved


def _posterior_sampler(task: Task, method: str, n_sim: int, seed: int, saved: dict[str, Tensor] | None,
                       progress: bool, steps: int | None
                       ) -> tuple[Callable[[Tensor, int, int], Tensor], dict[str, Tensor], dict]:
    """Simulate (or take ``saved``), train, and return a sampler ``(xs (k, d), n, seed) -> (n, p)``, the
    simulations to save, and facts about the fit."""
    g = torch.Generator().manual_seed(seed)

    def tick(step: int, held: float) -> None:
        _say(progress and step % 1000 == 0, f"training: step {step}, held-out loss {held:.4f}")

    if method == "fsm":
        if saved is None:
            sigma = noise_width(task.prior, generator=g)
            _say(progress, f"simulating {n_sim} draws at θ + σε (σ = 0.3 · the prior's sd)")
            theta, eps, x = fisher_simulations(task, n_sim, sigma, g)
        else:
            theta, eps, x, sigma = saved["theta"], saved["eps"], saved["x"], saved["sigma"]
        fit = train_fisher(task, theta.shape[0], sigma=sigma, generator=g, progress=tick, simulations=(theta, eps, x),
                           **({} if steps is None else {"steps": steps}))
        draws = sample_prior(task.prior, 10000, g).double()

        def fsm(xs: Tensor, n: int, s: int) -> Tensor:
            return smc(posterior_model(fit, task.prior, xs), n, (task.dim_parameters,), base_mean=draws.mean(0),
                       base_std=float(draws.std(0).max()), generator=torch.Generator().manual_seed(s),
                       dtype=torch.float64).x

        return fsm, {"theta": theta, "eps": eps, "x": x, "sigma": sigma}, {"best_step": fit.best_step,
                                                                          "sigma": sigma.tolist()}
    if saved is None:
        _say(progress, f"simulating {n_sim} draws at θ from the prior")
        theta, x = task.simulations(n_sim, g)
    else:
        theta, x = saved["theta"], saved["x"]
    fit = train_npse(theta, x, generator=g, progress=tick, **({} if steps is None else {"steps": steps}))

    def npse(xs: Tensor, n: int, s: int) -> Tensor:
        return npse_sample(fit, task.prior, xs, n, generator=torch.Generator().manual_seed(s))

    return npse, {"theta": theta, "x": x}, {"best_step": fit.best_step}


def _coverage_error(task: Task, sampler: Callable[[Tensor, int, int], Tensor], n: int, seed: int,
                    progress: bool) -> float:
    """Simulation-based calibration: for ``n`` draws (θ, x) the rank of θ among 200 posterior draws given x; the
    mean |coverage − level| of the central 50/80/95% intervals over the parameters."""
    theta, x = task.simulations(n, torch.Generator().manual_seed(seed + 7))
    ranks = []
    for i in range(n):
        _say(progress and (i + 1) % 10 == 0, f"calibration: {i + 1} of {n}")
        ranks.append((sampler(x[i][None].double(), 200, seed + 10_000 + i) < theta[i]).double().mean(0))
    u = torch.stack(ranks)
    return statistics.mean(float(((u - 0.5).abs() <= level / 2).double().mean(0).sub(level).abs().mean())
                           for level in (0.5, 0.8, 0.95))


def _pairplot(names: tuple[str, ...], draws: np.ndarray, ref: np.ndarray | None, truth: np.ndarray | None,
              file: Path, title: str) -> None:
    import matplotlib.pyplot as plt

    k = min(len(names), 6)
    fig, axes = plt.subplots(k, k, figsize=(1.9 * k + 0.6, 1.9 * k + 0.4), layout="constrained", squeeze=False)
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
                continue
            if i == j:
                lo, hi = np.percentile(np.concatenate([draws[:, i]] + ([ref[:, i]] if ref is not None else [])),
                                       [0.5, 99.5])
                ax.hist(draws[:, i], bins=50, range=(lo, hi), density=True, color="C0", alpha=0.6, label="posterior")
                if ref is not None:
                    ax.hist(ref[:, i], bins=50, range=(lo, hi), density=True, histtype="step", color="C1",
                            label="reference")
                if truth is not None:
                    ax.axvline(truth[i], color="k", lw=1)
                ax.set_yticks([])
            else:
                if ref is not None:
                    ax.scatter(ref[:1000, j], ref[:1000, i], s=1, color="C1", alpha=0.3)
                ax.scatter(draws[:1000, j], draws[:1000, i], s=1, color="C0", alpha=0.3)
                if truth is not None:
                    ax.plot(truth[j], truth[i], "k+", ms=8)
            if i == k - 1:
                ax.set_xlabel(names[j], fontsize=8)
            if j == 0 and i > 0:
                ax.set_ylabel(names[i], fontsize=8)
            ax.tick_params(labelsize=6)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if k > 1:
        axes[0, k - 1].legend(handles, labels, loc="upper right", fontsize=8, frameon=False)
    more = f" (first {k} of {len(names)} parameters)" if len(names) > k else ""
    fig.suptitle(title + more, fontsize=10)
    fig.savefig(file, dpi=100)
    plt.close(fig)


def _exact_mle(task: Task, xs: Tensor, start: Tensor) -> Tensor | None:
    """The maximum of Σ log p(x_i | θ) by L-BFGS from ``start``, when the task has a likelihood and it is finite."""
    if task.log_likelihood is None:
        return None
    theta = start.double().clone().requires_grad_()
    opt = torch.optim.LBFGS([theta], max_iter=200, line_search_fn="strong_wolfe", tolerance_grad=1e-10)

    def closure() -> Tensor:
        opt.zero_grad()
        loss = -task.log_likelihood(theta[None].expand(xs.shape[0], -1), xs).sum()
        loss.backward()
        return loss

    try:
        opt.step(closure)
    except RuntimeError:
        return None
    out = theta.detach()
    return out if torch.isfinite(out).all() and torch.isfinite(closure()) else None


def sbi_report(task: Task, out: Path, *, method: str, observations: Tensor, n_simulations: int = 10000,
               true_theta: Tensor | None = None, n_samples: int = 2000, calibration: int = 50, seed: int = 0,
               simulations_from: Path | None = None, steps: int | None = None,
               progress: bool = True) -> dict[str, Any]:
    """Run ``method`` on ``task`` for the iid ``observations`` ``(k, d)`` and write the files of the module
    docstring into ``out``. Returns what ``report.json`` holds."""
    if method not in SBI_METHODS:
        raise ValueError(f"--method must be one of {', '.join(SBI_METHODS)}, got {method!r}")
    xs = observations.double().reshape(-1, observations.shape[-1])
    probe = task.simulate(sample_prior(task.prior, 2, torch.Generator().manual_seed(seed)).double(),
                          torch.Generator().manual_seed(seed))
    if xs.shape[1] != probe.shape[1]:
        raise ValueError(f"the observation has {xs.shape[1]} numbers per row, the simulator {probe.shape[1]}")
    if method == "npse" and xs.shape[0] > 1 and not takes_iid(task.prior):
        raise ValueError(f"npse composes several observations for box-uniform and Gaussian priors only; this prior "
                         f"is a {type(task.prior).__name__}: use --method fsm, whose scores add exactly")
    if method == "fsm-local" and simulations_from is not None:
        raise ValueError("--simulations-from is for fsm and npse: fsm-local simulates afresh around each iterate")
    saved = _load_simulations(simulations_from, method, task) if simulations_from is not None else None
    summary: dict[str, Any] = {"task": task.name, "method": method, "observations": xs.shape[0],
                               "parameters": list(task.parameter_names), "seed": seed}
    names = task.parameter_names
    truth = None if true_theta is None else true_theta.double().numpy()
    t0 = time.perf_counter()
    if method == "fsm-local":
        per_step = max(20, n_simulations // (LOCAL_STEPS + 4))
        _say(progress, f"Fisher scoring: {LOCAL_STEPS} steps of {per_step} simulations")
        fit = local_mle(task, xs, steps=LOCAL_STEPS, n_simulations=per_step,
                        generator=torch.Generator().manual_seed(seed))
        exact = _exact_mle(task, xs, fit.theta)
        summary.update(simulations=per_step * (LOCAL_STEPS + 4), train_seconds=time.perf_counter() - t0,
                       estimate=fit.theta.tolist(), se=fit.se.tolist(),
                       exact_mle=None if exact is None else exact.tolist())
        with staged(out, "scorematch-sbi-") as tmp:
            rows = ["parameter,estimate,se" + (",exact_mle" if exact is not None else "")]
            for i, name in enumerate(names):
                rows.append(f"{name},{float(fit.theta[i]):.8g},{float(fit.se[i]):.8g}"
                            + (f",{float(exact[i]):.8g}" if exact is not None else ""))
            (tmp / "mle.csv").write_text("\n".join(rows) + "\n")
            _path_plot(names, fit.path.numpy(), fit.theta.numpy(), fit.se.numpy(), exact, tmp / "path.png")
            _write_summary(tmp, summary)
        return summary
    sampler, simulations, facts = _posterior_sampler(task, method, n_simulations, seed, saved, progress, steps)
    summary.update(simulations=int(simulations["theta"].shape[0]), train_seconds=time.perf_counter() - t0, **facts)
    _say(progress, f"sampling {n_samples} posterior draws")
    t0 = time.perf_counter()
    draws = sampler(xs, n_samples, seed + 1)
    summary["sample_seconds"] = time.perf_counter() - t0
    summary["posterior_mean"] = draws.mean(0).tolist()
    summary["posterior_sd"] = draws.std(0).tolist()
    ref = None
    if task.posterior_sampler is not None and xs.shape[0] == 1:
        _say(progress, "drawing the reference posterior and its C2ST")
        ref = task.reference_posterior(xs[0], n_samples, torch.Generator().manual_seed(seed + 2))
        summary["c2st"] = float(c2st(ref.float(), draws.float(), hidden=10 * task.dim_parameters, standardize="x",
                                     generator=torch.Generator().manual_seed(seed)))
    if calibration and xs.shape[0] == 1:
        summary["calibration_draws"] = calibration
        summary["coverage_error"] = _coverage_error(task, sampler, calibration, seed, progress)
    with staged(out, "scorematch-sbi-") as tmp:
        np.savez(tmp / "simulations.npz", **{k: v.numpy() for k, v in simulations.items()})
        header = ",".join(names)
        np.savetxt(tmp / "posterior.csv", draws.numpy(), delimiter=",", header=header, comments="", fmt="%.8g")
        title = f"{task.name}: {method} posterior ({summary['simulations']} simulations)"
        _pairplot(names, draws.numpy(), None if ref is None else ref.numpy(), truth, tmp / "pairplot.png", title)
        _write_summary(tmp, summary)
    return summary


def _path_plot(names: tuple[str, ...], path: np.ndarray, estimate: np.ndarray, se: np.ndarray,
               exact: Tensor | None, file: Path) -> None:
    import matplotlib.pyplot as plt

    k = min(len(names), 6)
    fig, axes = plt.subplots(1, k, figsize=(2.6 * k, 2.4), layout="constrained", squeeze=False)
    for i, ax in enumerate(axes[0]):
        ax.plot(path[:, i], color="C0", lw=1, label="iterates")
        ax.axhspan(estimate[i] - se[i], estimate[i] + se[i], color="C0", alpha=0.15, label="estimate ± se")
        if exact is not None:
            ax.axhline(float(exact[i]), color="k", lw=1, ls="--", label="exact MLE")
        ax.set_title(names[i], fontsize=9)
        ax.set_xlabel("Fisher-scoring step", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7)
    fig.savefig(file, dpi=100)
    plt.close(fig)


def _write_summary(tmp: Path, summary: dict[str, Any]) -> None:
    (tmp / "report.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    lines = [f"# {summary['task']}: {summary['method']}", "",
             f"{summary['simulations']} simulations, {summary['observations']} observation(s), training "
             f"{summary['train_seconds']:.0f} s.", ""]
    if "c2st" in summary:
        lines.append(f"- C2ST against the reference posterior: **{summary['c2st']:.3f}** (0.5: indistinguishable)")
    if "coverage_error" in summary:
        lines.append(f"- calibration ({summary['calibration_draws']} draws of simulation-based calibration): mean "
                     f"|coverage − level| of central 50/80/95% intervals **{summary['coverage_error']:.3f}**")
    if "estimate" in summary:
        lines += ["", "| parameter | estimate | se | exact MLE |", "|---|---|---|---|"]
        exact = summary["exact_mle"]
        for i, name in enumerate(summary["parameters"]):
            e = f"{exact[i]:.4g}" if exact is not None else "(no likelihood)"
            lines.append(f"| {name} | {summary['estimate'][i]:.4g} | {summary['se'][i]:.3g} | {e} |")
    else:
        lines += ["", "| parameter | posterior mean | posterior sd |", "|---|---|---|"]
        for i, name in enumerate(summary["parameters"]):
            lines.append(f"| {name} | {summary['posterior_mean'][i]:.4g} | {summary['posterior_sd'][i]:.3g} |")
    (tmp / "report.md").write_text("\n".join(lines) + "\n")

