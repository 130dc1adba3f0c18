"""Loaders for user files, ``.npy``/``.npz``/``.csv``, with one-line errors; see :mod:`scorematch.data`."""


from __future__ import annotations

import csv
import io
import itertools
import math
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .._infra.checks import check_count, check_memory
from .columns import _is_number, index_like, select_columns
from .digits import IMAGE_SETS, image_set
from .errors import DataError
from .toy import DATASETS, make_dataset

__all__ = ["FILE_TYPES", "DataError", "csv_header", "load_array", "load_data", "load_table"]

FILE_TYPES: tuple[str, ...] = (".npy", ".npz", ".csv")
"""File extensions :func:`load_array` reads."""


def _finish(array: np.ndarray, where: str, dtype: torch.dtype, lines: list[int] | None = None, min_rows: int = 2,
            columns: list[int] | None = None) -> Tensor:
    """Check an array read from ``where`` and return it as an ``(n, d)`` table or ``(n, c, h, w)`` images;
    ``lines[i]`` = file row of row i."""
    if array.dtype.kind not in "biuf":
        raise DataError(f"{where}: holds {array.dtype} values; need real numbers")
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim == 3:  # (n, h, w): grey images, one channel
        array = array[:, None]
    if array.ndim == 4 and array.shape[-1] in (1, 3, 4) and array.shape[1] >= 8:  # (n, h, w, c) with h >= 8
        raise DataError(f"{where}: images of shape {array.shape} look channels-last (n, h, w, c); store them channels "
                        "first, (n, c, h, w), e.g. with numpy's x.transpose(0, 3, 1, 2)")
    if array.ndim not in (2, 4):
        raise DataError(f"{where}: need a table (n samples, d columns) or images (n, c, h, w) or (n, h, w); got "
                        f"shape {array.shape}")
    if array.size == 0:
        raise DataError(f"{where}: empty array of shape {array.shape}")
    if array.shape[0] < min_rows:
        raise DataError(f"{where}: only {array.shape[0]} row; need at least {min_rows} samples")
    x = torch.from_numpy(np.asarray(array, dtype=np.float64)).to(dtype)
    bad = ~torch.isfinite(x)
    if bad.any():
        index = tuple(int(v) for v in bad.nonzero()[0])
        i = index[0]
        row = lines[i] if lines is not None else i + 1
        value = float(array[index])
        what = "overflows " + str(dtype).removeprefix("torch.") if math.isfinite(value) else "is not finite"
        if array.ndim == 4:
            raise DataError(f"{where}: image {row}, channel {index[1] + 1}, pixel ({index[2] + 1}, {index[3] + 1}): "
                            f"value {value!r} {what}")
        column = columns[index[1]] + 1 if columns is not None else index[1] + 1
        raise DataError(f"{where}: row {row}, column {column}: value {value!r} {what}")
    return x


def _read_numpy(path: Path, key: str | None) -> tuple[np.ndarray, str]:
    try:
        loaded = np.load(path, allow_pickle=False, mmap_mode="r")  # a .npy is mapped: its header is checked first
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            if key is not None:
                raise DataError(f"{path}: key={key!r} applies to .npz archives; this file holds one array")
            check_memory(f"{path}: an array of shape {loaded.shape}", 2 * loaded.size * 8, "use a smaller file")
            return np.array(loaded), str(path)  # read into memory (the map is read-only)
        with loaded:
            keys = list(loaded.files)
            if key is None and len(keys) != 1:
                if not keys:
                    raise DataError(f"{path}: the archive holds no arrays")
                raise DataError(f"{path}: the archive holds {len(keys)} arrays ({', '.join(keys)}); pass key= one of them")
            key = keys[0] if key is None else key
            if key not in keys:
                raise DataError(f"{path}: no array {key!r} in the archive; it holds: {', '.join(keys)}")
            array = loaded[key]
            if not isinstance(array, np.ndarray):
                raise DataError(f"{path}[{key}]: not a NumPy array (the member is not a .npy file)")
            return array, f"{path}[{key}]"
    except MemoryError as exc:
        raise DataError(f"{path}: too large to load ({' '.join(str(exc).split())})") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, DataError):
            raise
        reason = " ".join(str(exc).split())
        raise DataError(f"{path}: not a readable NumPy file of numbers ({reason})") from None


