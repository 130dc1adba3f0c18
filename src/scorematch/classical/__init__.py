"""Score matching in closed form: exponential families whose score is linear in the parameters (``expfam``: the
Gaussian, a quadratic form, with an L1 penalty), Gaussian graphical models and their truncated kin (``ggm``: the
lasso path, its criteria) and independent component analysis (``ica``)."""

from . import expfam, ggm, ica

__all__ = ["expfam", "ggm", "ica"]
