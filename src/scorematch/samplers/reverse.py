r"""Sampling a score model trained across a forward SDE's times (:mod:`scorematch.diffusion`) from its prior down
(Song et al. 2021), as kernels (``init`` / ``step``) on the time grid :math:`t_i = 1 - i\,\Delta`,
:math:`\Delta = (1 - t_{\min})/N`, ``N`` steps, each with the time score ``score(x, t)``:

* ``"sde"`` — Euler–Maruyama on the reverse SDE :math:`dx = [f - g^2 s]\,dt + g\,d\bar w` backwards in time:
  :math:`x \leftarrow x - f(x, t)\Delta + g(t)^2 s(x, t)\Delta + g(t)\sqrt\Delta\,z`;
* ``"pc"`` — predictor–corrector: that predictor, then ``corrector_steps`` Langevin moves at the new time,
  :math:`x \leftarrow x + \varepsilon s + \sqrt{2\varepsilon} z` with
  :math:`\varepsilon = 2\alpha(\text{snr}\,\overline{\lVert z\rVert}/\overline{\lVert s\rVert})^2`, the norms
  averaged over the batch (Song et al.'s Algorithm 5, :math:`\alpha = 1 - \beta(t)\Delta` for VP and sub-VP, 1 for
  VE; in this library's convention the move is
  :math:`x + (\varepsilon'/2) s + \sqrt{\varepsilon'} z` with :math:`\varepsilon' = 2\varepsilon`);
* ``"ddpm"`` — ancestral sampling of the discretised VP chain (Ho et al. 2020; VP only),
  :math:`\beta_i = \beta(t_i)\Delta`:
  :math:`x \leftarrow (x + \beta_i s(x, t_i))/\sqrt{1 - \beta_i} + \sqrt{\beta_i}\,z`;

and ``"ode"``, the probability-flow ODE :math:`\dot x = f - \tfrac12 g^2 s` integrated from 1 down to
:math:`t_{\min}` by torchdiffeq's adaptive dopri5 (deterministic given the prior draw). Every sampler ends with the
denoising step of Tweedie's formula, :math:`\mathbb E[x_0 \mid x_{t_{\min}}] = (x + \sigma^2 s)/m` at
:math:`t_{\min}`, and :func:`reverse_sample` reports the number of score evaluations.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from .._infra.checks import check_choice, check_count, check_positive
from ..diffusion.sde import SDE, VP, TimeScore
from .driver import sample
from .state import Info, Kernel, always_accepted

__all__ = ["REVERSE_SAMPLERS", "DiffusionState", "reverse_kernel", "reverse_sample"]

REVERSE_SAMPLERS = ("pc", "sde", "ddpm", "ode")


class DiffusionState(NamedTuple):
    """Positions ``x``, the score there at the current time, no energy, and the steps taken (the time is
    :math:`1 - \\text{steps}\\cdot\\Delta`)."""

    x: Tensor
    score: Tensor
    energy: Tensor | None
    steps: int


def _time(i: int, n: int, t_min: float, like: Tensor) -> Tensor:
    return torch.tensor(1.0 - i * (1.0 - t_min) / n, dtype=like.dtype, device=like.device)


def reverse_kernel(score: TimeScore, sde: SDE, steps: int, *, kind: Literal["sde", "pc", "ddpm"] = "pc",
                   t_min: float = 1e-3, corrector_steps: int = 1, snr: float = 0.16) -> Kernel:
    """One of the module docstring's time-stepped samplers as a :class:`~scorematch.samplers.state.Kernel` over
    ``steps`` steps (a step past the last stays at :math:`t_{\\min}`)."""
    check_count("steps", steps)
    check_choice("kind", kind, ("sde", "pc", "ddpm"))
    check_positive("t_min", t_min)
    check_positive("snr", snr)
    if kind == "ddpm" and type(sde) is not VP:
        raise ValueError("ddpm (ancestral) sampling is for the VP SDE (the discretised DDPM chain); use pc, sde or ode")
    delta = (1.0 - t_min) / steps

    def init(x: Tensor) -> DiffusionState:
        return DiffusionState(x, score(x, _time(0, steps, t_min, x)), None, 0)

    def corrector(x: Tensor, t: Tensor, generator: torch.Generator | None) -> Tensor:
        alpha = 1.0 - float(sde.beta(t)) * delta if isinstance(sde, VP) else 1.0
        for _ in range(corrector_steps):
            s = score(x, t)
            z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            ratio = z.flatten(1).norm(dim=1).mean() / s.flatten(1).norm(dim=1).mean().clamp_min(1e-12)
            eps = 2 * alpha * (snr * ratio) ** 2
            x = x + eps * s + (2 * eps).sqrt() * z
        return x

    def step(state: DiffusionState, generator: torch.Generator | None) -> tuple[DiffusionState, Info]:
        i = min(state.steps, steps - 1)
        t, x, s = _time(i, steps, t_min, state.x), state.x, state.score
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        if kind == "ddpm":
            beta = float(sde.beta(t)) * delta
            x = (x + beta * s) / math.sqrt(1 - beta) + math.sqrt(beta) * z
        else:
            g2 = sde.g2(t)
            x = x - sde.drift(x, t) * delta + g2 * s * delta + (g2 * delta).sqrt() * z
        nxt = _time(i + 1, steps, t_min, x)
        if kind == "pc" and corrector_steps:
            x = corrector(x, nxt, generator)
        return DiffusionState(x, score(x, nxt), None, state.steps + 1), always_accepted(x)

    return Kernel(init, step)


def _denoise(score: TimeScore, sde: SDE, x: Tensor, t_min: float) -> Tensor:
    t = torch.tensor(t_min, dtype=x.dtype, device=x.device)
    return (x + sde.std(t) ** 2 * score(x, t)) / sde.mean_coef(t)


def reverse_sample(score: TimeScore, sde: SDE, n: int, event_shape: tuple[int, ...], *,
                   sampler: Literal["pc", "sde", "ddpm", "ode"] = "pc", steps: int = 500, t_min: float = 1e-3,
                   corrector_steps: int = 1, snr: float = 0.16, denoise: bool = True, rtol: float = 1e-5,
                   atol: float = 1e-5, generator: torch.Generator | None = None, dtype: torch.dtype | None = None,
                   device: torch.device | str | None = None, progress: bool = False) -> tuple[Tensor, int]:
    """``n`` samples ``(n, *event_shape)`` from the prior down, and the number of score evaluations.

    ``steps`` is the time grid's (not used by ``"ode"``, whose solver chooses its own); ``corrector_steps`` and
    ``snr`` the corrector's (``"pc"``); ``rtol`` / ``atol`` the ODE solver's; ``denoise`` the final Tweedie step.

    >>> from scorematch.diffusion import VP
    >>> x, nfe = reverse_sample(lambda x, t: -x, VP(), 2000, (2,), steps=200,       # N(0, I) at every t
    ...                         generator=torch.Generator().manual_seed(0), denoise=False)
    >>> bool((x.var(0) - 1).abs().max() < 0.1), nfe
    (True, 401)
    """
    check_choice("sampler", sampler, REVERSE_SAMPLERS)
    calls = [0]

    def counted(x: Tensor, t: Tensor) -> Tensor:
        calls[0] += 1
        with torch.no_grad():
            return score(x, t)

    x = sde.prior_sample((n, *event_shape), generator=generator, dtype=dtype, device=device)
    if sampler == "ode":
        from torchdiffeq import odeint

        wide = torch.float64 if x.device.type != "mps" else x.dtype  # the solver's steps in float64: t ≈ t_min
        times = torch.tensor([1.0, t_min], dtype=wide, device=x.device)

        def velocity(t: Tensor, z: Tensor) -> Tensor:
            t = t.clamp_min(t_min)  # dopri5's last stages may fall past the end, where the kernel's σ² < 0
            s = counted(z.to(x.dtype), t.to(x.dtype)).to(wide)
            return sde.drift(z, t) - 0.5 * sde.g2(t) * s

        try:
            x = odeint(velocity, x.to(wide), times, rtol=rtol, atol=atol, method="dopri5")[-1].to(x.dtype)
        except AssertionError as e:  # torchdiffeq's step-size underflow
            raise ValueError(f"the probability-flow ODE did not reach t_min = {t_min:g} ({e}): the score is too "
                             "stiff there; try a larger t_min or looser rtol/atol") from None
    else:
        kernel = reverse_kernel(counted, sde, steps, kind=sampler, t_min=t_min, corrector_steps=corrector_steps,
                                snr=snr)
        x = sample(kernel, x, steps, generator=generator, progress=progress)
    if denoise:
        x = _denoise(counted, sde, x, t_min)
    return x, calls[0]