def _sniff(lines: Iterable[str], given: str | None) -> str:
    """The delimiter: ``given``, else what :class:`csv.Sniffer` finds among ``, ; tab |`` in the first 20 non-blank
    ``lines`` (a comma when it finds none, e.g. a single column)."""
    if given is not None:
        if len(given) != 1:
            raise DataError(f"the delimiter must be one character, got {given!r}")
        return given
    try:
        sample = "\n".join(itertools.islice((line for line in lines if line.strip()), 20))
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def csv_header(path: str | Path, delimiter: str | None = None) -> list[str] | None:
    """The column names of a CSV file's header row (``None`` when its first row is numbers), as :func:`load_table`
    reads them (index-like columns included); reads only the first lines. :func:`~scorematch.data.match_columns`
    finds a run's columns among them, up to case."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = [line.rstrip("\r\n") for line in itertools.islice((line for line in f if line.strip()), 20)]
    except (OSError, UnicodeDecodeError):
        return None
    if not lines:
        return None
    first = next(csv.reader([lines[0]], delimiter=_sniff(lines, delimiter)))
    return None if any(_is_number(c) for c in first) else [c.strip() for c in first]


def _read_csv(path: Path, dtype: torch.dtype, min_rows: int, columns: Sequence[str | int] | None,
              delimiter: str | None) -> tuple[Tensor, list[str] | None]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start + 1})") from None
    delimiter = _sniff(text.splitlines(), delimiter)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            if any(c.strip() for c in cells):          # blank lines are skipped but keep their row numbers
                rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise DataError(f"{path}: row {reader.line_num}: {exc}") from None
    if not rows:
        raise DataError(f"{path}: empty file")
    header = not any(_is_number(c) for c in rows[0][1])
    names = [c.strip() for c in rows[0][1]] if header else None
    width, data = len(rows[0][1]), rows[1:] if header else rows
    if not data:
        raise DataError(f"{path}: only a header row, no data")
    for line, cells in data:
        if len(cells) != width:
            got = f"{len(cells)} column" + ("" if len(cells) == 1 else "s")
            sep = {"\t": "tab"}.get(delimiter, repr(delimiter))
            raise DataError(f"{path}: row {line} has {got}, expected {width} (as row {rows[0][0]}; delimiter {sep})")
    chosen, left_out = select_columns(columns, names, width, str(path),
                                      lambda: index_like(names, [cells for _, cells in data], width))

    def label(j: int, number: str = "column ") -> str:
        return names[j] if names and names[j] else f"{number}{j + 1}"

    try:
        array = np.array([[cells[j] for j in chosen] for _, cells in data], dtype=np.str_).astype(np.float64)
    except ValueError as exc:
        for line, cells in data:
            for j in chosen:
                if not _is_number(cells[j]):
                    what = f"column {j + 1}" + (f" ({names[j]!r})" if names else "")
                    hint = (f"; choose the numeric columns with columns= (--columns), e.g. --columns=-{label(j, '')} "
                            "leaves this one out") if left_out is not None else ""
                    raise DataError(f"{path}: row {line}, {what}: {cells[j].strip()!r} is not a number{hint}") from None
        raise DataError(f"{path}: cannot read the numbers ({' '.join(str(exc).split())})") from None
    x = _finish(array, str(path), dtype, lines=[line for line, _ in data], min_rows=min_rows, columns=chosen)
    if left_out:
        many = f"{len(left_out)} index-like column" + ("s" if len(left_out) > 1 else "")
        warnings.warn(f"{path}: left out {many} ({', '.join(map(label, left_out))}); name them in columns= "
                      "(--columns) to keep them", stacklevel=3)
    return x, [names[j] for j in chosen] if names else None


def load_table(path: str | Path, *, key: str | None = None, columns: Sequence[str | int] | None = None,
               delimiter: str | None = None, dtype: torch.dtype = torch.float32, min_rows: int = 2
               ) -> tuple[Tensor, list[str] | None]:
    """Read an ``(n, d)`` data array and its column names (``None`` without a header) from a ``.npy``, ``.npz``
    or ``.csv`` file, or images ``(n, c, h, w)`` from a NumPy file.

    * ``.npy``: one numeric array. ``.npz``: the only array, or the one named ``key`` (e.g. ``x_train`` of a
      keras-style ``mnist.npz``). Arrays ``(n, c, h, w)`` are images, channels first as in PyTorch; ``(n, h, w)``
      are grey images and get one channel, ``(n, 1, h, w)``.
    * ``.csv``: one sample per line, the delimiter (``, ; tab |``) detected or given as ``delimiter``; the first
      line is a header — the column names — when none of its cells is a number. Blank lines are skipped.
    * ``columns``: the columns to keep, in that order (a sequence; ``--columns`` splits ``A,B`` at commas). Each entry
      is a header name — exact, else up to case when only one name matches —, a column number counted from 1 (as in
      the error messages and in a spreadsheet), a range ``2-5`` of numbers (inclusive), or any of these after ``!``
      or ``-`` to leave it out (``!class``, ``-class``, ``-1``, ``!2-4``; a header name that itself starts with
      ``-`` is that column). With only exclusions, every column is kept but the index-like ones and those;
      with inclusions, the inclusions less the exclusions. The result must be one or more distinct columns.
      Columns not kept, e.g. a date, are never read as numbers.
    * Index-like columns are left out when ``columns`` is ``None`` or only exclusions, with one warning that names
      them (name them in ``columns`` to keep them). With a header, a column is index-like when its name is empty or
      one of ``rownames``, ``index``, ``unnamed: 0``, ``id``, ``row``, ``row.names``, ``date``, ``time``,
      ``datetime``, ``timestamp``, ``year``, ``month``, ``day``, ``quarter``, ``period`` (any case; also pandas'
      ``Unnamed: N``); or its cells are ISO dates or times (``1991-01-02``, ``1991-01``, ``1991-01-02 10:30``,
      ``10:30``), not numbers; or it is the first column and holds row numbers (strictly increasing integers, 2 rows
      or more) or row names (distinct non-empty labels, not all numbers, as R writes ``"Mazda RX4"``). Without a
      header only date and time columns are. A table whose every column is index-like keeps them all. Other
      non-numeric columns are an error that says how to leave them out.
    * A 1-D array is read as ``n`` samples of one column, shape ``(n, 1)``; arrays of 5 or more dimensions,
      fewer than 2 rows, non-numeric or non-finite cells and ragged rows are refused.

    Raises:
        DataError: one line naming the file (and ``[key]`` of an archive), and where it applies the row and
            column (of images: image, channel and pixel), all 1-based. In a CSV file, row ``r`` is line ``r`` of
            the file: the header, when present, is row 1, and blank lines count. In a NumPy array, row ``r`` is
            ``array[r - 1]``.

    Warns:
        UserWarning: ``"FILE: left out 2 index-like columns (rownames, time); name them in columns= (--columns) to
            keep them"``, once per read that leaves columns out.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FILE_TYPES:
        raise DataError(f"{path}: unknown file type {suffix or '(no extension)'!r}; use one of {', '.join(FILE_TYPES)}")
    if not path.is_file():
        looping = path.is_symlink() and not path.exists()
        raise DataError(f"{path}: " + ("a broken or looping symbolic link" if looping else
                                       "not a file" if path.exists() else "no such file"))
    if suffix == ".csv":
        if key is not None:
            raise DataError(f"{path}: key={key!r} applies to .npz archives only")
        return _read_csv(path, dtype, min_rows, columns, delimiter)
    if delimiter is not None:
        raise DataError(f"{path}: a delimiter applies to .csv files only")
    array, where = _read_numpy(path, key)
    if columns is not None:
        if array.ndim != 2:
            raise DataError(f"{where}: columns= needs a 2-D array; got shape {array.shape}")
        array = array[:, select_columns(columns, None, array.shape[1], str(path))[0]]
    return _finish(array, where, dtype, min_rows=min_rows), None


