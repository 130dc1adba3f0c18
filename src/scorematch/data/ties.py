r"""Repeated values in a table — ties and atoms — and the rule that spreads them before a density is fitted.

A continuous density gives a repeated value probability zero, yet real tables are full of them: measurements
recorded to one decimal, counts, a return of exactly 0 on a holiday, a concavity of exactly 0. Exact score
matching rewards a spike at such a value without bound (the held-out Hyvärinen loss falls with it, since the
held-out rows hold the same ties), so a model fitted to raw ties can put all its mass into a spike. The rule, per
column, on the sorted distinct values :math:`u_1 < \dots < u_K` with multiplicities :math:`k_j`:

* **ties at the resolution.** A repeated value :math:`u_j` whose multiplicity is not far above its neighbours'
  (the values recorded on a grid: integers, one decimal) moves by :math:`U(-h_j/2, h_j/2)`, :math:`h_j` the local
  spacing (the median gap between consecutive distinct values among :math:`u_{j-5} \dots u_{j+5}`): on a grid of
  step :math:`h` this is :math:`h`, the uniform dequantization of images.
* **atoms.** A value repeated :math:`k_j \ge 3` times and more than ``ATOM_RATIO`` times the median multiplicity of
  those neighbours (0 among continuous returns) is a point mass. Its :math:`k_j` copies are spread uniformly over
  the width :math:`w_j = k_j / \rho_j` that as many points take at the neighbours' density :math:`\rho_j` (their
  counts over their span): the atom becomes a bump of about twice the local density, never a spike. At the edge
  of the column (its least or greatest value, e.g. a concavity of 0) the spread goes inwards only.

Values that occur once never move, and neither does a constant column (standardizing refuses it) nor a value
whose spread would pass float64's range. The noise is drawn once, from the run's seed, so a run is reproducible;
what was done is recorded per column (:class:`ColumnTies`) in the run's ``data_stats.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["ATOM_RATIO", "ColumnTies", "find_ties", "spread_ties"]

ATOM_RATIO = 5.0
"""A value repeated more than this many times its neighbours' median multiplicity (and at least 3 times) is an atom."""
NEIGHBOURS = 5


@dataclass(frozen=True)
class ColumnTies:
    """The ties of one column: its index and name, the share of rows whose value repeats another row's
    (``share``), whether every value is a whole number (``integer``), the number of distinct values, and the atoms
    as ``(value, count, width)``."""

    column: int
    name: str
    share: float
    integer: bool
    distinct: int
    atoms: tuple[tuple[float, int, float], ...] = ()

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {**asdict(self), "atoms": [list(a) for a in self.atoms]}

    def describe(self) -> str:
        """A few words: ``"DAX 3.9% tied (atom at 0: 58 rows)"``."""
        kind = "whole numbers, " if self.integer else ""
        atoms = "; ".join(f"atom at {v:g}: {k} rows" for v, k, _ in self.atoms[:2])
        more = f" +{len(self.atoms) - 2}" if len(self.atoms) > 2 else ""
        return f"{self.name} {self.share:.1%} tied ({kind}{self.distinct} values" + (f"; {atoms}{more})" if atoms else ")")


def _local(values: np.ndarray, counts: np.ndarray, j: int) -> tuple[float, float, float]:
    """The local spacing and median multiplicity of the ``NEIGHBOURS`` distinct values on each side of value j, and
    the density (rows per unit) of the ``m = clip(K/20, NEIGHBOURS, 50)`` on each side: the rows strictly inside
    their span over the span."""
    lo, hi = max(0, j - NEIGHBOURS), min(len(values), j + NEIGHBOURS + 1)
    around = [i for i in range(lo, hi) if i != j]
    gaps = np.diff(values[lo:hi])
    spacing = float(np.median(gaps)) if len(gaps) else 1.0
    if not around:
        return spacing, 1.0, 1.0 / spacing
    mult = float(np.median(counts[around]))
    m = int(np.clip(len(values) // 20, NEIGHBOURS, 50))
    lo, hi = max(0, j - m), min(len(values) - 1, j + m)
    inside = np.r_[lo + 1:j, j + 1:hi]
    span = float(values[hi] - values[lo])
    if len(inside) < 2 or span <= 0:
        return spacing, mult, 1.0 / spacing
    density = float(counts[inside].sum()) / span
    return spacing, mult, density


def _plan(column: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, float, float, bool]]]:
    """Distinct values, the index of each row's value among them, multiplicities, and for each repeated value
    ``(j, low, width, atom)``: its copies go to ``low + width·U``."""
    with np.errstate(over="ignore", invalid="ignore"):  # gaps past float64's range (data near 1e308): inf
        return _plan_finite(column)


