"""Names to objects, in one place: the command line's objectives, models and samplers.

The library itself takes objects (a loss function, a network, a kernel); only the command line and run folders
speak in names, and they all go through here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from . import losses
from .config import OBJECTIVES, TrainConfig
from .fields import Energy, Score
from .models import EnergyMLP, NoiseConditionalEnergyMLP, NoiseConditionalScoreMLP, ScoreMLP
from .protocol import at_sigma
from .samplers import annealed_langevin
from .sampling import draw
from .schedules import geometric_sigmas

__all__ = ["at_smallest_sigma", "build_model", "build_objective", "draw_samples", "sigma_ladder"]


def sigma_ladder(cfg: TrainConfig, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """The NCSN ladder of a run: ``n_sigmas`` geometric levels from ``sigma_max`` down to ``sigma``."""
    if cfg.n_sigmas == 1:
        return torch.tensor([cfg.sigma], dtype=dtype)
    return geometric_sigmas(cfg.sigma_max, cfg.sigma, cfg.n_sigmas, dtype=dtype)


def build_model(cfg: TrainConfig, dim: int) -> Energy | Score:
    """The wrapped network of a run, in float32; noise-conditional for ``ncsn``."""
    conditional = cfg.objective == "ncsn"
    net_class = {
        ("energy", False): EnergyMLP, ("score", False): ScoreMLP,
        ("energy", True): NoiseConditionalEnergyMLP, ("score", True): NoiseConditionalScoreMLP,
    }[(cfg.model, conditional)]
    net = net_class(dim, hidden=cfg.hidden, depth=cfg.depth, activation=cfg.activation, init=cfg.init)
    return (Energy(net) if cfg.model == "energy" else Score(net)).float()


def build_objective(cfg: TrainConfig) -> Callable[..., Tensor]:
    """``objective(model, x, generator=g) -> (B,)`` for the run's objective name (σ must be a number here)."""
    if isinstance(cfg.sigma, str):
        raise ValueError(f"sigma={cfg.sigma!r} must be resolved to a number before the objective is built")
    if cfg.objective == "esm":
        return losses.explicit
    if cfg.objective == "ssm":
        return functools.partial(losses.sliced, n_probes=cfg.n_probes, probe="rademacher")
    if cfg.objective == "ssm-vr":
        return functools.partial(losses.sliced, n_probes=cfg.n_probes, probe="rademacher", variance_reduction=True)
    if cfg.objective == "dsm":
        return functools.partial(losses.denoising, sigma=cfg.sigma)
    if cfg.objective == "fd-ssm":
        return functools.partial(losses.finite_difference_sliced, eps=cfg.fd_eps, n_probes=cfg.n_probes)
    if cfg.objective == "ncsn":
        return functools.partial(losses.multiscale_denoising, sigmas=sigma_ladder(cfg))
    raise ValueError(f"unknown objective {cfg.objective!r}; choose one of: {', '.join(OBJECTIVES)}")


def draw_samples(model: Energy | Score, cfg: TrainConfig, n: int, dim: int, *, sampler: str, steps: int | None = None,
                 step_size: float | None = None, seed: int = 0, progress: bool = False
                 ) -> tuple[Tensor, dict[str, Any]]:
    """``n`` samples (standardized units) of a run's model by the named sampler, and the draw's report
    (:func:`scorematch.sampling.draw`). For ``annealed`` the steps are shared equally by the levels and the step
    size is relative: ε = step_size · σ_L², so level i moves with step_size · σ_i²."""
    if sampler == "annealed" and cfg.objective != "ncsn":
        raise ValueError("the annealed sampler needs a noise-conditional model (a run trained with --objective ncsn)")

    def annealed(x0: Tensor, generator: torch.Generator, n_steps: int, eps: float) -> Tensor:
        ladder = sigma_ladder(cfg, dtype=x0.dtype)
        if n_steps < len(ladder):
            raise ValueError(f"the annealed sampler shares --steps among {len(ladder)} noise levels: give at least "
                             f"{len(ladder)}, got {n_steps}")
        return annealed_langevin(model, x0, ladder, step_size=eps * float(ladder[-1]) ** 2,
                                 n_steps_each=max(1, n_steps // len(ladder)), generator=generator, progress=progress)

    return draw(sampler, at_smallest_sigma(model, cfg), n, (dim,), steps=steps, step_size=step_size, seed=seed,
                progress=progress, annealed=annealed)


def at_smallest_sigma(model: Energy | Score, cfg: TrainConfig) -> Any:
    """The model as an ordinary (not noise-conditional) one: for ``ncsn`` runs, bound to the smallest σ."""
    return at_sigma(model, cfg.sigma) if cfg.objective == "ncsn" else model
