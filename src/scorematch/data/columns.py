"""Which columns of a table are read: the ``columns`` choice (names, numbers, ranges, exclusions) and the index-like
columns left out by default; see :func:`scorematch.data.load_table` for the rules."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, time

from .errors import DataError

__all__ = ["INDEX_NAMES", "index_like", "match_columns", "select_columns"]

INDEX_NAMES: frozenset[str] = frozenset({
    "", "rownames", "index", "unnamed: 0", "id", "row", "row.names", "date", "time", "datetime", "timestamp",
    "year", "month", "day", "quarter", "period"})
"""Header names (compared in lower case, stripped) of columns that label the rows rather than measure them."""

_RANGE = re.compile(r"(\d+)\s*-\s*(\d+)", re.ASCII)
_NUMBER = re.compile(r"\d+", re.ASCII)
_YEAR_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_TIME_OF_DAY = re.compile(r"T?\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_time(cell: str) -> bool:
    """An ISO 8601 date or date-time (``1991-01-02``, ``1991-01-02 10:30:00+01:00``), a year-month (``1991-01``) or a
    time of day (``10:30``, ``10:30:15.5``) — never a number."""
    cell = cell.strip()
    if not cell or _is_number(cell):
        return False
    if _YEAR_MONTH.fullmatch(cell):
        return True
    parse = time.fromisoformat if _TIME_OF_DAY.fullmatch(cell) else datetime.fromisoformat
    try:
        parse(cell)
    except ValueError:
        return False
    return True


def _row_labels(cells: Sequence[str]) -> bool:
    """Row numbers (2 or more strictly increasing integers, ``1.0`` counts) or row names (distinct non-empty labels,
    not all numbers)."""
    cells = [c.strip() for c in cells]
    if not all(_is_number(c) for c in cells):
        return all(cells) and len(set(cells)) == len(cells)
    values = [float(c) for c in cells]
    return len(values) >= 2 and all(v.is_integer() for v in values) and all(map(float.__lt__, values, values[1:]))


def index_like(names: Sequence[str] | None, rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """0-based indices of the columns that label rows rather than measure them, left out unless chosen.

    With a header (``names``), column ``j`` is index-like when its name is empty or in :data:`INDEX_NAMES`
    (``rownames``, ``time``, ``date``, …; case-insensitive; also pandas' ``Unnamed: N``), or its cells are dates or
    times (ISO 8601, not numbers), or it is the first column and holds row numbers (2 or more strictly increasing
    integers) or row names (distinct non-empty labels, not all numbers: R's ``Mazda RX4``). Without a header only
    date/time columns are. ``rows`` are the data rows' cells (the header excluded), ``width`` cells each.

    >>> index_like(["", "x", "y"], [["1", "0.5", "1991-01-02"], ["2", "0.1", "1991-01-03"]], 3)
    [0, 2]
    """
    out = []
    for j in range(width):
        if names is not None:
            name = names[j].strip().lower()
            if (name in INDEX_NAMES or re.fullmatch(r"unnamed: \d+", name)
                    or (j == 0 and _row_labels([row[0] for row in rows]))):
                out.append(j)
                continue
        filled = (row[j] for row in rows if row[j].strip())
        first = next(filled, None)
        if first is not None and _is_time(first) and all(map(_is_time, filled)):
            out.append(j)
    return out


def _one(text: str, entry: str, names: Sequence[str] | None, width: int, where: str, leave_out: bool) -> list[int]:
    """0-based columns of one choice ``text`` (``entry`` as given, with its ``!``/``-``): a header name, a number
    from 1, a range ``a-b``, or a name up to case."""
    if names is not None and text in names:
        return [list(names).index(text)]
    span = _RANGE.fullmatch(text)
    if span or _NUMBER.fullmatch(text):
        a, b = (int(span[1]), int(span[2])) if span else (int(text), int(text))
        if a > b:
            raise DataError(f"{where}: column range {entry!r} runs backwards; write it {b}-{a}")
        for number in (a, b):
            if not 1 <= number <= width:
                of = f" (in {entry!r})" if span or leave_out else ""
                raise DataError(f"{where}: column {number}{of} does not exist; the file has {width} (numbered from 1)")
        return list(range(a - 1, b))
    if names is not None:
        alike = [j for j, name in enumerate(names) if name.casefold() == text.casefold()]
        spellings = sorted({names[j] for j in alike})
        if len(spellings) > 1:
            raise DataError(f"{where}: column {entry!r} matches {' and '.join(map(repr, spellings))}, which differ only "
                            "by case; write one exactly")
        if alike:
            return alike[:1]
    known = (f"its columns are: {', '.join(n or f'(column {j + 1}, no name)' for j, n in enumerate(names))}" if names
             else "it has no header: give column numbers")
    what = f"no column {text!r} to leave out ({entry!r})" if leave_out else f"no column {entry!r}"
    raise DataError(f"{where}: {what}; {known}")


def _entry(c: str | int, names: Sequence[str] | None, width: int, where: str) -> tuple[bool, list[int]]:
    """``(leave_out, columns)`` of one entry of a ``columns`` choice."""
    if not isinstance(c, str):
        try:
            number = int(c)
        except (TypeError, ValueError):
            raise DataError(f"{where}: no column {c!r}; give header names or numbers from 1") from None
        if not 1 <= number <= width:
            raise DataError(f"{where}: column {number} does not exist; the file has {width} (numbered from 1)")
        return False, [number - 1]
    text = c.strip()
    if names is not None and text in names:  # an exact name wins, even one that starts with '-'
        return False, [list(names).index(text)]
    if text[:1] not in ("!", "-"):
        return False, _one(text, text, names, width, where, leave_out=False)
    rest = text[1:].strip()
    if not rest:
        raise DataError(f"{where}: column entry {text!r} names no column to leave out")
    try:
        return True, _one(rest, text, names, width, where, leave_out=True)
    except DataError:
        if names is not None and any(n.casefold() == text.casefold() for n in names):  # '-X' naming a column '-x'
            return False, _one(text, text, names, width, where, leave_out=False)
        raise


def select_columns(spec: Sequence[str | int] | None, names: Sequence[str] | None, width: int, where: str,
                   automatic: Callable[[], Sequence[int]] | None = None) -> tuple[list[int], list[int] | None]:
    """The chosen columns, 0-based and in order, and the index-like columns left out by the automatic rule (``None``
    when it does not apply: the choice includes columns).

    ``spec`` entries: a header name (exact, else up to case when that is unambiguous), a column number from 1, a range
    ``a-b`` of numbers (inclusive), or any of these after ``!`` or ``-`` to leave it out (an exact header name that
    starts with ``-`` is that column). ``None`` or only exclusions: every column but those of ``automatic()`` (unless
    that is every column) and the exclusions; otherwise the inclusions, in order, less the exclusions. The result
    must be one or more distinct columns.

    >>> select_columns(["2-4", "!3"], ["a", "b", "c", "d"], 4, "t.csv")
    ([1, 3], None)
    >>> select_columns(["-B"], ["id", "a", "b"], 3, "t.csv", automatic=lambda: [0])
    ([1], [0])
    """
    if spec is not None and not spec:
        raise DataError(f"{where}: choose one or more distinct columns, got []")
    entries = [_entry(c, names, width, where) for c in (spec or ())]
    chosen = [j for leave, cols in entries if not leave for j in cols]
    excluded = {j for leave, cols in entries if leave for j in cols}
    left_out: list[int] | None = None
    if not any(not leave for leave, _ in entries):
        dropped = set(automatic()) if automatic is not None else set()
        dropped = dropped if len(dropped) < width else set()
        chosen = [j for j in range(width) if j not in dropped]
        left_out = sorted(dropped - excluded)
    kept = [j for j in chosen if j not in excluded]
    if not kept:
        raise DataError(f"{where}: choose one or more distinct columns, got {list(spec or ())!r}: none is left")
    twice = next((j for j, count in Counter(kept).items() if count > 1), None)
    if twice is not None:
        name = f" ({names[twice]!r})" if names else ""
        raise DataError(f"{where}: choose one or more distinct columns, got {list(spec or ())!r}: column {twice + 1}"
                        f"{name} is chosen twice")
    return kept, left_out


def match_columns(wanted: Sequence[str], header: Sequence[str] | None) -> list[str] | None:
    """The names of ``header`` that spell ``wanted`` (a run's columns), each exactly or else up to case when only one
    header name matches; ``None`` without a header or when one of ``wanted`` is missing or ambiguous. Pass the result
    as ``columns=`` to read those columns of a wider table by name.

    >>> match_columns(["aapl", "MSFT"], ["date", "MSFT", "AAPL", "GOOG"])
    ['AAPL', 'MSFT']
    >>> match_columns(["TSLA"], ["date", "AAPL"]) is None
    True
    """
    if header is None:
        return None
    out = []
    for name in wanted:
        if name in header:
            out.append(name)
            continue
        alike = {h for h in header if h.casefold() == name.casefold()}
        if len(alike) != 1:
            return None
        out.append(alike.pop())
    return out
