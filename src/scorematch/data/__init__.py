r"""Data: the built-in 2D sets, loaders for ``.npy``/``.npz``/``.csv`` files, and standardization.

Built-in sets (:data:`DATASETS`, :func:`make_dataset`), each within about :math:`[-4, 4]^2`:

==================  ============================================================================================
``8gaussians``      :func:`~scorematch.models.analytic.eight_gaussians`: 8 Gaussians, std 0.2, on a circle of radius 2
``checkerboard``    uniform on the 8 dark squares of a 4 × 4 board of side-2 squares covering :math:`[-4, 4]^2`
``swissroll``       :math:`(t\cos t, t\sin t)/5` with :math:`t \sim U(1.5\pi, 4.5\pi)`, plus N(0, 0.2²) noise
``pinwheel``        5 curved arms: radius N(2, 0.6²), tangential N(0, 0.2²), angle twisted by :math:`0.25 e^{r/2}`
``2spirals``        two interleaved spirals of 1.5 turns, :math:`t = 3\pi\sqrt u`, plus N(0, 0.1²) noise
``rings``           :func:`~scorematch.models.analytic.rings`: 4 rings of radii 0.75 … 3, width 0.08
``moons``           two interleaved half circles of radius 2, plus N(0, 0.2²) noise
``circles``         :func:`~scorematch.models.analytic.circles`: rings of radii 2 and 1, width 0.1
==================  ============================================================================================

The sets named in :data:`~scorematch.models.analytic.ANALYTIC` are drawn from those targets, so their exact
density and score are known. Every point is drawn independently (its component too), in float64 on the CPU
from the given ``torch.Generator``, then cast: the same seed gives the same data bit for bit.

Images: :func:`digits` gives scikit-learn's handwritten digits as ``(n, 1, 8, 8)`` images in [0, 1] (or resized to
28×28, an MNIST-sized stand-in for cost studies), with a fixed train/test split and optional dequantization; the
built-in image sets :data:`IMAGE_SETS` (``digits``, ``digits28``) are them dequantized (:func:`image_set`).
:data:`BUILTIN` names every built-in set, 2-D and images.

Files: :func:`load_table` reads an ``(n, d)`` array and its column names — the columns chosen by name, number, range
or exclusion, index-like columns (row names, dates) left out by default, the CSV delimiter detected — or images
``(n, c, h, w)`` from a NumPy file, and :func:`load_array` the array alone (:func:`match_columns` finds a run's
columns in a wider header, up to case); both raise :class:`DataError` with one line naming the file and, where it
applies, the row and column.
:class:`Standardizer` maps data to zero mean and unit variance (per column, per channel of images, or globally) and
maps densities and scores learned on the standardized scale back to data units.

Ties: :func:`find_ties` finds the repeated values of a table (ties at its resolution, and atoms such as a return of
exactly 0) and :func:`spread_ties` spreads them by a stated rule, so that exact score matching cannot reward a spike.
"""

from .columns import match_columns
from .digits import IMAGE_SETS, digit_labels, digits, image_set
from .files import FILE_TYPES, DataError, csv_header, load_array, load_data, load_table
from .standardize import Standardizer
from .ties import ColumnTies, find_ties, spread_ties
from .toy import DATASETS, make_dataset

BUILTIN: tuple[str, ...] = (*DATASETS, *IMAGE_SETS)
"""Every built-in data set: the 2-D sets, then the image sets."""

__all__ = ["BUILTIN", "DATASETS", "FILE_TYPES", "IMAGE_SETS", "ColumnTies", "DataError", "Standardizer", "csv_header",
           "digit_labels", "digits", "find_ties", "image_set", "load_array", "load_data", "load_table", "make_dataset",
           "match_columns", "spread_ties"]
