"""The settings of a training run: a frozen dataclass that round-trips to JSON and TOML.

Every field's default is the library's (:mod:`scorematch._infra.defaults`), chosen on the quality benchmark. Unknown keys
and bad values raise ``ValueError`` with one line naming the key — never a silent fallback.
"""

from __future__ import annotations

import json
import math
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .._infra.defaults import DEFAULTS
from ..data.standardize import SCALES
from ..models.mlp import ACTIVATIONS, INITS
from .argtypes import count_or_zero, fraction, number, off_or, positive_int
from .argtypes import seed as seed_type
from .registry import MODELS, OBJECTIVES, SETTINGS
from .settings import count as _count
from .settings import non_negative as _non_negative
from .settings import positive as _positive

__all__ = ["TrainConfig"]

LEGACY_KEYS = {"clip": "clip_grad_norm", "ema": "ema_decay", "fd_eps": "fd_step"}
"""Keys of run folders written before the vocabulary was fixed, and their names now (their 0 meant "off")."""
_OFF_AS_ZERO = ("clip_grad_norm", "ema_decay", "patience", "val_fraction")


SEED_LIMIT = 2**63  # seeds of torch's generators, with room for the offsets derived from them
LR_SCHEDULES = ("constant", "cosine")


def _members(kind: Any) -> tuple[Any, ...]:
    """The plain types a setting's type admits: ``float | None`` -> ``(float, NoneType)``; ``tuple[str, ...]`` ->
    ``tuple``."""
    args = typing.get_args(kind) if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union \
        else (kind,)
    return tuple(typing.get_origin(a) or a for a in args)


def _instance(value: Any, kind: Any) -> bool:
    """Whether ``value`` is of a setting's type: a float setting takes an int; a bool only a type that says bool."""
    plain = _members(kind)
    if isinstance(value, bool):
        return bool in plain
    return isinstance(value, plain) or (float in plain and isinstance(value, int))
STANDARDIZE_HELP = ("the scale the model learns in: whiten, per column then decorrelated, z = W(x - mean)/std with "
                    "identity covariance (the default for a file's table: correlated columns cost a network nothing); "
                    "column, z = (x - mean)/std (the built-in 2-D sets' default); per channel pooled over the pixels "
                    "(images' default); one mean and std for all; or off")
JUDGE_HELP = ("energy models on tables: loglik, the held-out log-likelihood (log Z by SMC) judges the weights at the end "
              "and at a quarter, half and three quarters of training and keeps the best that can be normalised, "
              "written to summary.json; off: the held-out Hyvärinen loss alone")
TIES_HELP = ("repeated values in a table (a return of exactly 0, measurements to one decimal): spread, each moved "
             "within its resolution and an atom spread to the local density, so that exact score matching cannot "
             "reward a spike there; off: kept as they are")


def setting(default: Any, help: str | None = None, *, parse: Callable[[str], Any] | None = None,
            metavar: str | None = None, choices: tuple[str, ...] | None = None,
            check: Callable[[Any], str | None] | None = None, fit: bool = False, default_text: str | None = None) -> Any:
    """A field of :class:`TrainConfig` declared once: its default; its ``help`` (``None``: no command-line option,
    config files only); how the command line parses it (``parse``, ``metavar``, ``choices``; the option is
    ``--name-with-dashes``, its help ends with the default, or ``default_text``); ``check(value)``: why a value is
    bad (``None``: it is fine); ``fit``: it is the keyword argument of :func:`scorematch.fit` of the same name."""
    return field(default=default, metadata={"help": help, "parse": parse, "metavar": metavar, "choices": choices,
                                            "check": check, "fit": fit, "default_text": default_text})


def _one_of(choices: tuple[Any, ...], off: str = "") -> Callable[[Any], str | None]:
    return lambda v: None if v in choices else f"must be one of {', '.join(map(str, choices))}{off}"


