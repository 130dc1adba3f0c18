"""Standardization that remembers its statistics; see :mod:`scorematch.data`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Standardizer"]


@dataclass(frozen=True)
class Standardizer:
    r"""Per-column standardization :math:`z = (x - m)/s`, remembering :math:`m` (``mean``) and :math:`s` (``std``).

    A density learned on :math:`z` maps back to data units by the change of variables
    :math:`\log p_x(x) = \log p_z\big((x-m)/s\big) - \sum_j \log s_j`, so
    :math:`\nabla_x \log p_x(x) = \nabla_z \log p_z(z) / s` (:meth:`score_to_data`),
    :meth:`log_prob_to_data` subtracts :math:`\sum_j \log s_j` and :meth:`energy_to_data` adds it.

    ``mean`` and ``std`` are tuples of Python floats, so :meth:`to_dict` round-trips through JSON exactly.
    Every ``std`` must be finite and > 0: :meth:`fit` refuses a constant column rather than dividing by 0.

    >>> st = Standardizer.fit(torch.tensor([[0.0, 10.0], [2.0, 30.0]]))
    >>> st
    Standardizer(mean=(1.0, 20.0), std=(1.0, 10.0))
    >>> st.transform(torch.tensor([[2.0, 0.0]]))
    tensor([[ 1., -2.]])
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        mean, std = tuple(float(v) for v in self.mean), tuple(float(v) for v in self.std)
        if not mean or len(mean) != len(std):
            raise ValueError(f"Standardizer: mean and std must be non-empty and of one length; got {len(mean)} "
                             f"and {len(std)} values")
        for name, values in (("mean", mean), ("std", std)):
            for j, v in enumerate(values):
                if not math.isfinite(v) or (name == "std" and v <= 0):
                    need = "finite and > 0" if name == "std" else "finite"
                    raise ValueError(f"Standardizer: {name} must be {need} in every column; column {j + 1} has {v!r}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @classmethod
    def fit(cls, x: Tensor) -> Standardizer:
        """Column means and (population, divide-by-n) standard deviations of ``x`` ``(n, d)``, in float64."""
        if x.ndim != 2 or x.shape[0] < 2:
            raise ValueError(f"Standardizer.fit: x must have shape (n, d) with n >= 2; got {tuple(x.shape)}")
        x64 = x.detach().to(torch.float64)
        mean, std = x64.mean(0), x64.std(0, correction=0)
        for j, s in enumerate(std.tolist()):
            if s == 0:
                raise ValueError(f"Standardizer.fit: column {j + 1} is constant ({mean[j].item()!r}); its std is 0, "
                                 "so it cannot be standardized: drop it")
        return cls(tuple(mean.tolist()), tuple(std.tolist()))

    @classmethod
    def identity(cls, d: int) -> Standardizer:
        """The standardization that changes nothing (mean 0, std 1 in each of ``d`` columns)."""
        return cls((0.0,) * d, (1.0,) * d)

    @property
    def dim(self) -> int:
        """Number of columns ``d``."""
        return len(self.mean)

    @property
    def log_scale(self) -> float:
        """:math:`\\sum_j \\log s_j`, the log-density offset between the two scales."""
        return math.fsum(math.log(s) for s in self.std)

    def _stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.ndim < 1 or x.shape[-1] != self.dim:
            raise ValueError(f"Standardizer: expected {self.dim} columns (last dimension); got shape {tuple(x.shape)}")
        opts = dict(dtype=x.dtype, device=x.device)
        return torch.tensor(self.mean, **opts), torch.tensor(self.std, **opts)

    def transform(self, x: Tensor) -> Tensor:
        """:math:`z = (x - m)/s`."""
        m, s = self._stats(x)
        return (x - m) / s

    def inverse(self, z: Tensor) -> Tensor:
        """:math:`x = m + s z`, the inverse of :meth:`transform` up to round-off."""
        m, s = self._stats(z)
        return z * s + m

    def score_to_data(self, score_z: Tensor) -> Tensor:
        """:math:`\\nabla_x \\log p_x(x) = \\nabla_z \\log p_z(z) / s` for a score evaluated at :math:`z`."""
        return score_z / self._stats(score_z)[1]

    def log_prob_to_data(self, log_prob_z: Tensor) -> Tensor:
        """:math:`\\log p_x(x) = \\log p_z(z) - \\sum_j \\log s_j`."""
        return log_prob_z - self.log_scale

    def energy_to_data(self, energy_z: Tensor) -> Tensor:
        """:math:`E_x(x) = E_z(z) + \\sum_j \\log s_j` (for a normalised energy :math:`E = -\\log p`)."""
        return energy_z + self.log_scale

    def to_dict(self) -> dict[str, list[float]]:
        """``{"mean": [...], "std": [...]}``, exact through JSON."""
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> Standardizer:
        """The inverse of :meth:`to_dict`; unknown or missing keys raise ``ValueError``."""
        if set(d) != {"mean", "std"}:
            raise ValueError(f"Standardizer.from_dict: need exactly the keys 'mean' and 'std'; got {sorted(d)}")
        return cls(tuple(d["mean"]), tuple(d["std"]))  # type: ignore[arg-type]
