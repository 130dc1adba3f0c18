r"""Noise-level (σ) schedules.

NCSN (Song & Ermon 2019) trains one noise-conditional model on a geometric ladder
:math:`\sigma_1 > \sigma_2 > \dots > \sigma_L` with a constant ratio :math:`\sigma_{i}/\sigma_{i+1}`;
:func:`ladder_from_data` chooses its ends, its length and the annealed-Langevin step from the data by the rules of
NCSNv2 (Song & Ermon 2020).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ._infra.checks import check_count, check_positive

__all__ = ["NoiseLadder", "VPChoice", "geometric_sigmas", "ladder_from_data", "shell_overlap", "vp_from_data"]


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


def _phi(t: float) -> float:
    return 0.5 * (1.0 + math.erf(t / math.sqrt(2.0)))


def shell_overlap(ratio: float, dim: int) -> float:
    r"""NCSNv2's overlap of adjacent noise levels: the probability that a point of :math:`N(0, \sigma^2 I_D)` has a
    norm within three standard deviations of the typical norm at :math:`\gamma\sigma`,
    :math:`\Phi(\sqrt{2D}(\gamma-1) + 3\gamma) - \Phi(\sqrt{2D}(\gamma-1) - 3\gamma)` (the norm at σ is about
    :math:`N(\sigma\sqrt D, \sigma^2/2)`).

    >>> round(shell_overlap(1.0, 100), 4)   # the same level: the 3-σ band
    0.9973
    """
    root = math.sqrt(2.0 * dim)
    return _phi(root * (ratio - 1) + 3 * ratio) - _phi(root * (ratio - 1) - 3 * ratio)


def _solve(f: Any, lo: float, hi: float) -> float:
    """The root of a function that changes sign once on [lo, hi], by bisection to 1e-12."""
    flo = f(lo)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if (f(mid) > 0) == (flo > 0):
            lo, flo = mid, f(mid)
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return 0.5 * (lo + hi)


def _minimize(f: Any, lo: float, hi: float) -> float:
    """The minimiser of ``f`` on [lo, hi]: the best of 2001 log-spaced points, then golden-section search around
    it."""
    grid = [lo * (hi / lo) ** (k / 2000) for k in range(2001)]
    k = min(range(2001), key=lambda i: f(grid[i]))
    a, b = grid[max(k - 1, 0)], grid[min(k + 1, 2000)]
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(200):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if f(c) < f(d):
            b = d
        else:
            a = c
        if b - a < 1e-15:
            break
    return 0.5 * (a + b)


@dataclass(frozen=True)
class NoiseLadder:
    """A σ ladder chosen from data (:func:`ladder_from_data`): the levels (descending), their ratio γ, the
    annealed-Langevin step and steps per level, and the reason for each number."""

    sigmas: tuple[float, ...]
    ratio: float
    step_size: float
    steps_per_level: int
    reasons: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"sigma_max": self.sigmas[0], "sigma_min": self.sigmas[-1], "n_sigmas": len(self.sigmas),
                "ratio": self.ratio, "step_size": self.step_size, "steps_per_level": self.steps_per_level,
                "sigmas": list(self.sigmas), "reasons": self.reasons}


def _resolution(flat: Tensor) -> float | None:
    """The grid step of data whose values all lie on one grid (e.g. 8-bit pixels), else ``None``."""
    values = torch.unique(flat.flatten())
    if values.numel() < 2 or values.numel() > 4096:
        return None
    step = float(values.diff().min())
    steps = (values - values[0]) / step
    return step if float((steps - steps.round()).abs().max()) < 1e-3 else None  # float32 pixels: within 0.1%


def _largest_distance(flat: Tensor) -> float:
    return max(float(torch.cdist(flat[i:i + 1024], flat).max()) for i in range(0, flat.shape[0], 1024))


@dataclass(frozen=True)
class VPChoice:
    """β range of a variance-preserving SDE chosen from data (:func:`vp_from_data`), with the reason for each."""

    beta_min: float
    beta_max: float
    largest_distance: float
    signal_left: float
    reasons: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"beta_min": self.beta_min, "beta_max": self.beta_max, "largest_distance": self.largest_distance,
                "signal_left": self.signal_left, "reasons": self.reasons}


def vp_from_data(x: Tensor, *, beta_min: float = 0.1, leftover: float = 0.05, floor: float = 20.0,
                 max_points: int = 20000, generator: torch.Generator | None = None) -> VPChoice:
    r"""β_max of a VP (or sub-VP) SDE for standardized data ``x`` ``(n, *event)``, the analogue of NCSNv2's
    technique 1 for a ladder. At t = 1 the kernel keeps the signal :math:`\alpha(1)x_0` with
    :math:`\alpha(1) = \exp(-\tfrac14(\beta_{min} + \beta_{max}))`; two training points a distance D apart stay
    apart by :math:`\alpha(1)D` in units of the prior's standard deviation (1). The rule: β_max is Song et al.'s
    20 (``floor``), raised when the largest distance D between training points (over a random ``max_points``)
    would leave more than ``leftover`` of a standard deviation, i.e.
    :math:`\beta_{max} = \max(20,\ 4\log(D/\text{leftover}) - \beta_{min})`. β_min stays Song et al.'s 0.1
    (the kernel at small t is then :math:`\sigma(t)^2 \approx \beta_{min}t`).

    >>> c = vp_from_data(torch.tensor([[0.0] * 64, [3.0] * 64]))
    >>> round(c.largest_distance, 1), round(c.beta_max, 2), c.signal_left <= 0.05
    (24.0, 24.6, True)
    """
    if x.ndim < 2 or x.shape[0] < 2:
        raise ValueError(f"x must have shape (n, *event) with n >= 2; got {tuple(x.shape)}")
    flat = x.detach().reshape(x.shape[0], -1).double()
    if flat.shape[0] > max_points:
        flat = flat[torch.randperm(flat.shape[0], generator=generator)[:max_points]]
    d = _largest_distance(flat)
    need = 4 * math.log(d / leftover) - beta_min if d > 0 else -math.inf
    beta_max = max(floor, need)
    reasons = {"beta_min": "Song et al. 2021's 0.1",
               "beta_max": (f"the largest distance between two of {flat.shape[0]} training points, {d:.3g}, "
                            f"would keep more than {leftover:g} of the prior's standard deviation of signal at t = 1 "
                            f"below β_max {need:.3g}" if need > floor else
                            f"Song et al. 2021's {floor:g}: it leaves at most {leftover:g} of the prior's standard "
                            f"deviation of signal between any two of {flat.shape[0]} training points "
                            f"(largest distance {d:.3g})")}
    return VPChoice(beta_min, beta_max, d, math.exp(-(beta_min + beta_max) / 4) * d, reasons)


def ladder_from_data(x: Tensor, *, steps_per_level: int = 5, step_budget: int | None = None,
                     sigma_min: float | None = None, max_ratio: float = 2.0, max_points: int = 20000,
                     generator: torch.Generator | None = None, sigma_min_reason: str = "given") -> NoiseLadder:
    r"""The σ ladder and annealed-Langevin step for data ``x`` ``(n, *event)`` by the rules of NCSNv2 (Song & Ermon
    2020, "Improved techniques for training score-based generative models", techniques 1, 2 and 4).

    * σ₁ (technique 1): the largest distance between two training points (over a random ``max_points`` of them
      when there are more), so that the widest level can carry a sample from any point to any other.
    * σ_L: ``sigma_min`` if given (recorded with ``sigma_min_reason``); else the data's resolution: the grid step
      when every value lies on one grid (quantized data, e.g. pixels), otherwise 5% of the data's scale (the root
      mean variance of the coordinates).
      NCSNv2 takes 0.01 for CIFAR-10 images in [0, 1], about 4% of their pixels' spread; on 8gaussians (3000
      steps, 10 levels) 1% left the score at σ_L four tenths worse (relative Fisher divergence 0.79 against 0.56 at
      5%).
    * L (technique 2): geometric levels with the ratio γ at which adjacent levels overlap by one half,
      :func:`shell_overlap` (γ, D) = 0.5, D the event size; L = ⌈log(σ₁/σ_L)/log γ⌉ + 1 (γ then shrinks a little so
      that the ends are exact). In few dimensions the overlap stays above one half up to large ratios (in D ≤ 4 at
      every ratio): γ is capped at ``max_ratio``.
    * Step (technique 4): with T steps per level — ``steps_per_level``, or with ``step_budget`` as many as the budget
      shared by the L levels allows, at least ``steps_per_level`` — u = ε/σ_L² brings the variance ratio after T
      steps from the level above, :math:`(1-u)^{2T}(\gamma^2 - \tfrac{2}{2-u}) + \tfrac{2}{2-u}`, closest to 1
      (it exceeds 1 at both ends: too few moves, or the unadjusted step's own inflation). NCSNv2 moves by
      :math:`\alpha_i = u\sigma_i^2` as :math:`x + \alpha_i s + \sqrt{2\alpha_i} z`; in this library's convention
      :math:`x + \frac{\varepsilon}{2}s + \sqrt\varepsilon z` that is ε_i = 2u·σ_i², so ``step_size`` = 2u, the
      relative step the ``annealed`` sampler takes (ε_i = step_size · σ_i²).

    >>> ladder = ladder_from_data(torch.tensor([[0.0, 0.0], [3.0, 4.0]]), sigma_min=0.05)
    >>> ladder.sigmas[0], ladder.sigmas[-1], len(ladder.sigmas)
    (5.0, 0.05, 8)
    """
    check_count("steps_per_level", steps_per_level)
    if x.ndim < 2 or x.shape[0] < 2:
        raise ValueError(f"x must have shape (n, *event) with n >= 2; got {tuple(x.shape)}")
    flat = x.detach().reshape(x.shape[0], -1).double()
    if not torch.isfinite(flat).all():
        raise ValueError("the data contain NaN or infinite values")
    dim, reasons = flat.shape[1], {}
    if flat.shape[0] > max_points:
        flat = flat[torch.randperm(flat.shape[0], generator=generator)[:max_points]]
    sigma_max = _largest_distance(flat)
    if sigma_max == 0:
        raise ValueError("every point is the same: no distance to set the largest noise level by")
    reasons["sigma_max"] = f"the largest distance between two of {flat.shape[0]} training points (NCSNv2 technique 1)"
    if sigma_min is not None:
        sigma_min = check_positive("sigma_min", sigma_min)
        reasons["sigma_min"] = sigma_min_reason
    else:
        step = _resolution(flat)
        if step is not None:
            sigma_min, reasons["sigma_min"] = step, f"the data lie on a grid of step {step:.4g}: one step"
        else:
            sigma_min = 0.05 * float(flat.var(0).mean().sqrt())
            reasons["sigma_min"] = "5% of the data's scale (root mean variance per coordinate)"
    sigma_min = min(sigma_min, sigma_max)
    if shell_overlap(max_ratio, dim) >= 0.5:
        ratio = max_ratio
        reasons["ratio"] = (f"in {dim} dimensions adjacent levels overlap by more than one half at every ratio up "
                            f"to {max_ratio:g}: capped there")
    else:
        ratio = _solve(lambda g: shell_overlap(g, dim) - 0.5, 1.0, max_ratio)
        reasons["ratio"] = f"adjacent levels overlap by one half in {dim} dimensions (NCSNv2 technique 2)"
    n = 1 if sigma_max == sigma_min else math.ceil(math.log(sigma_max / sigma_min) / math.log(ratio)) + 1
    reasons["n_sigmas"] = f"log(σ₁/σ_L)/log γ levels, rounded up, plus one (γ = {ratio:.5g})"
    sigmas = tuple(float(s) for s in geometric_sigmas(sigma_max, sigma_min, n, dtype=torch.float64)) if n > 1 \
        else (sigma_max,)
    sigmas = (sigma_max, *sigmas[1:-1], sigma_min) if n > 1 else sigmas  # the ends exact, not logspace's round-off
    gamma = sigmas[0] / sigmas[1] if n > 1 else ratio
    if step_budget is not None:
        steps_per_level = max(steps_per_level, check_count("step_budget", step_budget) // n)

    def excess(u: float) -> float:  # variance ratio − 1: above 0 at both ends (the unadjusted step's own bias)
        return abs((1 - u) ** (2 * steps_per_level) * (gamma**2 - 2 / (2 - u)) + 2 / (2 - u) - 1)

    u = _minimize(excess, 1e-9, 1.0)
    reasons["step_size"] = (f"the sample variance after {steps_per_level} Langevin steps per level matches the level's "
                            "(NCSNv2 technique 4); relative: ε_i = step_size · σ_i²")
    return NoiseLadder(sigmas, gamma, 2 * u, steps_per_level, reasons)