@dataclass(frozen=True, init=False)
class TrainConfig:
    """Everything needed to reproduce a run (with the data it names), each setting declared once: its default, its
    help and command-line option, its check and whether :func:`scorematch.fit` reads it (:func:`setting`).

    The fields below are shared by every objective; an objective's or a model kind's own settings (σ, the ladder,
    probes, the finite-difference step, the conv net's width, …) are the entries of
    :data:`scorematch.runs.registry.SETTINGS`, given by keyword like the fields, read as attributes (``cfg.sigma``) and
    stored in ``options``. ``None`` turns a feature off. Noise levels are in standardized units when ``standardize``
    is on (the default). Defaults are :data:`scorematch._infra.defaults.DEFAULTS`, the same as :func:`scorematch.fit`'s.
    ``sigma = "auto"`` (objectives whose entry allows it) chooses σ from the data by the held-out criterion; the run
    folder then stores the σ chosen.
    """

    data: str
    objective: str = "esm"      # exact score matching: the most accurate on the quality benchmark (QUALITY.md)
    model: str = "energy"
    steps: int = setting(DEFAULTS.steps, "optimizer steps", parse=positive_int, metavar="N", check=_count,
                         fit=True)
    batch_size: int = setting(DEFAULTS.batch_size, "mini-batch size", parse=positive_int, metavar="B",
                              check=_count, fit=True)
    lr: float = setting(DEFAULTS.lr, "Adam learning rate", parse=number, metavar="LR", check=_positive,
                        fit=True)
    lr_schedule: str = setting(DEFAULTS.lr_schedule, "learning rate over the steps: constant, or cosine decay towards "
                               "0", choices=LR_SCHEDULES, check=_one_of(LR_SCHEDULES), fit=True)
    weight_decay: float = setting(DEFAULTS.weight_decay, "decoupled weight decay, AdamW", parse=number, metavar="W",
                                  check=_non_negative, fit=True)
    hidden: int = setting(DEFAULTS.hidden, "hidden width", parse=positive_int, metavar="W", check=_count)
    depth: int = setting(DEFAULTS.depth, "hidden layers", parse=positive_int, metavar="K", check=_count)
    activation: str = setting(DEFAULTS.activation, check=_one_of(tuple(ACTIVATIONS)))
    init: str = setting(DEFAULTS.init, check=_one_of(tuple(INITS)))
    clip_grad_norm: float | None = setting(DEFAULTS.clip_grad_norm, "clip the global gradient norm to C; off: no "
                                           "clipping", parse=off_or(number), metavar="C", fit=True,
                                           check=lambda v: None if v is None or (math.isfinite(v) and v > 0) else
                                           "must be a finite number > 0 (None: no clipping)")
    ema_decay: float | None = setting(DEFAULTS.ema_decay, "exponential moving average of the weights; off: none",
                                      parse=off_or(number), metavar="D", fit=True,
                                      check=lambda v: None if v is None or 0 < v < 1 else
                                      "must lie in (0, 1) (None: no EMA)")
    val_fraction: float | None = setting(DEFAULTS.val_fraction, "share of the data held out to measure the fit "
                                         "(held-out Hyvärinen loss), keep the best weights and stop early; 0 turns it "
                                         "off", parse=fraction, metavar="F",
                                         check=lambda v: None if v is None or 0 < v < 1 else
                                         "must lie in (0, 1) (None: nothing held out)")
    eval_every: int = setting(DEFAULTS.eval_every, "steps between held-out evaluations", parse=positive_int,
                              metavar="N", check=_count, fit=True)
    patience: int | None = setting(DEFAULTS.patience, "stop after N steps without a new held-out best; 0: never stop "
                                   "early", parse=off_or(count_or_zero), metavar="N", fit=True,
                                   check=lambda v: None if v is None or v >= 1 else
                                   "must be >= 1 (None: never stop early)")
    seed: int = setting(0, "seed of data, weights and noise", parse=seed_type, metavar="S",
                        check=lambda v: None if 0 <= v < SEED_LIMIT else "must be an integer from 0 to 2^63 - 1")
    n_data: int = setting(20000, check=_count)  # points drawn from a built-in data set
    standardize: bool | str = setting(True, STANDARDIZE_HELP, choices=("whiten", "column", "channel", "global", "off"),
                                      check=lambda v: None if not isinstance(v, str) or v in SCALES else
                                      f"must be true, false, 'off' or one of {', '.join(SCALES)}",
                                      default_text="whiten for a file's table, column for the built-in 2-D sets, "
                                      "channel for images")
    columns: tuple[str, ...] | None = setting(None, check=lambda v: None if v is None or v else
                                              "must name at least one column (None: all)")
    delimiter: str | None = setting(None, check=lambda v: None if v is None or len(v) == 1 else
                                    "must be one character (None: detected)")
    key: str | None = None      # the array of an .npz archive that holds several
    judge: str | None = setting("loglik", JUDGE_HELP, choices=("loglik", "off"),
                                check=lambda v: None if v in (None, "loglik") else "must be 'loglik' or None (off: the "
                                "held-out Hyvärinen loss alone chooses the weights)")
    ties: str | None = setting("spread", TIES_HELP, choices=("spread", "off"),
                               check=lambda v: None if v in (None, "spread") else "must be 'spread' or None (off: "
                               "repeated values kept as they are)")
    checkpoint_every: int = setting(500, check=_count, fit=True)
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

        for name, kind in self.types().items():
            if not _instance(getattr(self, name), kind):
                bad(name, f"must be of type {getattr(kind, '__name__', kind)}")
        objective = OBJECTIVES[self.objective]  # unknown names raise, listing the known ones
        MODELS[self.model]
        for f in fields(self):
            check = f.metadata.get("check")
            why = check(getattr(self, f.name)) if check else None
            if why:
                bad(f.name, why)
        for s in SETTINGS.entries():
            why = s.check(getattr(self, s.name)) if s.check else None
            if why:
                bad(s.name, why)
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

    @classmethod
    def types(cls) -> dict[str, Any]:
        """Every setting's Python type: the fields', then the objective settings'."""
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in fields(cls) if f.name != "options"} | \
            {s.name: s.type for s in SETTINGS.entries()}

    def fit_arguments(self) -> dict[str, Any]:
        """The keyword arguments of :func:`scorematch.fit` that the run's settings give (the fields declared ``fit``)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("fit")}

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
        types = cls.types() | {"data": str}
        typed = {}
        for name, v in values.items():
            numeric = float in _members(types[name])
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
