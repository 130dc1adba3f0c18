"""The settings of a training run: a frozen dataclass that round-trips to JSON and TOML.

Every field's default is the library's (:mod:`scorematch.defaults`), chosen on the quality benchmark. Unknown keys
and bad values raise ``ValueError`` with one line naming the key — never a silent fallback.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .data.standardize import SCALES
from .defaults import DEFAULTS
from .models.mlp import ACTIVATIONS, INITS
from .registry import MODELS, OBJECTIVES, SETTINGS

__all__ = ["TrainConfig"]

LEGACY_KEYS = {"clip": "clip_grad_norm", "ema": "ema_decay", "fd_eps": "fd_step"}
"""Keys of run folders written before the vocabulary was fixed, and their names now (their 0 meant "off")."""
_OFF_AS_ZERO = ("clip_grad_norm", "ema_decay", "patience", "val_fraction")


SEED_LIMIT = 2**63  # seeds of torch's generators, with room for the offsets derived from them


@dataclass(frozen=True, init=False)
class TrainConfig:
    """Everything needed to reproduce a run (with the data it names).

    The fields below are shared by every objective; an objective's own settings (σ, the ladder, probes, the
    finite-difference step, …) are the entries of :data:`scorematch.registry.SETTINGS`, given by keyword like the
    fields, read as attributes (``cfg.sigma``) and stored in ``options``. ``None`` turns a feature off. Noise levels
    are in standardized units when ``standardize`` is on (the default). Defaults are
    :data:`scorematch.defaults.DEFAULTS`, the same as :func:`scorematch.fit`'s. ``sigma = "auto"`` (objectives whose
    entry allows it) chooses σ from the data by the held-out criterion; the run folder then stores the σ chosen.
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
    clip_grad_norm: float | None = DEFAULTS.clip_grad_norm  # gradient-norm clipping; None: off
    ema_decay: float | None = DEFAULTS.ema_decay  # EMA decay of the weights; None: off
    val_fraction: float | None = DEFAULTS.val_fraction  # data held out for the criterion; None: no criterion, no stopping
    eval_every: int = DEFAULTS.eval_every  # steps between held-out evaluations
    patience: int | None = DEFAULTS.patience  # steps without a new held-out best before stopping; None: never stop early
    seed: int = 0
    n_data: int = 20000         # points drawn from a built-in data set
    standardize: bool | str = True  # True: per column (tables), per channel (images); "column", "channel", "global"
    columns: tuple[str, ...] | None = None  # a file's columns: header names or numbers from 1; None: all
    delimiter: str | None = None  # a CSV file's delimiter; None: detected
    key: str | None = None      # the array of an .npz archive that holds several
    judge: str | None = "loglik"  # energies on tables: the held-out log-likelihood chooses the weights kept; None: off
    ties: str | None = "spread"  # a table's repeated values spread by the rule of scorematch.data.ties; None: kept
    checkpoint_every: int = 500
    options: tuple[tuple[str, Any], ...] = ()  # the objective settings, (name, value) for every entry of SETTINGS

    def __init__(self, data: str, **values: Any):
        core = {f.name: f for f in fields(self) if f.name != "options"}
        unknown = sorted(k for k in values if k not in core and k not in SETTINGS)
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(self.keys())}")
        object.__setattr__(self, "data", data)
        for name, f in core.items():
            if name != "data":
                object.__setattr__(self, name, values.get(name, f.default))
        if self.standardize == "off":  # as on the command line
            object.__setattr__(self, "standardize", False)
        for name in ("ties", "judge"):
            if getattr(self, name) == "off":
                object.__setattr__(self, name, None)
        if isinstance(self.columns, (list, tuple)):  # JSON gives a list; numbers and names are kept as text
            object.__setattr__(self, "columns", tuple(str(c) for c in self.columns))
        given = dict(values.get("options", ()))
        options = tuple((s.name, values.get(s.name, given.get(s.name, s.default))) for s in SETTINGS.entries())
        object.__setattr__(self, "options", options)
        self.validate()

    def __getattr__(self, name: str) -> Any:  # the objective settings (only reached when no field has the name)
        if name in SETTINGS:
            return dict(object.__getattribute__(self, "options")).get(name, SETTINGS[name].default)
        raise AttributeError(f"{type(self).__name__} has no setting {name!r}")

    @classmethod
    def keys(cls) -> list[str]:
        """Every setting's name: the shared fields, then the objective settings of the table."""
        return [f.name for f in fields(cls) if f.name != "options"] + list(SETTINGS)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad setting."""
        def bad(name: str, why: str) -> None:
            raise ValueError(f"{name} {why}, got {getattr(self, name)!r}")

        kinds = {"int": int, "float": (int, float), "bool": bool, "str": str, "bool | str": (bool, str),
                 "float | str": (int, float, str),
                 "float | None": (int, float, type(None)), "int | None": (int, type(None)),
                 "str | None": (str, type(None)), "tuple[str, ...] | None": (tuple, type(None))}
        types = {f.name: str(f.type) for f in fields(self) if f.name != "options"}
        types.update({s.name: s.type for s in SETTINGS.entries()})
        for name, kind in types.items():
            value = getattr(self, name)
            if (isinstance(value, bool) and "bool" not in kind) or not isinstance(value, kinds[kind]):
                bad(name, f"must be of type {kind}")
        objective = OBJECTIVES[self.objective]  # unknown names raise, listing the known ones
        MODELS[self.model]
        for name in ("steps", "batch_size", "hidden", "depth", "n_data", "checkpoint_every", "eval_every"):
            if getattr(self, name) < 1:
                bad(name, "must be >= 1")
        for setting in SETTINGS.entries():
            why = setting.check(getattr(self, setting.name)) if setting.check else None
            if why:
                bad(setting.name, why)
        if self.sigma == "auto":
            if not objective.auto_sigma:
                bad("sigma", "may be 'auto' only for the objective "
                    + ", ".join(o.name for o in OBJECTIVES.entries() if o.auto_sigma))
            if self.val_fraction is None:
                bad("sigma", "'auto' needs held-out data: val_fraction must be set")
        if objective.properties.needs_energy and not MODELS[self.model].energy:
            kinds = ", ".join(k.name for k in MODELS.entries() if k.energy)
            bad("model", f"must be an energy model ({kinds}) for the objective {objective.name}, which trains an energy")
        why = objective.check(self) if objective.check else None
        if why:
            raise ValueError(why)
        if not (math.isfinite(self.lr) and self.lr > 0):
            bad("lr", "must be a finite number > 0")
        if not 0 <= self.seed < SEED_LIMIT:
            bad("seed", "must be an integer from 0 to 2^63 - 1")
        if self.patience is not None and self.patience < 1:
            bad("patience", "must be >= 1 (None: never stop early)")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            bad("ema_decay", "must lie in (0, 1) (None: no EMA)")
        if self.clip_grad_norm is not None and not (math.isfinite(self.clip_grad_norm) and self.clip_grad_norm > 0):
            bad("clip_grad_norm", "must be a finite number > 0 (None: no clipping)")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            bad("weight_decay", "must be a finite number >= 0")
        if self.val_fraction is not None and not 0 < self.val_fraction < 1:
            bad("val_fraction", "must lie in (0, 1) (None: nothing held out)")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; choose one of: {', '.join(ACTIVATIONS)}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}; choose one of: constant, cosine")
        if self.columns is not None and not self.columns:
            bad("columns", "must name at least one column (None: all)")
        if self.delimiter is not None and len(self.delimiter) != 1:
            bad("delimiter", "must be one character (None: detected)")
        if self.judge not in (None, "loglik"):
            bad("judge", "must be 'loglik' or None (off: the held-out Hyvärinen loss alone chooses the weights)")
        if self.ties not in (None, "spread"):
            bad("ties", "must be 'spread' or None (off: repeated values kept as they are)")
        if isinstance(self.standardize, str) and self.standardize not in SCALES:
            bad("standardize", f"must be true, false, 'off' or one of {', '.join(SCALES)}")
        if self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; choose one of: {', '.join(INITS)}")

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied (and validated)."""
        return TrainConfig(**{**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        """Every setting by name, flat: the shared fields, then the objective settings."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "options"}
        out.update(self.options)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a mapping; unknown keys raise ``ValueError`` listing the known ones."""
        if any(k in values for k in LEGACY_KEYS):  # a run folder of the earlier vocabulary: 0 meant "off"
            values = {LEGACY_KEYS.get(k, k): v for k, v in values.items()}
            values = {k: (None if k in _OFF_AS_ZERO and v == 0 else v) for k, v in values.items()}
        known = set(cls.keys())
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if "data" not in values:
            raise ValueError("the setting 'data' is required")
        types = {f.name: str(f.type) for f in fields(cls)} | {s.name: s.type for s in SETTINGS.entries()}
        typed = {}
        for name, v in values.items():
            numeric = types[name].startswith("float")
            typed[name] = float(v) if numeric and isinstance(v, int) and not isinstance(v, bool) else v
        return cls(**typed)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Read a ``.toml`` or ``.json`` file; ``overrides`` (e.g. from the command line) win."""
        return cls.from_dict({**cls.read_file(path), **overrides})

    @staticmethod
    def read_file(path: str | Path) -> dict[str, Any]:
        """The settings a ``.toml`` or ``.json`` file gives (under a ``[train]`` table or at the top), unchecked."""
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
        return values
