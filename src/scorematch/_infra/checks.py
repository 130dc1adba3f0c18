"""Validation of numeric options: one line, naming the option and the value it got."""

from __future__ import annotations

import math
import os

__all__ = ["check_choice", "check_count", "check_memory", "check_positive", "memory_bytes"]


def memory_bytes() -> int | None:
    """The memory free on this machine now, in bytes (``None`` where the system does not say)."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))  # free now, not installed
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(what: str, n_bytes: float, hint: str) -> None:
    """Raise ``ValueError`` (one line, with ``hint``) when ``what`` needs more than the memory free now: checked
    before allocating, so that an absurd size is an error, not a crash or a swap storm."""
    total = memory_bytes()
    if total is not None and n_bytes > total:
        raise ValueError(f"{what} needs about {_size(n_bytes)}, more than the {_size(total)} of memory free; "
                         f"{hint}")


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} EB"  # pragma: no cover


def check_positive(name: str, value: float) -> float:
    """Return ``value`` as a float if it is finite and > 0, else raise ``ValueError``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def check_count(name: str, value: int) -> int:
    """Return ``value`` if it is an integer ≥ 1, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` listing them."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")
    return value
