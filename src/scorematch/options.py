"""The command line's option types and the options built from the table of names: one-line messages for bad
values (argparse turns them into exit code 2)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["add_file_options", "add_settings", "choices_help", "count_or_zero", "fraction", "names", "number",
           "off_or", "positive_int"]


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


SETTING_TYPES: dict[str, Callable[[str], Any]] = {"int": positive_int, "float": number, "float | str": sigma,
                                                   "float | None": off_or(number), "str": str}


def default_text(value: Any) -> str:
    return "off" if value is None else format(value, "g") if isinstance(value, (int, float)) else str(value)


def choices_help(entries: list[Any]) -> str:
    return "; ".join(f"{e.name}: {e.help}" for e in entries)


def names(text: str) -> tuple[str, ...]:
    """Comma-separated column names or numbers."""
    out = tuple(c.strip() for c in text.split(",") if c.strip())
    if not out:
        raise argparse.ArgumentTypeError(f"expected comma-separated column names or numbers, got {text!r}")
    return out


def add_settings(parser: argparse.ArgumentParser) -> None:
    """One option per entry of :data:`scorematch.registry.SETTINGS` (``--fd-step``), left out unless given."""
    from .registry import SETTINGS

    for setting in SETTINGS.entries():
        parser.add_argument("--" + setting.name.replace("_", "-"), type=SETTING_TYPES[setting.type],
                            default=argparse.SUPPRESS, metavar=setting.name.upper(),
                            help=f"{setting.help} (default: {default_text(setting.default)})")


def add_file_options(parser: argparse.ArgumentParser) -> None:
    """``--columns``, ``--delimiter`` and ``--key``: how a data file is read (kept in the run's settings)."""
    parser.add_argument("--columns", type=names, default=argparse.SUPPRESS, metavar="A,B",
                        help="the file's columns to use: header names, or numbers from 1 (default: all)")
    parser.add_argument("--delimiter", default=argparse.SUPPRESS, metavar="C",
                        help="a CSV file's delimiter (default: detected)")
    parser.add_argument("--key", default=argparse.SUPPRESS, metavar="NAME",
                        help="the array of an .npz file that holds several")
