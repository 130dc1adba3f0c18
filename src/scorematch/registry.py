"""The table of names: every objective, model kind and objective setting the command line and run folders speak,
registered once next to what it builds, with its help text and defaults (the samplers' entries sit with their
drivers in :mod:`scorematch.sampling` and are re-exported here).

The library itself takes objects (a loss function, a network, a kernel); only the command line and run folders
speak in names, and they all go through these tables. ``config.py`` validates names and settings against them,
``cli.py`` builds its options and help from them, ``runs.py`` builds models and objectives from them. An unknown
name raises ``ValueError`` listing the known ones.

To add an objective to the command line: write the loss (``losses/<name>.py``), then register it::

    OBJECTIVES.register(Objective("my-sm", "my objective (Doe 2027)", build=lambda cfg: losses.my_sm))

It reads settings by name (``settings=("sigma",)``); a new setting is one :class:`Setting` in :data:`SETTINGS`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from . import ggm, losses
from ._checks import check_memory
from .baselines import (
    MCMC_SAMPLERS,
    GaussianNoise,
    KDEScore,
    PersistentContrastiveDivergence,
    SpectralSteinScore,
    SteinScore,
    contrastive_divergence,
    noise_contrastive,
)
from .fields import Energy, Score
from .losses import Properties, properties_of
from .models import (
    EnergyMLP,
    NoiseConditionalEnergyMLP,
    NoiseConditionalScoreCNN,
    NoiseConditionalScoreMLP,
    ScoreCNN,
    ScoreMLP,
)
from .protocol import with_ladder
from .sampling import SAMPLERS, Sampler
from .schedules import geometric_sigmas
from .table import Table

__all__ = ["ESTIMATORS", "MODELS", "OBJECTIVES", "SAMPLERS", "SETTINGS", "Estimator", "ModelKind", "Objective",
           "Sampler", "Setting",
           "at_smallest_sigma", "build_model", "build_objective", "default_model", "sigma_ladder"]

Loss = Callable[..., Tensor]


@dataclass(frozen=True)
class Setting:
    """A setting an objective or a model kind reads, by name: ``type`` is ``int``, ``float``, ``float | str`` (a number
    or ``"auto"``), ``float | None`` (``None``: off) or ``str``, from which the command line's parser follows
    (:func:`scorematch.argtypes.parser_for`); ``check(value)`` says why a value is bad (``None``: it is fine)."""

    name: str
    help: str
    default: Any
    type: Any = float
    check: Callable[[Any], str | None] | None = None


@dataclass(frozen=True)
class Objective:
    """A command-line objective: the ``loss`` it trains with (a loss function, or a loss class such as persistent
    CD), whose declared :class:`~scorematch.losses.Properties` are the objective's (:attr:`properties`: the order of
    derivatives, whether the model is noise-conditional, whether the held-out loss means anything, whether it needs
    an energy); ``bind(cfg) -> {keyword: value}`` (``bind(cfg, data)`` with ``needs_data``: the standardized
    training data, e.g. to fit a noise law) gives the loss its settings, the ``settings`` it reads by name; whether
    its σ may be ``"auto"`` (chosen on held-out data); a check across settings (``check(cfg)``: a one-line message
    naming the setting, or ``None``); whether the model learns its log-normalizer
    (``Energy(net, learn_log_z=True)``); and whether it is score matching (``family`` ``"score matching"``) or a
    method score matching is compared with (``"baseline"``)."""

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


@dataclass(frozen=True)
class Estimator:
    """A score estimator with no network, for ``compare``: ``build(x, cfg) -> score model`` from the standardized
    training points and the run settings of the comparison."""

    name: str
    help: str
    build: Callable[[Tensor, Any], Any]


@dataclass(frozen=True)
class ModelKind:
    """A command-line model kind, with everything the rest of the library needs to know about it.

    ``build(cfg, event_shape, conditional, learn_log_z) -> Energy | Score`` (float32; noise-conditional when the
    objective's loss says so); ``energy``: whether its models are energies; ``sampler``: the sampler its models draw
    with by default (a noise-conditional score model draws with the sampler that needs its ladder);
    ``accepts(event_shape)``: why it cannot model samples of that shape (``None``: it can); ``size(cfg,
    event_shape) -> (parameters, width, layers)``: its parameter count, and the widest activation and the layers a
    batch passes through (the memory estimates before anything is built); ``architecture``: the settings that define
    its network (``model.safetensors``' header, checked on load); ``settings``: its own settings (entries of
    :data:`SETTINGS`); ``default_for(event_shape)``: whether it is the kind used when none is given (for objectives it
    can train), with ``default_objective`` then, when no objective is given either; ``plot``: what its figures show,
    ``"density"`` (an energy landscape) or ``"field"`` (the score's magnitude and field); image data are drawn as
    grids of samples whatever the kind."""

    name: str
    help: str
    build: Callable[[Any, tuple[int, ...], bool, bool], Energy | Score]
    energy: bool
    sampler: str
    size: Callable[[Any, tuple[int, ...]], tuple[int, int, int]]
    architecture: tuple[str, ...]
    accepts: Callable[[tuple[int, ...]], str | None] = lambda shape: None
    settings: tuple[str, ...] = ()
    default_for: Callable[[tuple[int, ...]], bool] = lambda shape: False
    default_objective: str | None = None
    plot: str = "field"

    def default_sampler(self, conditional: bool) -> str:
        """The sampler a model of this kind draws with by default (``conditional``: a noise-conditional model)."""
        if conditional and not self.energy:
            return next(s.name for s in SAMPLERS.entries() if s.needs_ladder)
        return self.sampler


def _positive(value: Any) -> str | None:
    return None if isinstance(value, (int, float)) and math.isfinite(value) and value > 0 else "must be a finite number > 0"


def _count(value: Any) -> str | None:
    return None if value >= 1 else "must be >= 1"


def _fraction(value: Any) -> str | None:
    return None if 0 <= value <= 1 else "must lie in [0, 1]"


def _non_negative(value: Any) -> str | None:
    return None if math.isfinite(value) and value >= 0 else "must be a finite number >= 0"


SETTINGS: Table[Setting] = Table("setting")
for _setting in (
    Setting("sigma", "dsm: the noise level, or 'auto' to choose it on held-out data; ncsn: the smallest level",
            0.1, float | str, lambda v: None if v == "auto" else _positive(v)),
    Setting("sigma_max", "ncsn: the largest noise level", 3.0, float, _positive),
    Setting("n_sigmas", "ncsn: noise levels in the geometric ladder", 10, int, _count),
    Setting("n_probes", "ssm, ssm-vr, fd-ssm: random projections per sample", 1, int, _count),
    Setting("fd_step", "fd-ssm: the finite-difference step", 0.05, float, _positive),
    Setting("mcmc_steps", "cd, pcd: MCMC steps per negative sample", 10, int, _count),
    Setting("mcmc_step_size", "cd, pcd: the step ε of the inner sampler x + (ε/2)s + ηz", 0.01, float, _positive),
    Setting("mcmc_noise", "cd, pcd: the noise scale η of the inner sampler; off: √ε, unbiased (other values "
            "decouple noise from step and bias the sampler)", None, float | None,
            lambda v: None if v is None else _positive(v)),
    Setting("mcmc_sampler", f"cd, pcd: the inner sampler, one of {', '.join(MCMC_SAMPLERS)}", "langevin", str,
            lambda v: None if v in MCMC_SAMPLERS else f"must be one of {', '.join(MCMC_SAMPLERS)}"),
    Setting("energy_reg", "cd, pcd: α of the energy-magnitude regularizer α(E(x⁺)² + E(x⁻)²)", 0.001, float,
            _non_negative),
    Setting("buffer_size", "pcd: points in the replay buffer", 10000, int, _count),
    Setting("restart_fraction", "pcd: share of chains restarted from N(0, I) at every step", 0.05, float,
            _fraction),
    Setting("noise_ratio", "nce: noise points per data point (ν)", 4, int, _count),
    Setting("conv_width", "conv model: feature channels of every residual block (a multiple of 8)", 32, int,
            lambda v: None if v >= 8 and v % 8 == 0 else "must be a multiple of 8 (GroupNorm of 8 groups)"),
    Setting("conv_blocks", "conv model: residual blocks (the receptive field is 4·blocks + 5 pixels)", 4, int,
            _count),
):
    SETTINGS.register(_setting)


def sigma_ladder(cfg: Any, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """The NCSN ladder of a run: ``n_sigmas`` geometric levels from ``sigma_max`` down to ``sigma``."""
    if cfg.n_sigmas == 1:
        return torch.tensor([cfg.sigma], dtype=dtype)
    return geometric_sigmas(cfg.sigma_max, cfg.sigma, cfg.n_sigmas, dtype=dtype)


_MCMC_SETTINGS = ("mcmc_steps", "mcmc_step_size", "mcmc_noise", "mcmc_sampler", "energy_reg")


def _mcmc(cfg: Any) -> dict[str, Any]:
    return {"n_steps": cfg.mcmc_steps, "step_size": cfg.mcmc_step_size, "noise_scale": cfg.mcmc_noise,
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


def _mlp(energy: bool) -> Callable[[Any, tuple[int, ...], bool, bool], Energy | Score]:
    def build(cfg: Any, event_shape: tuple[int, ...], conditional: bool, learn_log_z: bool) -> Energy | Score:
        net_class = {(True, False): EnergyMLP, (False, False): ScoreMLP, (True, True): NoiseConditionalEnergyMLP,
                     (False, True): NoiseConditionalScoreMLP}[(energy, conditional)]
        net = net_class(event_shape, hidden=cfg.hidden, depth=cfg.depth, activation=cfg.activation, init=cfg.init)
        model = Energy(net, learn_log_z=learn_log_z) if energy else Score(net)
        return model.float()

    return build


def _mlp_size(cfg: Any, shape: tuple[int, ...]) -> tuple[int, int, int]:
    size = math.prod(shape)
    params = (size + 16) * cfg.hidden + (cfg.depth - 1) * cfg.hidden * (cfg.hidden + 1) + cfg.hidden * size
    return params, cfg.hidden, cfg.depth + 2


_MLP_ARCHITECTURE = ("model", "hidden", "depth", "activation")

MODELS: Table[ModelKind] = Table("model")
MODELS.register(ModelKind("energy", "an energy network E(x), p ∝ exp(−E): log-densities, and every sampler",
                          _mlp(True), True, "smc", _mlp_size, _MLP_ARCHITECTURE,
                          default_for=lambda shape: len(shape) != 3, plot="density"))
MODELS.register(ModelKind("score", "a score network s(x) ≈ ∇ log p: no density, Langevin sampling",
                          _mlp(False), False, "langevin", _mlp_size, _MLP_ARCHITECTURE))


def _conv(cfg: Any, event_shape: tuple[int, ...], conditional: bool, learn_log_z: bool) -> Score:
    net_class = NoiseConditionalScoreCNN if conditional else ScoreCNN
    return Score(net_class(event_shape[0], width=cfg.conv_width, n_blocks=cfg.conv_blocks)).float()


def _conv_size(cfg: Any, shape: tuple[int, ...]) -> tuple[int, int, int]:
    params = 18 * cfg.conv_width**2 * cfg.conv_blocks + 18 * cfg.conv_width * shape[0]
    return params, cfg.conv_width, 2 * cfg.conv_blocks + 2


MODELS.register(ModelKind(
    "conv", "a convolutional score network for images (n, c, h, w), the default for images (--conv-width, "
    "--conv-blocks); noise-conditional with ncsn", _conv, False, "langevin", _conv_size,
    ("model", "conv_width", "conv_blocks"),
    accepts=lambda shape: None if len(shape) == 3 else f"needs images (n, c, h, w); the data have samples of shape "
                                                       f"{shape}",
    settings=("conv_width", "conv_blocks"), default_for=lambda shape: len(shape) == 3, default_objective="ncsn"))


def default_model(event_shape: tuple[int, ...], objective: str | None = None) -> ModelKind:
    """The model kind used when none is given, for samples of ``event_shape`` (and an ``objective`` that may need an
    energy): the first kind that is the default for that shape and can train the objective, else ``energy``."""
    energy = objective is not None and OBJECTIVES[objective].properties.needs_energy
    return next((k for k in MODELS.entries() if k.default_for(tuple(event_shape)) and (k.energy or not energy)),
                MODELS["energy"])


def build_model(cfg: Any, event_shape: int | tuple[int, ...]) -> Energy | Score:
    """The wrapped network of a run for samples of ``event_shape`` (or ``d`` columns), in float32;
    noise-conditional when the objective's loss says so. A shape the kind cannot model, or a network larger than the
    memory, is refused before anything is built."""
    shape = (event_shape,) if isinstance(event_shape, int) else tuple(event_shape)
    kind = MODELS[cfg.model]
    why = kind.accepts(shape)
    if why:
        raise ValueError(f"--model {kind.name} {why}")
    params = kind.size(cfg, shape)[0]
    hint = "choose a smaller " + (" or ".join("--" + s.replace("_", "-") for s in kind.settings)
                                  or "--hidden or --depth")
    check_memory(f"a network of about {params:.3g} parameters (with its gradients and Adam's state)", 16 * params,
                 hint)
    objective = OBJECTIVES[cfg.objective]
    return kind.build(cfg, shape, objective.conditional, objective.learns_log_z)


def build_objective(cfg: Any, data: Tensor | None = None) -> Loss:
    """``objective(model, x, generator=g) -> (B,)`` for the run's objective name (σ must be a number here);
    ``data``: the standardized training points, which some objectives need (NCE fits its noise law to them)."""
    if isinstance(cfg.sigma, str):
        raise ValueError(f"sigma={cfg.sigma!r} must be resolved to a number before the objective is built")
    entry = OBJECTIVES[cfg.objective]
    if entry.needs_data and data is None:
        raise ValueError(f"the objective {entry.name} is built from the training data: pass data=")
    return entry.build(cfg, data)


ESTIMATORS: Table[Estimator] = Table("estimator")
for _estimator in (
    Estimator("kde", "the score of a Gaussian KDE of 2000 training points at bandwidth --sigma (Scott's rule with "
              "sigma auto): what dsm at that σ converges to on a finite sample",
              lambda x, cfg: KDEScore(x, bandwidth=None if cfg.sigma == "auto" else cfg.sigma, max_points=2000,
                                      generator=torch.Generator().manual_seed(cfg.seed))),
    Estimator("stein", "the Stein gradient estimator (Li & Turner 2018) on 500 training points, median-heuristic "
              "bandwidth", lambda x, cfg: SteinScore(x, max_points=500, generator=torch.Generator().manual_seed(cfg.seed))),
    Estimator("spectral-stein", "the spectral Stein gradient estimator (Shi, Sun & Zhu 2018) on 2000 training "
              "points, median-heuristic bandwidth",
              lambda x, cfg: SpectralSteinScore(x, max_points=2000,
                                                            generator=torch.Generator().manual_seed(cfg.seed))),
):
    ESTIMATORS.register(_estimator)


@dataclass(frozen=True)
class GraphModel:
    """A graphical model ``scorematch graph`` fits by penalised score matching (:mod:`scorematch.ggm`):
    ``path(x, lambdas, n)`` (the λ given, or n of them from λ_max down) on data ``prepare`` made ready for it
    (scaled, and centred where the model's support allows)."""

    name: str
    help: str
    path: Callable[..., Any]
    prepare: Callable[[Any], Any]


def _scaled(x: Any, centre: bool) -> Any:
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    std = x.std(0)
    if (std == 0).any():
        raise ValueError(f"column {int(np.argmax(std == 0)) + 1} is constant: drop it")
    return ((x - x.mean(0)) if centre else x) / std


GRAPH_MODELS: Table[GraphModel] = Table("graph model")
for _graph in (
    GraphModel("gaussian", "Gaussian graphical model, the score-matching lasso (Lin, Drton & Shojaie 2016); data "
               "centred and scaled",
               lambda x, lambdas, n=50: ggm.score_matching_lasso(x, lambdas=lambdas, n_lambdas=n, centre=False),
               lambda x: _scaled(x, True)),
    GraphModel("truncated", "truncated Gaussian graphical model on [0, ∞)^p, generalised score matching with "
               "h(x) = min(x, 3) (Yu, Drton & Shojaie 2019); non-negative data, scaled",
               lambda x, lambdas, n=50: ggm.truncated_lasso(x, lambdas=lambdas, n_lambdas=n),
               lambda x: _scaled(x, False)),
    GraphModel("truncated-noncentred", "the truncated model with a linear term, p ∝ exp(−xᵀKx/2 + ηᵀx) on "
               "[0, ∞)^p: a location away from 0 (η profiled out); non-negative data, scaled",
               lambda x, lambdas, n=50: ggm.truncated_lasso(x, lambdas=lambdas, n_lambdas=n, centred=False),
               lambda x: _scaled(x, False)),
):
    GRAPH_MODELS.register(_graph)


def at_smallest_sigma(model: Energy | Score, cfg: Any) -> Energy | Score:
    """The model as an ordinary (not noise-conditional) one: when the objective's loss is noise-conditional, bound to
    the smallest σ of the run's ladder, which it carries as ``.sigmas`` for the annealed sampler
    (:func:`~scorematch.protocol.with_ladder`)."""
    if not OBJECTIVES[cfg.objective].conditional:
        return model
    return with_ladder(model, sigma_ladder(cfg), sigma=cfg.sigma)  # the float32 levels it was trained at
