"""The settings of a training run: a frozen dataclass that round-trips to JSON and TOML.

Every field's default is the library's (:mod:`scorematch.defaults`), chosen on the quality benchmark. Unknown keys
and bad values raise ``ValueError`` with one line naming the key — never a silent fallback.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .defaults import DEFAULTS
from .models.mlp import ACTIVATIONS, INITS

__all__ = ["MODEL_KINDS", "OBJECTIVES", "SAMPLERS", "TrainConfig"]

OBJECTIVES: tuple[str, ...] = ("esm", "ssm", "ssm-vr", "dsm", "fd-ssm", "ncsn")
MODEL_KINDS: tuple[str, ...] = ("energy", "score")
SAMPLERS: tuple[str, ...] = ("smc", "pt", "mala", "hmc", "langevin", "annealed")


@dataclass(frozen=True)
class TrainConfig:
    """Everything needed to reproduce a run (with the data it names).

    Noise levels are in standardized units when ``standardize`` is on (the default). Defaults are
    :data:`scorematch.defaults.DEFAULTS`, the same as :func:`scorematch.fit`'s. ``sigma = "auto"`` (denoising only)
    chooses σ from the data by the held-out criterion; the run folder then stores the σ chosen.
    """

    data: str
    objective: str = "esm"      # exact score matching: the most accurate on the quality benchmark (QUALITY.md)
    model: str = "energy"
    steps: int = DEFAULTS.steps
    batch_size: int = DEFAULTS.batch_size
    lr: float = DEFAULTS.lr
    lr_schedule: str = DEFAULTS.lr_schedule  # "constant" or "cosine"
    weight_decay: float = DEFAULTS.weight_decay
    hidden: int = DEFAULTS.hidden
    depth: int = DEFAULTS.depth
    activation: str = DEFAULTS.activation
    init: str = DEFAULTS.init
    sigma: float | str = 0.1    # dsm: the noise level ("auto": chosen from the data); ncsn: the smallest level
    sigma_max: float = 3.0      # ncsn: the largest level
    n_sigmas: int = 10          # ncsn: levels in the geometric ladder
    n_probes: int = 1           # ssm, ssm-vr, fd-ssm
    fd_eps: float = 0.05        # fd-ssm step
    ema: float = DEFAULTS.ema   # EMA decay of the weights; 0 turns it off
    clip: float = DEFAULTS.clip  # gradient-norm clipping; 0 turns it off
    val_fraction: float = DEFAULTS.val_fraction  # data held out for the criterion; 0 turns it (and stopping) off
    eval_every: int = DEFAULTS.eval_every  # steps between held-out evaluations
    patience: int = DEFAULTS.patience  # steps without a new held-out best before stopping; 0: never stop early
    seed: int = 0
    n_data: int = 20000         # points drawn from a built-in data set
    standardize: bool = True
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad setting."""
        def bad(name: str, why: str) -> None:
            raise ValueError(f"{name} {why}, got {getattr(self, name)!r}")

        kinds = {"int": int, "float": (int, float), "bool": bool, "str": str, "float | str": (int, float, str)}
        for f in fields(self):
            value = getattr(self, f.name)
            kind = kinds[str(f.type)]
            if (isinstance(value, bool) and str(f.type) != "bool") or not isinstance(value, kind):
                bad(f.name, f"must be of type {f.type}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; choose one of: {', '.join(OBJECTIVES)}")
        if self.model not in MODEL_KINDS:
            raise ValueError(f"unknown model {self.model!r}; choose one of: {', '.join(MODEL_KINDS)}")
        for name in ("steps", "batch_size", "hidden", "depth", "n_sigmas", "n_probes", "n_data", "checkpoint_every",
                     "eval_every"):
            if getattr(self, name) < 1:
                bad(name, "must be >= 1")
        if self.patience < 0:
            bad("patience", "must be >= 0 (0: never stop early)")
        if self.sigma == "auto":
            if self.objective != "dsm":
                bad("sigma", "may be 'auto' only for the objective dsm")
            if self.val_fraction == 0:
                bad("sigma", "'auto' needs held-out data: val_fraction must be > 0")
        elif isinstance(self.sigma, str):
            bad("sigma", "must be a number > 0 or 'auto'")
        for name in ("lr", "sigma", "sigma_max", "fd_eps"):
            value = getattr(self, name)
            if value != "auto" and not (math.isfinite(value) and value > 0):
                bad(name, "must be a finite number > 0")
        if self.objective == "ncsn" and self.sigma_max < self.sigma:
            bad("sigma_max", f"must be >= sigma ({self.sigma}) for ncsn")
        if not 0 <= self.ema < 1:
            bad("ema", "must lie in [0, 1)")
        for name in ("clip", "weight_decay"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                bad(name, "must be a finite number >= 0")
        if not 0 <= self.val_fraction < 1:
            bad("val_fraction", "must lie in [0, 1)")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; choose one of: {', '.join(ACTIVATIONS)}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}; choose one of: constant, cosine")
        if self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; choose one of: {', '.join(INITS)}")

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a mapping; unknown keys raise ``ValueError`` listing the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if "data" not in values:
            raise ValueError("the setting 'data' is required")
        typed = {}
        for f in fields(cls):
            if f.name in values:
                v = values[f.name]
                numeric = str(f.type) in ("float", "float | str")
                typed[f.name] = float(v) if numeric and isinstance(v, int) and not isinstance(v, bool) else v
        return cls(**typed)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Read a ``.toml`` or ``.json`` file; ``overrides`` (e.g. from the command line) win."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as e:
            raise ValueError(f"{path}: cannot read the config file ({e.strerror})") from None
        try:
            if path.suffix == ".json":
                values = json.loads(text)
                if not isinstance(values, dict):
                    raise ValueError(f"{path}: the config must be a table of settings")
            else:
                if sys.version_info >= (3, 11):
                    import tomllib
                else:  # pragma: no cover
                    import tomli as tomllib
                values = tomllib.loads(text)
        except ValueError as e:
            raise ValueError(f"{path}: not a valid {path.suffix[1:] or 'TOML'} file: {str(e).splitlines()[0]}") from None
        if "train" in values:  # settings may sit under a [train] table, then alone
            if not isinstance(values["train"], dict) or len(values) > 1:
                raise ValueError(f"{path}: [train] must be a table and the file's only top-level entry")
            values = values["train"]
        return cls.from_dict({**values, **overrides})
