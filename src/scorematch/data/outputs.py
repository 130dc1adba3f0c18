"""Writing what a run produces — samples, and scores, energies and log-densities at points — as ``.npy`` / ``.npz``
or ``.csv`` by the file's suffix, atomically (a temporary file, then a rename: a failed command writes nothing)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from torch import Tensor

from .._infra.checkpoint import atomic_write

__all__ = ["check_output", "save_array", "write_columns"]


def check_output(path: str | Path, suffixes: tuple[str, ...]) -> Path:
    """``path`` as a ``Path`` if it ends in one of ``suffixes`` and its folder exists; else a one-line
    ``ValueError``."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise ValueError(f"--out {path}: the file name must end in {' or '.join(suffixes)}")
    if not p.parent.exists():
        raise ValueError(f"--out {path}: the folder {p.parent} does not exist")
    return p


def save_array(path: str | Path, array: Tensor | np.ndarray | dict[str, Tensor]) -> None:
    """Write a ``.npy`` (one array) or ``.npz`` (a dict of arrays) atomically."""
    buffer = io.BytesIO()
    if isinstance(array, dict):
        np.savez(buffer, **{k: np.asarray(v) for k, v in array.items()})
    else:
        np.save(buffer, np.asarray(array))
    atomic_write(path, buffer.getvalue())


def write_columns(path: str | Path, columns: dict[str, np.ndarray]) -> None:
    """Write equal-length columns as a CSV file with a header row (full float64 precision), atomically.

    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "s.csv")
    >>> write_columns(f, {"AAPL": np.array([0.5, 1.0]), "MSFT": np.array([2.0, -1.0])})
    >>> open(f).read().splitlines()
    ['AAPL,MSFT', '0.5,2.0', '1.0,-1.0']
    """
    names = list(columns)
    table = np.stack([np.asarray(columns[n], dtype=np.float64).reshape(-1) for n in names], 1)
    lines = [",".join(names)] + [",".join(repr(float(v)) for v in row) for row in table]
    atomic_write(path, "\n".join(lines) + "\n")
