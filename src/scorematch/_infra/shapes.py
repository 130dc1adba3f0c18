"""Shape helpers for data of shape ``(batch, *event_shape)``.

Every function in scorematch accepts any trailing event shape: vectors ``(B, d)``, images ``(B, c, h, w)``.
Per-sample quantities (σ, losses, energies) have shape ``(B,)``; :func:`per_sample_view` makes them
broadcast against the data without hard-coding the number of event dimensions.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["event_numel", "one_per_sample", "per_sample_view", "sum_event"]


def per_sample_view(t: Tensor, x: Tensor) -> Tensor:
    """View a per-sample tensor ``t`` of shape ``(B,)`` (or a scalar) so that it broadcasts against ``x``.

    >>> x = torch.zeros(4, 3, 8, 8)
    >>> per_sample_view(torch.ones(4), x).shape
    torch.Size([4, 1, 1, 1])
    """
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    if t.ndim == 0:
        return t
    return t.reshape(t.shape[0], *([1] * (x.ndim - 1)))


def sum_event(t: Tensor) -> Tensor:
    """Sum over every dimension but the first: ``(B, *event) -> (B,)``."""
    return t.reshape(t.shape[0], -1).sum(-1)


def event_numel(x: Tensor) -> int:
    """Number of coordinates ``D`` of one sample of ``x`` (the product of its event shape)."""
    return math.prod(x.shape[1:])


def one_per_sample(e: Tensor, x: Tensor, who: str = "energy") -> Tensor:
    """``e`` as one value per sample of ``x``, shape ``(B,)``: an output of shape ``(B, 1)`` is squeezed, any other
    shape than ``(B,)`` raises ``ValueError`` naming ``who``. The one check of an energy's shape.

    >>> one_per_sample(torch.zeros(3, 1), torch.zeros(3, 2)).shape
    torch.Size([3])
    """
    if e.ndim == 2 and e.shape[1] == 1:
        e = e.squeeze(1)
    if e.shape != x.shape[:1]:
        raise ValueError(f"{who} must return one value per point, shape ({x.shape[0]},) or ({x.shape[0]}, 1), "
                         f"for x of shape {tuple(x.shape)}; got {tuple(e.shape)}")
    return e
