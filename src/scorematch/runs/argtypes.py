"""The command line's value types: each parses one option's text or raises ``argparse.ArgumentTypeError`` with a
one-line message (argparse turns it into exit code 2). Settings name their parser where they are declared
(:mod:`scorematch.runs.config`, :data:`scorematch.runs.registry.SETTINGS`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["count_or_zero", "default_text", "device", "fraction", "number", "off_or", "parser_for", "positive_int",
           "seed", "sigma"]


def integer_from(low: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


positive_int = integer_from(1, "a positive integer")
count_or_zero = integer_from(0, "an integer >= 0")


def seed(text: str) -> int:
    """A seed: an integer from 0 to 2⁶³ − 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 2^63 - 1, got {text}")
    return value


def device(text: str) -> str:
    """A torch device name: cpu, cuda, cuda:N, mps, …"""
    import torch

    try:
        return str(torch.device(text))
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"not a torch device: {text!r} (cpu, cuda, cuda:N)") from None


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def sigma(text: str) -> float | str:
    return "auto" if text == "auto" else number(text)


def fraction(text: str) -> float | None:
    value = number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value or None  # 0: nothing held out


def off_or(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse``, or ``None`` for ``off`` / ``none``."""
    def read(text: str) -> Any:
        return None if text.lower() in ("off", "none") else parse(text)

    return read


def default_text(value: Any) -> str:
    return "off" if value is None else format(value, "g") if isinstance(value, (int, float)) else str(value)


def parser_for(kind: Any) -> Callable[[str], Any]:
    """The parser of a setting's Python type: ``int`` a positive integer, ``float`` a number, ``float | str`` a number
    or ``auto``, ``float | None`` a number or ``off``, ``str`` the text."""
    parsers = {int: positive_int, float: number, float | str: sigma, float | None: off_or(number), str: str}
    if kind not in parsers:
        raise ValueError(f"no command-line parser for a setting of type {kind}")
    return parsers[kind]