def load_array(path: str | Path, *, key: str | None = None, columns: Sequence[str | int] | None = None,
               delimiter: str | None = None, dtype: torch.dtype = torch.float32, min_rows: int = 2) -> Tensor:
    """The array of :func:`load_table`, without the column names."""
    return load_table(path, key=key, columns=columns, delimiter=delimiter, dtype=dtype, min_rows=min_rows)[0]


def load_data(
    spec: str | Path,
    *,
    n: int | None = None,
    generator: torch.Generator | None = None,
    key: str | None = None,
    columns: Sequence[str | int] | None = None,
    delimiter: str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """A built-in set by name (``n`` points, 10 000 if ``n`` is None; an image set: its training split, or ``n`` of
    its images) or a file (all rows, or ``n`` of them drawn without replacement with ``generator``); shape
    ``(n, d)``, or ``(n, c, h, w)`` for images.

    >>> load_data("8gaussians", n=3, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([3, 2])
    """
    if isinstance(spec, str) and spec in DATASETS:
        return make_dataset(spec, 10_000 if n is None else n, generator=generator, dtype=dtype)
    path = Path(spec)
    if isinstance(spec, str) and spec in IMAGE_SETS:
        x = image_set(spec, generator=generator, dtype=dtype)
    elif path.suffix.lower() not in FILE_TYPES and not path.exists():
        raise DataError(f"unknown data set or file {str(spec)!r}: choose one of {', '.join((*DATASETS, *IMAGE_SETS))} "
                        f"or a {', '.join(FILE_TYPES)} file")
    else:
        x = load_array(path, key=key, columns=columns, delimiter=delimiter, dtype=dtype)
    if n is None:
        return x
    check_count("n", n)
    if n > x.shape[0]:
        raise DataError(f"{spec}: n={n} samples asked for, it has {x.shape[0]}")
    return x[torch.randperm(x.shape[0], generator=generator)[:n]]

