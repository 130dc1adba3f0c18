r"""Figures of 2D models and of images: density, score field, samples over data, loss curves, a grid comparing
objectives, and image grids.

=========================  ==================================================================================
:func:`energy_landscape`   the normalised density :math:`e^{-E}/Z` (or its log) as an image, data on top
:func:`score_field`        arrows along the score on a grid, coloured by its magnitude
:func:`samples_over_data`  a model's samples over the data, two colours and a legend
:func:`loss_curves`        loss against step, raw and smoothed, one panel per run
:func:`comparison_grid`    one column per objective (:class:`ColumnSpec`), one row per picture above
:func:`quality_curves`     quality against training time, one curve per method, log-log axes
:func:`image_grid`         images ``(n, c, h, w)`` as one grid; :func:`image_grids`: several grids side by side
=========================  ==================================================================================

Every function returns a :class:`matplotlib.figure.Figure`, draws on ``ax=`` where it takes one, and saves a PNG
when given ``path=``. matplotlib is imported only when a figure is drawn, with its Agg canvas: importing
``scorematch`` or this module imports no matplotlib, and no window ever opens. Models are ``Energy(net)``,
``Score(net)``, analytic targets or plain callables ``x -> E(x)`` / ``x -> s(x)``; bind a noise-conditional
model to a σ first (``lambda x: net(x, sigma)``).
"""

from .comparison import ColumnSpec, comparison_grid
from .curves import loss_curves, smooth
from .fields import energy_landscape, score_field
from .images import image_grid, image_grids, mosaic
from .quality import quality_curves
from .samples import samples_over_data

__all__ = ["ColumnSpec", "comparison_grid", "energy_landscape", "image_grid", "image_grids", "loss_curves", "mosaic",
           "quality_curves", "samples_over_data", "score_field", "smooth"]
