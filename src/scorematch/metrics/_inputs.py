"""Validation of what the metrics are given: sample sets, and scores as tensors or callables.

A *sample set* has shape ``(n, *event)``; the metrics flatten it to ``(n, D)``. A *score* is either a tensor
of the shape of the points, or a model that computes one (:func:`~scorematch.protocol.as_model`: ``Energy(net)``,
``Score(net)``, an analytic target, or a plain callable ``x -> s(x)``). An *energy* is an energy model or a plain
callable ``x -> E(x)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .._infra.shapes import one_per_sample
from ..protocol import as_model

__all__ = ["ScoreLike", "check_sample_pair", "check_samples", "energy_values", "score_values"]

ScoreLike = Tensor | Callable[[Tensor], Tensor]


def check_samples(name: str, x: Tensor, *, min_count: int = 2) -> Tensor:
    """Return ``x`` flattened to ``(n, D)`` after checking it is a finite tensor with ``n >= min_count`` rows."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (n, *event), got {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (n, *event), got shape {tuple(x.shape)}")
    if x.shape[0] < min_count:
        raise ValueError(f"{name} needs at least {min_count} samples, got {x.shape[0]}")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x.flatten(1)


def check_sample_pair(x: Tensor, y: Tensor, *, min_count: int = 2) -> tuple[Tensor, Tensor]:
    """Check two sample sets (see :func:`check_samples`) of one event shape; return both as ``(·, D)``
    in a common dtype."""
    fx, fy = check_samples("x", x, min_count=min_count), check_samples("y", y, min_count=min_count)
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(f"x and y must have the same event shape, got {tuple(x.shape[1:])} and {tuple(y.shape[1:])}")
    dtype = torch.promote_types(fx.dtype, fy.dtype)
    return fx.to(dtype), fy.to(dtype)


def score_values(name: str, score: Any, x: Tensor) -> Tensor:
    """The score at ``x`` (detached, shape ``x.shape``): ``score`` itself if it is a tensor, else
    ``score.score(x)`` if it has that method, else ``score(x)``."""
    values = score if isinstance(score, Tensor) else as_model(score, kind="score", who=name).score(x)
    if values.shape != x.shape:
        raise ValueError(f"{name} must have the shape of the points {tuple(x.shape)}, got {tuple(values.shape)}")
    if not torch.isfinite(values).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return values.detach()


def energy_values(energy: Any, x: Tensor) -> Tensor:
    """``E(x)`` of shape ``(B,)`` without an autograd graph, of an energy model or a callable ``x -> E(x)``
    (:func:`~scorematch.protocol.as_model`). NaN is an error; +inf is allowed (zero density)."""
    with torch.no_grad():
        e = one_per_sample(as_model(energy, kind="energy", who="energy").energy(x), x)
    if torch.isnan(e).any():
        raise ValueError("energy returned NaN")
    return e.detach()
