"""The objectives the command line and run folders speak, by name (:data:`OBJECTIVES`), with the settings they read
(:data:`OBJECTIVE_SETTINGS`). The library itself takes loss functions; an entry names its loss, whose declared
properties (:func:`scorematch.losses.declare`) are the objective's, and binds the run's settings to it.

To add an objective to the command line: write the loss (``losses/<name>.py``, its properties declared with
``@declare``), then register it here::

    OBJECTIVES.register(Objective("my-sm", "my objective (Doe 2027)", losses.my_sm))

It reads settings by name (``settings=("sigma",)``, bound by ``bind=lambda cfg: {"sigma": cfg.sigma}``); a new
setting is one :class:`~scorematch.runs.settings.Setting` in :data:`OBJECTIVE_SETTINGS`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .. import losses
from .._infra.table import Table
from ..baselines import (
    MCMC_SAMPLERS,
    GaussianNoise,
    PersistentContrastiveDivergence,
    contrastive_divergence,
    noise_contrastive,
)
from ..diffusion.sde import SDE, VE, VP, SubVP
from ..fields import Energy, Score
from ..losses import Properties, properties_of
from ..protocol import with_ladder
from ..schedules import geometric_sigmas
from .settings import Setting, count, fraction, non_negative, positive

__all__ = ["OBJECTIVES", "OBJECTIVE_SETTINGS", "SDES", "Objective", "at_smallest_sigma", "build_objective", "make_sde",
           "sigma_ladder"]

Loss = Callable[..., Tensor]


@dataclass(frozen=True)
class Objective:
    """A command-line objective: the ``loss`` it trains with (a loss function, or a loss class such as persistent
    CD), whose declared :class:`~scorematch.losses.Properties` are the objective's (:attr:`properties`: the order of
    derivatives, whether the model is noise-conditional, whether the held-out loss means anything, whether it needs
    an energy); ``bind(cfg) -> {keyword: value}`` (``bind(cfg, data)`` with ``needs_data``: the standardized
    training data, e.g. to fit a noise law) gives the loss its settings, the ``settings`` it reads by name; whether
    its σ may be ``"auto"`` (chosen on held-out data); a check across settings (``check(cfg)``: a one-line message
    naming the setting, or ``None``); whether the model learns its log-normalizer
    (``Energy(net, learn_log_z=True)``); whether it is score matching at one noise level (``family``
    ``"score matching"``, the demo's), a diffusion model (``"diffusion"``) or a method score matching is compared with
    (``"baseline"``); and for a diffusion objective, ``sde(cfg)``, the forward
    SDE its model learns the scores of (the diffusion samplers read it)."""

    name: str
    help: str
    loss: Any
    bind: Callable[..., dict[str, Any]] = lambda cfg: {}
    settings: tuple[str, ...] = ()
    auto_sigma: bool = False
    check: Callable[[Any], str | None] | None = None
    needs_data: bool = False
    learns_log_z: bool = False
    family: str = "score matching"
    sde: Callable[[Any], SDE] | None = None

    @property
    def properties(self) -> Properties:
        """What the loss declares (:func:`scorematch.losses.properties_of`)."""
        return properties_of(self.loss)

    @property
    def conditional(self) -> bool:
        """Whether the model takes the noise level as an input."""
        return self.properties.conditional

    def build(self, cfg: Any, data: Tensor | None = None) -> Loss:
        """``loss(model, x, *, generator) -> (B,)`` with the run's settings bound (an instance, for a loss class)."""
        kwargs = self.bind(cfg, data) if self.needs_data else self.bind(cfg)
        return self.loss(**kwargs) if isinstance(self.loss, type) else functools.partial(self.loss, **kwargs)


OBJECTIVE_SETTINGS: Table[Setting] = Table("setting")
for _setting in (
    Setting("sigma", "dsm: the noise level, or 'auto' to choose it on held-out data; ncsn: the smallest level",
            0.1, float | str, lambda v: None if v == "auto" else positive(v)),
    Setting("sigma_max", "ncsn: the largest noise level", 3.0, float, positive),
    Setting("n_sigmas", "ncsn: noise levels in the geometric ladder", 10, int, count),
    Setting("n_probes", "ssm, ssm-vr, fd-ssm: random projections per sample", 1, int, count),
    Setting("fd_step", "fd-ssm: the finite-difference step", 0.05, float, positive),
    Setting("mcmc_steps", "cd, pcd: MCMC steps per negative sample", 10, int, count),
    Setting("mcmc_step_size", "cd, pcd: the step ε of the inner sampler x + (ε/2)s + ηz", 0.01, float, positive),
    Setting("mcmc_noise", "cd, pcd: the noise scale η of the inner sampler; off: √ε, unbiased (other values "
            "decouple noise from step and bias the sampler)", None, float | None,
            lambda v: None if v is None else positive(v)),
    Setting("mcmc_sampler", f"cd, pcd: the inner sampler, one of {', '.join(MCMC_SAMPLERS)}", "langevin", str,
            lambda v: None if v in MCMC_SAMPLERS else f"must be one of {', '.join(MCMC_SAMPLERS)}"),
    Setting("energy_reg", "cd, pcd: α of the energy-magnitude regularizer α(E(x⁺)² + E(x⁻)²)", 0.001, float,
            non_negative),
    Setting("buffer_size", "pcd: points in the replay buffer", 10000, int, count),
    Setting("restart_fraction", "pcd: share of chains restarted from N(0, I) at every step", 0.05, float,
            fraction),
    Setting("noise_ratio", "nce: noise points per data point (ν)", 4, int, count),
    Setting("sde", "diffusion: the forward SDE, ve (σ from --sigma to --sigma-max), vp or subvp (β from --beta-min "
            "to --beta-max)", "vp", str, lambda v: None if v in SDES else f"must be one of {', '.join(SDES)}"),
    Setting("beta_min", "diffusion (vp, subvp): β at t = 0", 0.1, float, positive),
    Setting("beta_max", "diffusion (vp, subvp): β at t = 1", 20.0, float, positive),
    Setting("times", "diffusion: how training draws t, uniform on [t_min, 1] (Song et al.), log-sigma (log σ(t) "
            "uniform, as NCSN's levels) or mixed (half each)", "uniform", str,
            lambda v: None if v in ("uniform", "log-sigma", "mixed") else "must be uniform, log-sigma or mixed"),
    Setting("t_min", "diffusion: the smallest time trained and sampled (the kernel is degenerate at 0)", 1e-3, float,
            lambda v: None if 0 < v < 1 else "must lie in (0, 1)"),
):
    OBJECTIVE_SETTINGS.register(_setting)


SDES = ("ve", "vp", "subvp")


def make_sde(cfg: Any) -> SDE:
    """The forward SDE of a diffusion run (:mod:`scorematch.diffusion.sde`)."""
    if cfg.sde == "ve":
        return VE(float(cfg.sigma), float(cfg.sigma_max))
    return (VP if cfg.sde == "vp" else SubVP)(cfg.beta_min, cfg.beta_max)


def sigma_ladder(cfg: Any, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """The NCSN ladder of a run: ``n_sigmas`` geometric levels from ``sigma_max`` down to ``sigma``."""
    if cfg.n_sigmas == 1:
        return torch.tensor([cfg.sigma], dtype=dtype)
    return geometric_sigmas(cfg.sigma_max, cfg.sigma, cfg.n_sigmas, dtype=dtype)


_MCMC_SETTINGS = ("mcmc_steps", "mcmc_step_size", "mcmc_noise", "mcmc_sampler", "energy_reg")


def _mcmc(cfg: Any) -> dict[str, Any]:
    return {"steps": cfg.mcmc_steps, "step_size": cfg.mcmc_step_size, "noise_scale": cfg.mcmc_noise,
            "sampler": cfg.mcmc_sampler, "alpha": cfg.energy_reg}


OBJECTIVES: Table[Objective] = Table("objective")
for _objective in (
    Objective("esm", "exact Hyvärinen score matching, ½‖s‖² + tr ∇s (the most accurate on the quality benchmark)",
              losses.explicit),
    Objective("ssm", "sliced score matching, vᵀ∇s v + ½(vᵀs)² (Song et al. 2019)", losses.sliced,
              lambda cfg: {"n_probes": cfg.n_probes, "probe": "rademacher"}, ("n_probes",)),
    Objective("ssm-vr", "sliced score matching with variance reduction, ½‖s‖² + vᵀ∇s v", losses.sliced,
              lambda cfg: {"n_probes": cfg.n_probes, "probe": "rademacher", "variance_reduction": True},
              ("n_probes",)),
    Objective("dsm", "denoising score matching at --sigma (Vincent 2011); cheap for score networks on large d",
              losses.denoising, lambda cfg: {"sigma": cfg.sigma}, ("sigma",), auto_sigma=True),
    Objective("fd-ssm", "finite-difference sliced score matching (Pang et al. 2020), no second-order autograd",
              losses.finite_difference_sliced, lambda cfg: {"fd_step": cfg.fd_step, "n_probes": cfg.n_probes},
              ("n_probes", "fd_step")),
    Objective("ncsn", "multi-scale denoising over a σ ladder (Song & Ermon 2019); a noise-conditional model",
              losses.multiscale_denoising, lambda cfg: {"sigmas": sigma_ladder(cfg)},
              ("sigma", "sigma_max", "n_sigmas"),
              check=lambda cfg: None if cfg.sigma == "auto" or cfg.sigma_max >= cfg.sigma else
              f"sigma_max must be >= sigma ({cfg.sigma}) for ncsn, got {cfg.sigma_max!r}"),
    Objective("diffusion", "continuous-time denoising through a forward SDE (--sde ve|vp|subvp; Song et al. 2021), "
              "t ~ U(t_min, 1): a σ(t)-conditional model sampled from its prior down (pc, sde, ddpm, ode)",
              losses.continuous_denoising, lambda cfg: {"sde": make_sde(cfg), "t_min": cfg.t_min, "times": cfg.times},
              ("sde", "beta_min", "beta_max", "t_min", "times", "sigma", "sigma_max"), sde=make_sde, family="diffusion",
              check=lambda cfg: None if cfg.sde != "ve" or cfg.sigma == "auto" or cfg.sigma_max > cfg.sigma else
              f"sigma_max must exceed sigma ({cfg.sigma}) for the ve SDE, got {cfg.sigma_max!r}"),
    Objective("cd", "contrastive divergence, CD-k: E(x⁺) − E(x⁻) with negatives by k Langevin steps from the data "
              "(Hinton 2002)", contrastive_divergence, _mcmc, _MCMC_SETTINGS, family="baseline"),
    Objective("pcd", "persistent contrastive divergence with a replay buffer (Tieleman 2008; Du & Mordatch 2019)",
              PersistentContrastiveDivergence,
              lambda cfg: {"buffer_size": cfg.buffer_size, "restart_fraction": cfg.restart_fraction, **_mcmc(cfg)},
              (*_MCMC_SETTINGS, "buffer_size", "restart_fraction"), family="baseline"),
    Objective("nce", "noise-contrastive estimation against a Gaussian fitted to the data; learns log Z "
              "(Gutmann & Hyvärinen 2010)", noise_contrastive,
              lambda cfg, data: {"noise": GaussianNoise.fit(data), "ratio": cfg.noise_ratio},
              ("noise_ratio",), needs_data=True, learns_log_z=True, family="baseline"),
):
    OBJECTIVES.register(_objective)


def build_objective(cfg: Any, data: Tensor | None = None) -> Loss:
    """``objective(model, x, generator=g) -> (B,)`` for the run's objective name (σ must be a number here);
    ``data``: the standardized training points, which some objectives need (NCE fits its noise law to them)."""
    if isinstance(cfg.sigma, str):
        raise ValueError(f"sigma={cfg.sigma!r} must be resolved to a number before the objective is built")
    entry = OBJECTIVES[cfg.objective]
    if entry.needs_data and data is None:
        raise ValueError(f"the objective {entry.name} is built from the training data: pass data=")
    return entry.build(cfg, data)


def at_smallest_sigma(model: Energy | Score, cfg: Any) -> Energy | Score:
    """The model as an ordinary (not noise-conditional) one: when the objective's loss is noise-conditional, bound to
    the smallest σ of the run's ladder, which it carries as ``.sigmas`` for the annealed sampler
    (:func:`~scorematch.protocol.with_ladder`)."""
    entry = OBJECTIVES[cfg.objective]
    if not entry.conditional:
        return model
    if entry.sde is not None:  # a diffusion run: its σ(t) from t = 1 down to t_min, and the SDE for its samplers
        sde = entry.sde(cfg)
        view = with_ladder(model, sde.std(torch.linspace(1.0, cfg.t_min, 10, dtype=torch.float64)).float())
        view.sde = sde
        return view
    return with_ladder(model, sigma_ladder(cfg), sigma=cfg.sigma)  # the float32 levels it was trained at
