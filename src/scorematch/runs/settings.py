"""A setting that an objective, a model kind or a sampler reads by name (:class:`Setting`), and the checks their
values share. Every setting is declared once, in the room of what reads it: the objectives' in
:mod:`~scorematch.runs.objectives`, a model kind's with the kind (:attr:`ModelKind.settings
<scorematch.runs.model_kinds.ModelKind>`); :data:`scorematch.runs.registry.SETTINGS` gathers them, and the run
settings (:class:`~scorematch.runs.config.TrainConfig`), their command-line options and their checks follow from
there."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Setting", "count", "fraction", "non_negative", "positive"]


@dataclass(frozen=True)
class Setting:
    """A setting an objective or a model kind reads, by name: ``type`` is ``int``, ``float``, ``float | str`` (a number
    or ``"auto"``), ``float | None`` (``None``: off) or ``str``, from which the command line's parser follows
    (:func:`scorematch.runs.argtypes.parser_for`); ``check(value)`` says why a value is bad (``None``: it is fine)."""

    name: str
    help: str
    default: Any
    type: Any = float
    check: Callable[[Any], str | None] | None = None


def positive(value: Any) -> str | None:
    return None if isinstance(value, (int, float)) and math.isfinite(value) and value > 0 else "must be a finite number > 0"


def count(value: Any) -> str | None:
    return None if value >= 1 else "must be >= 1"


def fraction(value: Any) -> str | None:
    return None if 0 <= value <= 1 else "must lie in [0, 1]"


def non_negative(value: Any) -> str | None:
    return None if math.isfinite(value) and value >= 0 else "must be a finite number >= 0"
