"""The built-in 2D data sets; see :mod:`scorematch.data`."""


from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .._infra.checks import check_choice, check_count
from ..models.analytic import ANALYTIC

__all__ = ["DATASETS", "make_dataset"]

_F64 = torch.float64


def _checkerboard(n: int, g: torch.Generator | None) -> Tensor:
    x1 = 4 * torch.rand(n, generator=g, dtype=_F64) - 2
    x2 = torch.rand(n, generator=g, dtype=_F64) - 2 * torch.randint(0, 2, (n,), generator=g)
    return 2 * torch.stack([x1, x2 + torch.floor(x1) % 2], 1)


def _swissroll(n: int, g: torch.Generator | None) -> Tensor:
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=g, dtype=_F64))
    return (torch.stack([t * t.cos(), t * t.sin()], 1) + torch.randn(n, 2, generator=g, dtype=_F64)) / 5


def _pinwheel(n: int, g: torch.Generator | None) -> Tensor:
    arm = torch.randint(0, 5, (n,), generator=g)
    f = torch.randn(n, 2, generator=g, dtype=_F64) * torch.tensor([0.3, 0.1], dtype=_F64)
    f[:, 0] += 1
    angle = 2 * math.pi * arm / 5 + 0.25 * f[:, 0].exp()
    c, s = angle.cos(), angle.sin()
    return 2 * torch.stack([c * f[:, 0] - s * f[:, 1], s * f[:, 0] + c * f[:, 1]], 1)


def _two_spirals(n: int, g: torch.Generator | None) -> Tensor:
    t = 3 * math.pi * torch.rand(n, generator=g, dtype=_F64).sqrt()
    jitter = 0.5 * torch.rand(n, 2, generator=g, dtype=_F64)
    sign = 1 - 2 * torch.randint(0, 2, (n, 1), generator=g)
    arm = torch.stack([-t * t.cos(), t * t.sin()], 1) + jitter
    return sign * arm / 3 + 0.1 * torch.randn(n, 2, generator=g, dtype=_F64)


def _moons(n: int, g: torch.Generator | None) -> Tensor:
    theta = math.pi * torch.rand(n, generator=g, dtype=_F64)
    lower = torch.randint(0, 2, (n,), generator=g).bool()
    x = torch.where(lower, 1 - theta.cos(), theta.cos())
    y = torch.where(lower, 0.5 - theta.sin(), theta.sin())
    points = torch.stack([x, y], 1) + 0.1 * torch.randn(n, 2, generator=g, dtype=_F64)
    return 2 * points - torch.tensor([1.0, 0.2], dtype=_F64)


def _analytic(name: str) -> Callable[[int, torch.Generator | None], Tensor]:
    return lambda n, g: ANALYTIC[name](dtype=_F64).sample(n, generator=g)


_MAKERS: dict[str, Callable[[int, torch.Generator | None], Tensor]] = {
    "8gaussians": _analytic("8gaussians"), "checkerboard": _checkerboard, "swissroll": _swissroll,
    "pinwheel": _pinwheel, "2spirals": _two_spirals, "rings": _analytic("rings"), "moons": _moons,
    "circles": _analytic("circles"),
}
DATASETS: tuple[str, ...] = tuple(_MAKERS)
"""Names of the built-in 2D data sets."""


def make_dataset(
    name: str, n: int, *, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """``n`` points of the built-in 2D set ``name`` (one of :data:`DATASETS`), shape ``(n, 2)``, on the CPU.

    >>> x = make_dataset("moons", 500, generator=torch.Generator().manual_seed(0))
    >>> x.shape, x.dtype
    (torch.Size([500, 2]), torch.float32)
    """
    check_choice("data set", name, DATASETS)
    check_count("n", n)
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point dtype, got {dtype}")
    return _MAKERS[name](n, generator).to(dtype)

