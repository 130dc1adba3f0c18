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
from .config import TrainConfig
from .fields import Energy, Score
from .models import EnergyMLP, NoiseConditionalEnergyMLP, NoiseConditionalScoreMLP, ScoreMLP
from .samplers import annealed_langevin, hmc, langevin, mala, sample
from .schedules import geometric_sigmas

__all__ = ["DEFAULT_SAMPLING", "at_smallest_sigma", "build_model", "build_objective", "draw_samples", "sigma_ladder"]


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
    return functools.partial(losses.multiscale_denoising, sigmas=sigma_ladder(cfg))


# sampler name -> (steps, step size) used when the command line gives none (standardized units)
DEFAULT_SAMPLING: dict[str, tuple[int, float]] = {
    "langevin": (1000, 2e-3), "mala": (1000, 5e-3), "hmc": (200, 0.05), "annealed": (1000, 0.05),
}


def draw_samples(model: Energy | Score, cfg: TrainConfig, x0: Tensor, *, sampler: str, steps: int, step_size: float,
                 generator: torch.Generator, progress: bool = False) -> Tensor:
    """Run the named sampler from ``x0`` (standardized units). For ``annealed`` the steps are shared equally by
    the levels and ``step_size`` is relative: ε = step_size · σ_L², so level i moves with step_size · σ_i²."""
    kernels: dict[str, Callable[[], Any]] = {
        "langevin": lambda: langevin(at_smallest_sigma(model, cfg), step_size),
        "mala": lambda: mala(at_smallest_sigma(model, cfg), step_size),
        "hmc": lambda: hmc(at_smallest_sigma(model, cfg), step_size, 10),
    }
    if sampler == "annealed":
        if cfg.objective != "ncsn":
            raise ValueError("the annealed sampler needs a noise-conditional model (a run trained with --objective ncsn)")
        ladder = sigma_ladder(cfg, dtype=x0.dtype)
        if steps < len(ladder):
            raise ValueError(f"the annealed sampler shares --steps among {len(ladder)} noise levels: give at least "
                             f"{len(ladder)}, got {steps}")
        return annealed_langevin(model, x0, ladder, step_size=step_size * float(ladder[-1]) ** 2,
                                 n_steps_each=max(1, steps // len(ladder)), generator=generator, progress=progress)
    if sampler in ("mala", "hmc") and not isinstance(model, Energy):
        raise ValueError(f"the {sampler} sampler needs an energy model (train with --model energy)")
    return sample(kernels[sampler](), x0, steps, generator=generator, progress=progress)


class _Bound:
    """A noise-conditional model evaluated at one fixed σ, seen as an ordinary model."""

    def __init__(self, model: Energy | Score, sigma: float):
        self.model, self.sigma = model, sigma

    def _cond(self, x: Tensor) -> Tensor:
        return torch.full(x.shape[:1], self.sigma, dtype=x.dtype, device=x.device)

    def score(self, x: Tensor) -> Tensor:
        return self.model.score(x, self._cond(x))

    def energy(self, x: Tensor) -> Tensor:
        return self.model.energy(x, self._cond(x))  # type: ignore[union-attr]


def at_smallest_sigma(model: Energy | Score, cfg: TrainConfig) -> Any:
    """The model as an ordinary (not noise-conditional) one: for ``ncsn`` runs, bound to the smallest σ."""
    if cfg.objective != "ncsn":
        return model
    bound = _Bound(model, cfg.sigma)
    return Energy(bound.energy) if isinstance(model, Energy) else Score(bound.score)
