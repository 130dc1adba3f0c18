"""Standardization that remembers its statistics; see :mod:`scorematch.data`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["SCALES", "Standardizer"]

SCALES = ("column", "channel", "global", "whiten")
"""How :meth:`Standardizer.fit` pools: one mean and std per column of a table, per channel of images (pooled over
the pixels), or one for the whole array; ``"whiten"``: per column, then the columns decorrelated (tables)."""
EIGEN_FLOOR = 1e-6
"""Whitening: eigenvalues of the correlation matrix below this fraction of the largest are raised to it, so that an
exactly collinear column (a sum of others) still gives an invertible map."""


@dataclass(frozen=True)
class Standardizer:
    r"""Standardization :math:`z = (x - m)/s`, remembering :math:`m` (``mean``) and :math:`s` (``std``) for data of
    ``event_shape`` (``(d,)`` for a table, ``(c, h, w)`` for images).

    The statistics run along the first event axis and are shared by the others: ``d`` values for a table (one per
    column), ``c`` for images (one per channel, pooled over its pixels: a per-pixel scale would divide by the
    near-zero spread of the border pixels), or a single value for all (``"global"``).

    A density learned on :math:`z` maps back to data units by the change of variables
    :math:`\log p_x(x) = \log p_z\big((x-m)/s\big) - \sum_j \log s_j` over all :math:`D` coordinates, so
    :math:`\nabla_x \log p_x(x) = \nabla_z \log p_z(z) / s` (:meth:`score_to_data`),
    :meth:`log_prob_to_data` subtracts :math:`\sum_j \log s_j` and :meth:`energy_to_data` adds it.

    **Whitening** (``whiten``, a table's ``d × d`` matrix :math:`W`): after the columns are standardized,
    :math:`z = W u` with :math:`u = (x - m)/s` and :math:`W = U\Lambda^{-1/2}U^\top` from the correlation matrix
    :math:`C = U\Lambda U^\top` of the training rows (ZCA: :math:`z` has identity covariance and stays as close to
    :math:`u` as any whitening can), so a model learns only what is not Gaussian in the data — near-collinear
    columns (radius, perimeter, area) make :math:`C` nearly singular, a ridge no network of a few hundred rows
    finds alone. Then :math:`\log p_x(x) = \log p_z(z) - \sum_j \log s_j + \log\lvert\det W\rvert` and
    :math:`\nabla_x \log p_x = (W^\top \nabla_z \log p_z)/s`.

    ``mean`` and ``std`` are tuples of Python floats, so :meth:`to_dict` round-trips through JSON exactly.
    Every ``std`` must be finite and > 0: :meth:`fit` refuses a constant column rather than dividing by 0.

    >>> st = Standardizer.fit(torch.tensor([[0.0, 10.0], [2.0, 30.0]]))
    >>> st
    Standardizer(mean=(1.0, 20.0), std=(1.0, 10.0), event_shape=(2,), whiten=None)
    >>> st.transform(torch.tensor([[2.0, 0.0]]))
    tensor([[ 1., -2.]])
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    event_shape: tuple[int, ...] | None = None  # None: (len(mean),), a table
    whiten: tuple[tuple[float, ...], ...] | None = None  # W (d × d), tables only; None: no whitening

    def __post_init__(self) -> None:
        mean, std = tuple(float(v) for v in self.mean), tuple(float(v) for v in self.std)
        if not mean or len(mean) != len(std):
            raise ValueError(f"Standardizer: mean and std must be non-empty and of one length; got {len(mean)} "
                             f"and {len(std)} values")
        shape = (len(mean),) if self.event_shape is None else tuple(int(n) for n in self.event_shape)
        if not shape or any(n < 1 for n in shape) or len(mean) not in (1, shape[0]):
            raise ValueError(f"Standardizer: {len(mean)} mean/std values do not fit the event shape {shape} (one per "
                             f"entry of its first axis, or one for all)")
        for name, values in (("mean", mean), ("std", std)):
            for j, v in enumerate(values):
                if not math.isfinite(v) or (name == "std" and v <= 0):
                    need = "finite and > 0" if name == "std" else "finite"
                    raise ValueError(f"Standardizer: {name} must be {need} in every column; column {j + 1} has {v!r}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)
        object.__setattr__(self, "event_shape", shape)
        if self.whiten is not None:
            w = tuple(tuple(float(v) for v in row) for row in self.whiten)
            if len(shape) != 1 or len(w) != shape[0] or any(len(row) != shape[0] for row in w):
                raise ValueError(f"Standardizer: whiten must be a {shape[0]} × {shape[0]} matrix for a table of "
                                 f"{shape[0]} columns")
            matrix = torch.tensor(w, dtype=torch.float64)
            if not torch.isfinite(matrix).all() or torch.linalg.matrix_rank(matrix) < shape[0]:
                raise ValueError("Standardizer: whiten must be a finite, invertible matrix")
            object.__setattr__(self, "whiten", w)

    @classmethod
    def fit(cls, x: Tensor, per: str | None = None) -> Standardizer:
        """Means and (population, divide-by-n) standard deviations of ``x`` ``(n, *event_shape)`` in float64, computed
        on ``x / max|x|`` and scaled back, so that data of any magnitude float64 holds are standardized: ``per``
        ``"column"`` (a table ``(n, d)``, the default there), ``"channel"`` (images ``(n, c, …)``, the default
        there) or ``"global"``."""
        if x.ndim < 2 or x.shape[0] < 2:
            raise ValueError(f"Standardizer.fit: x must have shape (n, ...) with n >= 2; got {tuple(x.shape)}")
        per = per or ("column" if x.ndim == 2 else "channel")
        if per == "whiten":
            if x.ndim != 2:
                raise ValueError(f"Standardizer.fit: per='whiten' applies to tables (n, d); got shape {tuple(x.shape)}")
            columns = cls.fit(x, "column")
            return cls(columns.mean, columns.std, columns.event_shape, _zca(columns.transform(x.double())))
        if per not in SCALES or (per == "column" and x.ndim != 2) or (per == "channel" and x.ndim < 3):
            raise ValueError(f"Standardizer.fit: per={per!r} does not apply to data of shape {tuple(x.shape)}; use "
                             + ("'column' or 'global'" if x.ndim == 2 else "'channel' or 'global'"))
        x64 = x.detach().to(torch.float64)
        pooled = x64.reshape(-1, 1) if per == "global" else x64.transpose(0, 1).reshape(x.shape[1], -1).T
        top = pooled.abs().amax(0)
        scale = torch.where((top > 0) & top.isfinite(), top, torch.ones((), dtype=top.dtype))
        scaled = pooled / scale  # in [-1, 1]: no square over- or underflows for data near 1e±300
        mean, std = scale * scaled.mean(0), scale * scaled.std(0, correction=0)
        spread = pooled.amax(0) - pooled.amin(0)
        for j, s in enumerate(std.tolist()):
            if s == 0 and spread[j] > 0:  # e.g. values of 1e-300: their variance underflows
                raise ValueError(f"Standardizer.fit: column {j + 1} varies by less than float64 can standardize (values "
                                 f"about {mean[j].item():.3g}): rescale it")
            if s == 0:
                what = {"column": "column", "channel": "channel", "global": "the data"}[per]
                raise ValueError(f"Standardizer.fit: {what}{'' if per == 'global' else f' {j + 1}'} is constant "
                                 f"({mean[j].item()!r}); its std is 0, so it cannot be standardized: drop it")
        return cls(tuple(mean.tolist()), tuple(std.tolist()), tuple(x.shape[1:]))

    @classmethod
    def identity(cls, event_shape: int | Sequence[int]) -> Standardizer:
        """The standardization that changes nothing (mean 0, std 1) for data of ``event_shape`` (or ``d`` columns)."""
        shape = (event_shape,) if isinstance(event_shape, int) else tuple(event_shape)
        return cls((0.0,) * shape[0], (1.0,) * shape[0], shape)

    @property
    def dim(self) -> int:
        """Number of coordinates :math:`D` of one sample (``d`` for a table)."""
        return math.prod(self.event_shape)

    @property
    def log_scale(self) -> float:
        """:math:`\\sum_j \\log s_j - \\log\\lvert\\det W\\rvert` over the :math:`D` coordinates, the
        log-density offset between the two scales."""
        columns = math.fsum(math.log(s) for s in self.std) * (self.dim // len(self.std))
        if self.whiten is None:
            return columns
        return columns - float(torch.linalg.slogdet(torch.tensor(self.whiten, dtype=torch.float64))[1])

    def _matrix(self, like: Tensor, inverse: bool = False) -> Tensor:
        w = torch.tensor(self.whiten, dtype=torch.float64)
        return (torch.linalg.inv(w) if inverse else w).to(dtype=like.dtype, device=like.device)

    def _stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        k = len(self.event_shape)
        if x.ndim < k or tuple(x.shape[x.ndim - k:]) != self.event_shape:
            raise ValueError(f"Standardizer: expected samples of shape {self.event_shape} (the last {k} dimension"
                             f"{'s' if k > 1 else ''}); got shape {tuple(x.shape)}")
        opts = dict(dtype=x.dtype, device=x.device)
        view = (len(self.mean),) + (1,) * (k - 1)
        return torch.tensor(self.mean, **opts).view(view), torch.tensor(self.std, **opts).view(view)

    def transform(self, x: Tensor) -> Tensor:
        """:math:`z = (x - m)/s` (as :math:`x/s - m/s` where :math:`x - m` passes float's largest number)."""
        m, s = self._stats(x)
        z = (x - m) / s
        if not bool(torch.isfinite(z).all()):
            z = torch.where(torch.isfinite(z) | ~torch.isfinite(x), z, x / s - m / s)
        return z if self.whiten is None else z @ self._matrix(z).T

    def inverse(self, z: Tensor) -> Tensor:
        """:math:`x = m + s z`, the inverse of :meth:`transform` up to round-off."""
        m, s = self._stats(z)
        u = z if self.whiten is None else z @ self._matrix(z, inverse=True).T
        return u * s + m

    def score_to_data(self, score_z: Tensor) -> Tensor:
        """:math:`\\nabla_x \\log p_x(x) = \\nabla_z \\log p_z(z) / s` for a score evaluated at :math:`z`."""
        grad_u = score_z if self.whiten is None else score_z @ self._matrix(score_z)
        return grad_u / self._stats(score_z)[1]

    def log_prob_to_data(self, log_prob_z: Tensor) -> Tensor:
        """:math:`\\log p_x(x) = \\log p_z(z) - \\sum_j \\log s_j`."""
        return log_prob_z - self.log_scale

    def energy_to_data(self, energy_z: Tensor) -> Tensor:
        """:math:`E_x(x) = E_z(z) + \\sum_j \\log s_j` (for a normalised energy :math:`E = -\\log p`)."""
        return energy_z + self.log_scale

    def to_dict(self) -> dict[str, list[float] | list[int]]:
        """``{"mean": [...], "std": [...]}`` (and ``"event_shape"`` unless it is a table's ``(d,)``), exact through
        JSON."""
        out: dict[str, list[float] | list[int]] = {"mean": list(self.mean), "std": list(self.std)}
        if self.event_shape != (len(self.mean),):
            out["event_shape"] = list(self.event_shape)
        if self.whiten is not None:
            out["whiten"] = [list(row) for row in self.whiten]  # type: ignore[misc]
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> Standardizer:
        """The inverse of :meth:`to_dict`; unknown or missing keys raise ``ValueError``."""
        if not isinstance(d, Mapping) or not {"mean", "std"} <= set(d) <= {"mean", "std", "event_shape", "whiten"}:
            raise ValueError(f"Standardizer.from_dict: need the keys 'mean' and 'std' (and optionally 'event_shape', "
                             f"'whiten'); "
                             f"got {sorted(d) if isinstance(d, Mapping) else type(d).__name__}")
        whiten = d.get("whiten")
        if whiten is not None and not (isinstance(whiten, list) and all(
                isinstance(row, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row)
                for row in whiten)):
            raise ValueError("Standardizer.from_dict: whiten must be a list of rows of numbers")
        for key in (k for k in ("mean", "std", "event_shape") if k in d):
            if not isinstance(d[key], list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                       for v in d[key]):  # type: ignore[attr-defined]
                raise ValueError(f"Standardizer.from_dict: {key} must be a list of numbers")
        shape = d.get("event_shape")
        if shape is not None and not all(isinstance(n, int) and not isinstance(n, bool) for n in shape):
            raise ValueError("Standardizer.from_dict: event_shape must be a list of whole numbers")
        return cls(tuple(d["mean"]), tuple(d["std"]),  # type: ignore[arg-type]
                   None if shape is None else tuple(int(n) for n in shape),  # type: ignore[union-attr]
                   None if whiten is None else tuple(tuple(row) for row in whiten))  # type: ignore[union-attr]


def _zca(u: Tensor) -> tuple[tuple[float, ...], ...]:
    """:math:`W = U\\Lambda^{-1/2}U^\\top` of the (population) covariance of the standardized rows ``u``, its
    eigenvalues floored at ``EIGEN_FLOOR`` times the largest."""
    c = torch.cov(u.T, correction=0).reshape(u.shape[1], u.shape[1])
    lam, vec = torch.linalg.eigh((c + c.T) / 2)
    lam = lam.clamp(min=EIGEN_FLOOR * float(lam.max()))
    w = (vec / lam.sqrt()) @ vec.T
    return tuple(tuple(row) for row in w.tolist())
