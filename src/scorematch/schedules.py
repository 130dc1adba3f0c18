r"""Noise-level (σ) schedules.

NCSN (Song & Ermon 2019) trains one noise-conditional model on a geometric ladder
:math:`\sigma_1 > \sigma_2 > \dots > \sigma_L` with a constant ratio :math:`\sigma_{i}/\sigma_{i+1}`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._checks import check_count, check_positive

__all__ = ["geometric_sigmas"]


def geometric_sigmas(
    sigma_max: float, sigma_min: float, n: int, *, dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    r"""The geometric ladder :math:`\sigma_i = \sigma_{\max} (\sigma_{\min}/\sigma_{\max})^{(i-1)/(L-1)}`, descending.

    Args:
        sigma_max: largest noise level σ₁ (> 0).
        sigma_min: smallest noise level σ_L (> 0, ≤ ``sigma_max``).
        n: number of levels L (≥ 1; with 1, ``sigma_max`` must equal ``sigma_min``).

    Returns:
        Tensor of shape ``(n,)``, from ``sigma_max`` down to ``sigma_min``.

    >>> geometric_sigmas(1.0, 0.01, 3)
    tensor([1.0000, 0.1000, 0.0100])
    """
    hi, lo = check_positive("sigma_max", sigma_max), check_positive("sigma_min", sigma_min)
    check_count("n", n)
    if lo > hi:
        raise ValueError(f"sigma_min ({sigma_min}) must not exceed sigma_max ({sigma_max})")
    if n == 1 and lo != hi:
        raise ValueError("a ladder of one level needs sigma_min == sigma_max")
    return torch.logspace(math.log10(hi), math.log10(lo), n, dtype=dtype, device=device)
