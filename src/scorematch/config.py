"""The settings of a training run: a frozen dataclass that round-trips to JSON and TOML.

Every field has a default chosen to give a fit a researcher would accept on the built-in 2D sets and on
standardized data of up to 16 dimensions. Unknown keys and bad values raise ``ValueError`` with one line naming
the key — never a silent fallback.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["MODEL_KINDS", "OBJECTIVES", "SAMPLERS", "TrainConfig"]

OBJECTIVES: tuple[str, ...] = ("esm", "ssm", "ssm-vr", "dsm", "fd-ssm", "ncsn")
MODEL_KINDS: tuple[str, ...] = ("energy", "score")
SAMPLERS: tuple[str, ...] = ("langevin", "mala", "annealed", "hmc")


@dataclass(frozen=True)
class TrainConfig:
    """Everything needed to reproduce a run (with the data it names).

    Noise levels are in standardized units when ``standardize`` is on (the default).
    """

    data: str
    objective: str = "dsm"
    model: str = "energy"
    steps: int = 4000
    batch_size: int = 256
    lr: float = 2e-3
    hidden: int = 128
    depth: int = 3
    activation: str = "silu"
    sigma: float = 0.1          # dsm: the noise level; ncsn: the smallest level of the ladder
    sigma_max: float = 3.0      # ncsn: the largest level
    n_sigmas: int = 10          # ncsn: levels in the geometric ladder
    n_probes: int = 1           # ssm, ssm-vr, fd-ssm
    fd_eps: float = 0.05        # fd-ssm step
    ema: float = 0.995          # EMA decay of the weights; 0 turns it off
    clip: float = 10.0          # gradient-norm clipping; 0 turns it off
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

        for f in fields(self):
            value = getattr(self, f.name)
            kind = {"int": int, "float": (int, float), "bool": bool, "str": str}[str(f.type)]
            if (isinstance(value, bool) and str(f.type) != "bool") or not isinstance(value, kind):
                bad(f.name, f"must be of type {f.type}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; choose one of: {', '.join(OBJECTIVES)}")
        if self.model not in MODEL_KINDS:
            raise ValueError(f"unknown model {self.model!r}; choose one of: {', '.join(MODEL_KINDS)}")
        for name in ("steps", "batch_size", "hidden", "depth", "n_sigmas", "n_probes", "n_data", "checkpoint_every"):
            if getattr(self, name) < 1:
                bad(name, "must be >= 1")
        for name in ("lr", "sigma", "sigma_max", "fd_eps"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                bad(name, "must be a finite number > 0")
        if self.objective == "ncsn" and self.sigma_max < self.sigma:
            bad("sigma_max", f"must be >= sigma ({self.sigma}) for ncsn")
        if not 0 <= self.ema < 1:
            bad("ema", "must lie in [0, 1)")
        if not (math.isfinite(self.clip) and self.clip >= 0):
            bad("clip", "must be a finite number >= 0")

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
                typed[f.name] = float(v) if str(f.type) == "float" and isinstance(v, int) and not isinstance(v, bool) else v
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
