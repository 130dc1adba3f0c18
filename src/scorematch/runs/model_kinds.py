"""The model kinds the command line and run folders speak, by name (:data:`MODELS`): each carries its behaviour (the
shapes it accepts, its size for the memory checks, whether it is an energy, its default sampler, its run-folder keys,
its own settings, when it is the default, its plot kind), so that nothing outside it asks what kind a model is.
To add a kind: one :class:`ModelKind` entry (its network in ``models/``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._infra.checks import check_memory
from .._infra.table import Table
from ..fields import Energy, Score
from ..models import (
    EnergyMLP,
    NoiseConditionalEnergyMLP,
    NoiseConditionalScoreCNN,
    NoiseConditionalScoreMLP,
    ScoreCNN,
    ScoreMLP,
)
from ..samplers.named import SAMPLERS
from .objectives import OBJECTIVES
from .settings import Setting, count

__all__ = ["MODELS", "ModelKind", "build_model", "default_model"]


@dataclass(frozen=True)
class ModelKind:
    """A command-line model kind, with everything the rest of the library needs to know about it.

    ``build(cfg, event_shape, conditional, learn_log_z) -> Energy | Score`` (float32; noise-conditional when the
    objective's loss says so); ``energy``: whether its models are energies; ``sampler``: the sampler its models draw
    with by default (a noise-conditional score model draws with the sampler that needs its ladder);
    ``accepts(event_shape)``: why it cannot model samples of that shape (``None``: it can); ``size(cfg,
    event_shape) -> (parameters, width, layers)``: its parameter count, and the widest activation and the layers a
    batch passes through (the memory estimates before anything is built); ``architecture``: the settings that define
    its network (``model.safetensors``' header, checked on load); ``settings``: its own settings, declared with the
    kind (they join :data:`~scorematch.runs.registry.SETTINGS`); ``default_for(event_shape)``: whether it is the kind
    used when none is given (for objectives it can train), with ``default_objective`` then, when no objective is
    given either; ``plot``: what its figures show, ``"density"`` (an energy landscape) or ``"field"`` (the score's
    magnitude and field); image data are drawn as grids of samples whatever the kind."""

    name: str
    help: str
    build: Callable[[Any, tuple[int, ...], bool, bool], Energy | Score]
    energy: bool
    sampler: str
    size: Callable[[Any, tuple[int, ...]], tuple[int, int, int]]
    architecture: tuple[str, ...]
    accepts: Callable[[tuple[int, ...]], str | None] = lambda shape: None
    settings: tuple[Setting, ...] = ()
    default_for: Callable[[tuple[int, ...]], bool] = lambda shape: False
    default_objective: str | None = None
    plot: str = "field"

    def default_sampler(self, conditional: bool) -> str:
        """The sampler a model of this kind draws with by default (``conditional``: a noise-conditional model)."""
        if conditional and not self.energy:
            return next(s.name for s in SAMPLERS.entries() if s.needs_ladder)
        return self.sampler


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
    settings=(
        Setting("conv_width", "conv model: feature channels of every residual block (a multiple of 8)", 32, int,
                lambda v: None if v >= 8 and v % 8 == 0 else "must be a multiple of 8 (GroupNorm of 8 groups)"),
        Setting("conv_blocks", "conv model: residual blocks (the receptive field is 4·blocks + 5 pixels)", 4, int,
                count)),
    default_for=lambda shape: len(shape) == 3, default_objective="ncsn"))


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
    hint = "choose a smaller " + (" or ".join("--" + s.name.replace("_", "-") for s in kind.settings)
                                  or "--hidden or --depth")
    check_memory(f"a network of about {params:.3g} parameters (with its gradients and Adam's state)", 16 * params,
                 hint)
    objective = OBJECTIVES[cfg.objective]
    return kind.build(cfg, shape, objective.conditional, objective.learns_log_z)


