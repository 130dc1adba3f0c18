r"""log Z of an energy in any dimension by annealed importance sampling (AIS; Neal 2001, "Annealed importance
sampling", Statistics and Computing 11).

The geometric path from the base :math:`\pi_0 = N(m, s^2 I)` to :math:`f(x) = e^{-E(x)}`, on a ladder
:math:`0 = \beta_0 < \beta_1 < \dots < \beta_T = 1`, has energies
:math:`E_t(x) = (1-\beta_t) E_0(x) + \beta_t E(x)` with :math:`E_0(x) = \lVert x-m\rVert^2/(2s^2)`.
Each of ``K`` independent chains starts at :math:`x_0 \sim \pi_0` and, for :math:`t = 1..T`, adds
:math:`E_{t-1}(x_{t-1}) - E_t(x_{t-1}) = (\beta_t - \beta_{t-1})(E_0 - E)(x_{t-1})` to its log-weight, then
moves by ``steps_per_temperature`` MALA steps that leave :math:`e^{-E_t}` invariant
(:func:`scorematch.samplers.mala_step`, :math:`x' = x + \frac\varepsilon2 s(x) + \sqrt\varepsilon z` then a
Metropolis test). With :math:`\log Z_0 = \frac D2\log(2\pi s^2)`,

.. math::

    \log w_k = \log Z_0 + \sum_{t=1}^T (\beta_t - \beta_{t-1})\,\big(E_0 - E\big)(x^{(k)}_{t-1}),\qquad
    \hat Z = \frac1K\sum_k w_k,\qquad
    \operatorname{se}(\log\hat Z) \approx \frac{\operatorname{std}(w)}{\sqrt K\,\operatorname{mean}(w)}

This is the sequential Monte Carlo core of :func:`scorematch.samplers.smc.anneal` with groups of one chain, so that
nothing is ever resampled. (:math:`\hat Z` is unbiased; the standard error is the delta method, computed from
:math:`w_k/\max w`). It
understates the error when the weights are heavy-tailed: watch the effective sample size
:math:`(\sum w)^2/\sum w^2`. Ladders: ``"sigmoid"`` (Wu et al. 2017, "On the quantitative analysis of
decoder-based generative models", ICLR), ``"geometric"``, ``"linear"``.

Step size: ``step_size`` (default :math:`0.5 s^2`) is adapted after every MALA step by
:math:`\varepsilon \leftarrow \varepsilon\, e^{2(\bar\alpha - \alpha^*)}` towards the acceptance
:math:`\alpha^* =` ``target_accept``. :math:`\bar\alpha` is the mean acceptance of ``max(32, K // 4)`` extra
*pilot* chains that run the same ladder beside the ``K`` weighted ones and are left out of every estimate: the
step size never depends on the weighted chains, so :math:`\hat Z` stays unbiased (adapting on the weighted
chains themselves biases :math:`\log\hat Z` by a visible fraction of its standard error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._infra.checks import check_choice, check_count, check_positive
from ..protocol import as_model
from ..samplers.smc import anneal, weights_ess
from ..samplers.tempered import Base
from ._inputs import check_samples, energy_values

__all__ = ["SCHEDULES", "AISResult", "ais_log_z", "beta_ladder"]

SCHEDULES: tuple[str, ...] = ("sigmoid", "geometric", "linear")


def beta_ladder(n_temperatures: int, schedule: str = "sigmoid", *, dtype: torch.dtype | None = None,
                device: torch.device | str | None = None) -> Tensor:
    r"""Inverse temperatures :math:`0 = \beta_0 < \dots < \beta_T = 1`, shape ``(T + 1,)``.

    * ``"sigmoid"``: :math:`\tilde\beta_t = \sigma(\delta(2t/T - 1))`, δ = 4, rescaled to span [0, 1];
    * ``"geometric"``: :math:`\beta_t = 10^{-4(1 - t/T)}` for t ≥ 1;
    * ``"linear"``: :math:`\beta_t = t/T`.

    >>> beta_ladder(4, "linear")
    tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])
    """
    check_count("n_temperatures", n_temperatures)
    check_choice("schedule", schedule, SCHEDULES)
    t = torch.linspace(0.0, 1.0, n_temperatures + 1, dtype=dtype, device=device)
    if schedule == "linear":
        return t
    if schedule == "geometric":
        betas = torch.pow(10.0, -4.0 * (1.0 - t))
        betas[0] = 0.0
        return betas
    b = torch.sigmoid(4.0 * (2.0 * t - 1.0))
    return (b - b[0]) / (b[-1] - b[0])


@dataclass(frozen=True)
class AISResult:
    """What :func:`ais_log_z` found.

    Attributes:
        log_z: :math:`\\log\\hat Z`.
        standard_error: delta-method standard error of ``log_z``.
        log_weights: :math:`\\log w_k`, shape ``(K,)``; ``log_z`` is their log-mean-exp.
        samples: the chains' final positions ``(K, *event)``, draws from :math:`e^{-E}/Z` when weighted by
            :math:`w_k`.
        effective_sample_size: :math:`(\\sum w)^2 / \\sum w^2`, between 1 and ``K``.
        acceptance: mean MALA acceptance probability over all steps and chains.
        log_likelihood: mean :math:`-E(x) - \\log\\hat Z` over ``data``, or ``None`` without data.
    """

    log_z: float
    standard_error: float
    log_weights: Tensor
    samples: Tensor
    effective_sample_size: float
    acceptance: float
    log_likelihood: float | None


def ais_log_z(
    energy: Any, event_shape: int | tuple[int, ...], *, n_chains: int = 256, n_temperatures: int = 200,
    schedule: str = "sigmoid", betas: Tensor | None = None, base_mean: float | Tensor = 0.0, base_std: float = 1.0,
    steps_per_temperature: int = 2, step_size: float | None = None, adapt_step_size: bool = True, target_accept: float = 0.6,
    data: Tensor | None = None, generator: torch.Generator | None = None, dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> AISResult:
    r"""Estimate :math:`\log Z = \log\int e^{-E(x)}dx` by AIS; algorithm in the module docstring.

    Args:
        energy: ``Energy(net)``, an object with ``energy(x)``, or a callable ``(B, *event) -> (B,)``.
        event_shape: shape of one sample (an int for vectors).
        n_chains: independent chains ``K`` (≥ 2).
        n_temperatures: ladder length ``T`` (ignored when ``betas`` is given).
        schedule: ``"sigmoid"``, ``"geometric"`` or ``"linear"`` (see :func:`beta_ladder`).
        betas: an explicit increasing ladder from 0 to 1, shape ``(T + 1,)``.
        base_mean, base_std: the base :math:`N(m, s^2 I)`; ``base_mean`` a float or a tensor of ``event_shape``.
        steps_per_temperature: MALA steps per temperature (≥ 1).
        step_size: initial MALA step ε; :math:`0.5 s^2` by default.
        adapt_step_size: adapt ε towards ``target_accept`` on extra pilot chains (see the module docstring).
        target_accept: the acceptance rate aimed at, in (0, 1).
        data: points ``(n, *event)`` whose mean log-likelihood :math:`-E(x) - \log\hat Z` is reported.
        generator: source of all randomness.
        dtype, device: of the chains; the default dtype and the CPU by default.

    Returns:
        An :class:`AISResult`.

    >>> import math
    >>> from scorematch import Energy
    >>> model = Energy(lambda x: 0.5 * (x**2).sum(-1) + 1.0)     # Z = 2π·e⁻¹
    >>> result = ais_log_z(model, 2, n_temperatures=50, generator=torch.Generator().manual_seed(0))
    >>> abs(result.log_z - (math.log(2 * math.pi) - 1.0)) < 4 * result.standard_error + 1e-3
    True
    """
    shape = (event_shape,) if isinstance(event_shape, int) else tuple(event_shape)
    for size in shape:
        check_count("event_shape", size)
    check_count("n_chains", n_chains)
    if n_chains < 2:
        raise ValueError(f"n_chains must be an integer >= 2, got {n_chains!r}")
    check_count("steps_per_temperature", steps_per_temperature)
    s = check_positive("base_std", base_std)
    eps = 0.5 * s**2 if step_size is None else check_positive("step_size", step_size)
    if not 0.0 < target_accept < 1.0:
        raise ValueError(f"target_accept must lie in (0, 1), got {target_accept!r}")
    opts = dict(dtype=dtype or torch.get_default_dtype(), device=device)
    if betas is None:
        betas = beta_ladder(n_temperatures, schedule, **opts)
    betas = torch.as_tensor(betas, **opts)
    if betas.ndim != 1 or betas.numel() < 2 or betas[0] != 0 or betas[-1] != 1 or (betas.diff() <= 0).any():
        raise ValueError(f"betas must increase strictly from 0 to 1, got {betas.tolist()}")
    if data is not None:
        check_samples("data", data, min_count=1)
        if data.shape[1:] != shape:
            raise ValueError(f"data must have event shape {shape}, got {tuple(data.shape[1:])}")
    base = Base(shape, base_mean, s)
    model = as_model(energy, kind="energy", who="energy")
    n_pilot = max(32, n_chains // 4) if adapt_step_size else 0  # pilot chains only steer the step size
    run = anneal(model, base, n_groups=n_chains, group_size=1, n_pilot_groups=n_pilot, betas=betas,
                 steps_per_temperature=steps_per_temperature, step_size=eps, adapt_step_size=adapt_step_size,
                 target_accept=target_accept, generator=generator, **opts)
    log_w = run.log_weights
    if not torch.isfinite(log_w.max()):
        raise ValueError(f"AIS failed: the largest log-weight is {log_w.max().item()} (is E finite and bounded below?)")
    ess = weights_ess(log_w).item()
    log_likelihood = None
    if data is not None:
        log_likelihood = (-energy_values(energy, data.to(**opts)).mean() - run.log_z).item()
    return AISResult(run.log_z, run.standard_error, log_w, run.samples, ess, run.accept_prob.mean().item(),
                     log_likelihood)