def _plan_finite(column: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, float, float, bool]]]:
    values, inverse, counts = np.unique(column, return_inverse=True, return_counts=True)
    moves = []
    if len(values) < 2:  # a constant column is not spread: it cannot be standardized, and is refused as such
        return values, inverse, counts, moves
    for j in np.flatnonzero(counts > 1):
        spacing, mult, density = _local(values, counts, int(j))
        k, v = int(counts[j]), float(values[j])
        atom = k >= 3 and k > ATOM_RATIO * mult
        if atom:  # as wide as k points at the neighbours' density
            width = k / density
            low = v if j == 0 else (v - width if j == len(values) - 1 else v - width / 2)
        else:
            width, low = spacing, v - spacing / 2
        moves.append((int(j), low, width, atom))
    return values, inverse, counts, moves


def find_ties(x: Tensor | np.ndarray, names: list[str] | None = None) -> list[ColumnTies]:
    """The columns of a table ``(n, d)`` that hold repeated values, with their atoms (see the module docstring);
    columns without ties are left out.

    >>> a = [0.0] * 6 + [0.3, 1.2, 0.7, 2.0, -0.4, -1.1]             # six zeros among single values: an atom
    >>> b = [1.0, 2.0, 3.0] * 4                                          # whole numbers, each four times: ties
    >>> [(t.name, round(t.share, 3), t.integer, [a[:2] for a in t.atoms]) for t in find_ties(np.array([a, b]).T)]
    [('x1', 0.417, False, [(0.0, 6)]), ('x2', 0.75, True, [])]
    """
    array = np.asarray(x, dtype=np.float64)
    out = []
    for c in range(array.shape[1]):
        column = array[:, c]
        values, _, counts, moves = _plan(column)
        if not moves:
            continue
        atoms = tuple((float(values[j]), int(counts[j]), float(w)) for j, _, w, atom in moves if atom)
        out.append(ColumnTies(c, names[c] if names else f"x{c + 1}", float(1 - len(values) / len(column)),
                              bool(np.all(values == np.round(values))), len(values), atoms))
    return out


def spread_ties(x: Tensor, generator: torch.Generator) -> Tensor:
    """``x`` ``(n, d)`` with every repeated value spread by the module docstring's rule (values that occur once
    unchanged); the same ``generator`` state gives the same result.

    >>> x = torch.tensor([[1.0], [1.0], [2.0], [3.0], [3.0], [4.0]], dtype=torch.float64)
    >>> y = spread_ties(x, torch.Generator().manual_seed(0))
    >>> bool((y - x).abs().max() <= 0.5) and len(set(y[:, 0].tolist())) == 6
    True
    """
    out = x.clone()
    array = x.detach().cpu().double().numpy()
    for c in range(array.shape[1]):
        _, inverse, _, moves = _plan(array[:, c])
        order = np.argsort(inverse, kind="stable")
        starts = np.searchsorted(inverse[order], np.arange(inverse.max() + 2))
        for j, low, width, _ in moves:
            rows = torch.from_numpy(order[starts[j]:starts[j + 1]])
            u = torch.rand(len(rows), generator=generator, dtype=torch.float64)
            spread = low + width * u
            if torch.isfinite(spread.to(out.dtype)).all():  # near float64's limit a value stays where it is
                out[rows, c] = spread.to(out.dtype)
    return out
