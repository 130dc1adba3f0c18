r"""Sequential Monte Carlo along the tempering path (Del Moral, Doucet & Jasra 2006); annealed importance sampling
(Neal 2001) is its case without resampling.

Particles follow :math:`\pi_\beta \propto \pi_0^{1-\beta} e^{-\beta E}` (:mod:`~scorematch.samplers.tempered`,
:math:`E_\beta = E_0 + \beta U`) from :math:`\beta = 0` to 1. They form ``M`` independent groups of ``G`` (and ``P``
*pilot* groups beside them). At each step :math:`\beta_{t-1} \to \beta_t`:

1. reweight: :math:`\ell_i \mathrel{+}= -(\beta_t - \beta_{t-1})\,U(x_i)`;
2. resample a group (systematic resampling) whose effective sample size :math:`(\sum e^{\ell})^2/\sum e^{2\ell}`
   fell below ``resample_threshold`` · G: :math:`L_m \mathrel{+}= \log\operatorname{mean}_{i\in m} e^{\ell_i}`,
   then :math:`\ell_i = 0`;
3. move: ``steps_per_temperature`` MALA (or HMC) steps that leave :math:`\pi_{\beta_t}` invariant.

Each group gives an unbiased :math:`\hat Z_m = Z_0\, e^{L_m}\operatorname{mean}_{i\in m} e^{\ell_i}`; then

.. math::

    \hat Z = \frac1M\sum_m \hat Z_m,\qquad
    \operatorname{se}(\log\hat Z) = \max\Big(\frac{\operatorname{std}_m(\hat Z_m)}{\sqrt M\,
    \operatorname{mean}_m(\hat Z_m)},\ \operatorname{sd}_b \log\tfrac1M\textstyle\sum_m \hat Z_{m_b}\Big)

(:func:`log_z_standard_error`): the delta method, and the spread of :math:`\log\hat Z` over bootstrap resamples
:math:`m_b` of the groups. When the groups agree the two coincide; when one group dominates (its
:math:`\log\hat Z_m` hundreds of nats above the others') the delta method saturates at 1 whatever the gap, while
the bootstrap, which leaves that group out about a third of the time, shows the gap.

With ``G = 1`` nothing is ever resampled and this is AIS with its usual standard error.

**Adaptation reads the pilot groups only.** The next :math:`\beta_t` is found by bisection so that the conditional
effective sample size of the pilot's incremental weights (Zhou, Johansen & Aston 2016) is ``cess`` · (pilot
size), and after every move the step size follows :math:`\varepsilon \leftarrow \varepsilon\,e^{2(\bar\alpha -
\alpha^*)}` with the pilot's mean acceptance :math:`\bar\alpha`. The weighted groups never steer the ladder or the
step, so their :math:`\hat Z` stays unbiased given both and the standard error is honest (steering by the
weighted particles themselves biases :math:`\log\hat Z` by a visible fraction of its standard error).

**Samples:** the weighted particles pooled with global weights :math:`e^{L_{m(i)} + \ell_i}` (a group counts in
proportion to its :math:`\hat Z_m`), resampled systematically to ``n`` equally weighted draws from :math:`e^{-E}/Z`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .._infra.checks import check_choice, check_count, check_positive
from .driver import progress_bar
from .hmc import hmc_step
from .mala import mala_init, mala_step
from .tempered import Base, Tempered, target_energy

__all__ = ["MOVES", "SMCResult", "SMCSamples", "SMCState", "anneal", "log_z_standard_error", "next_beta", "pooled",
           "smc", "systematic_resample", "weights_ess"]

MOVES: tuple[str, ...] = ("mala", "hmc")
TARGET_ACCEPT = {"mala": 0.57, "hmc": 0.75}


class SMCState(NamedTuple):
    """Particles ``x`` ``(K, *event)`` in contiguous groups, :math:`U` there, the log-weights :math:`\\ell` ``(K,)``,
    the groups' accumulated :math:`L_m` ``(K // G,)``, the inverse temperature β and the step size."""

    x: Tensor
    u: Tensor
    log_w: Tensor
    log_z: Tensor
    beta: float
    step_size: float


class SMCResult(NamedTuple):
    """What :func:`anneal` found; ``samples`` are the weighted particles before any final resampling.

    ``log_z_groups`` holds :math:`\\log\\hat Z_m` per weighted group; per step of the ladder ``betas[1:]``:
    ``ess`` (of the pooled weights, a fraction of the particles, before resampling), ``accept_prob`` (mean over the
    weighted particles and the moves), ``step_sizes`` and ``resampled`` (the fraction of groups resampled).
    """

    samples: Tensor
    log_weights: Tensor
    log_z: float
    standard_error: float
    log_z_groups: Tensor
    betas: Tensor
    ess: Tensor
    accept_prob: Tensor
    step_sizes: Tensor
    resampled: Tensor
    step_size: float


def systematic_resample(log_w: Tensor, n: int, generator: torch.Generator | None) -> Tensor:
    """Indices ``(R, n)`` drawn by systematic resampling from each row of ``log_w`` ``(R, K)``: one uniform per row,
    ``n`` evenly spaced points through the cumulative weights (Kitagawa 1996)."""
    w = torch.softmax(log_w.double(), -1)
    c = w.cumsum(-1)
    c[..., -1] = 1.0
    u = (torch.rand(log_w.shape[0], 1, dtype=torch.float64, generator=generator, device=log_w.device)
         + torch.arange(n, dtype=torch.float64, device=log_w.device)) / n
    return torch.searchsorted(c, u).clamp(max=log_w.shape[-1] - 1)


def log_z_standard_error(log_z_groups: Tensor, n_boot: int = 2000) -> float:
    r"""The standard error of :math:`\log\frac1M\sum_m \hat Z_m` from the groups' :math:`\log\hat Z_m`: the larger
    of the delta method's :math:`\operatorname{std}(\hat Z_m)/(\sqrt M\operatorname{mean}\hat Z_m)` and the standard
    deviation over ``n_boot`` bootstrap resamples of the groups (a fixed seed of its own: the caller's random stream
    is not touched). NaN for one group.

    >>> round(log_z_standard_error(torch.zeros(16)), 6)          # the groups agree exactly
    0.0
    >>> log_z_standard_error(torch.tensor([0.0] * 15 + [300.0])) > 100   # one group 300 nats above: not ±1
    True
    """
    groups = log_z_groups.detach().double().cpu()
    m = groups.numel()
    if m < 2:
        return math.nan
    z = (groups - groups.max()).exp()
    delta = (z.std() / (math.sqrt(m) * z.mean())).item()
    pick = torch.randint(0, m, (n_boot, m), generator=torch.Generator().manual_seed(0))
    boot = torch.logsumexp(groups[pick], 1) - math.log(m)
    return max(delta, boot.std().item())


def weights_ess(log_w: Tensor) -> Tensor:
    """The effective sample size (Σw)²/Σw² of log-weights, over the last axis."""
    lw = log_w.double()
    return (2 * torch.logsumexp(lw, -1) - torch.logsumexp(2 * lw, -1)).exp()


def next_beta(u: Tensor, log_w: Tensor, beta: float, cess: float, *, min_step: float = 1e-6) -> float:
    r"""The next inverse temperature: the :math:`\beta' \in (\beta, 1]` at which the conditional ESS fraction
    :math:`(\sum_i W_i v_i)^2 / \sum_i W_i v_i^2`, :math:`v_i = e^{-(\beta'-\beta)U_i}`, :math:`W \propto e^{\ell}`,
    equals ``cess`` (1 if it never drops that low); at least ``min_step`` above β. By bisection.

    >>> next_beta(torch.zeros(10), torch.zeros(10), 0.3, 0.9)   # U constant: no weight degeneracy, go to 1
    1.0
    """
    w = torch.log_softmax(log_w.double(), 0)
    uu = torch.nan_to_num(u.double(), nan=math.inf)

    def frac(delta: float) -> float:
        a = -delta * uu
        a = torch.where(torch.isfinite(a), a, torch.full_like(a, -math.inf))
        return (2 * torch.logsumexp(w + a, 0) - torch.logsumexp(w + 2 * a, 0)).exp().item()

    if frac(1.0 - beta) >= cess:
        return 1.0
    lo, hi = 0.0, 1.0 - beta
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if frac(mid) >= cess else (lo, mid)
    return min(1.0, beta + max(lo, min_step))


def _move(state: SMCState, model: Any, base: Base, cond: tuple[Tensor, ...], *, kind: str, steps_per_temperature: int,
          n_leapfrog: int, n_pilot: int, adapt: bool, target_accept: float,
          generator: torch.Generator | None) -> tuple[SMCState, float]:
    field = Tempered(model, base, state.beta, cond)
    mcmc = mala_init(state.x, field)
    eps, acc, k = state.step_size, 0.0, state.x.shape[0] - n_pilot
    for _ in range(steps_per_temperature):
        if kind == "mala":
            mcmc, info = mala_step(mcmc, field, eps, generator=generator)
        else:
            mcmc, info = hmc_step(mcmc, field, eps, n_leapfrog, generator=generator)
        acc += info.accept_prob[:k].mean().item() / steps_per_temperature
        if adapt and n_pilot:
            gain = 2.0 if kind == "mala" else 1.0  # the HMC step enters the acceptance squared
            eps = max(eps * math.exp(gain * (info.accept_prob[k:].mean().item() - target_accept)), 1e-12)
    u = target_energy(model, mcmc.x, cond) - base.energy(mcmc.x)
    return state._replace(x=mcmc.x, u=u, step_size=eps), acc


def anneal(
    model: Any, base: Base, *, n_groups: int, group_size: int, n_pilot_groups: int, betas: Tensor | None = None,
    cess: float = 0.9, resample_threshold: float = 0.5, kernel: str = "mala", steps_per_temperature: int = 5,
    n_leapfrog: int = 5, step_size: float | None = None, adapt_step_size: bool = True,
    target_accept: float | None = None, max_temperatures: int = 1000, cond: tuple[Tensor, ...] = (),
    generator: torch.Generator | None = None, dtype: torch.dtype | None = None, device: Any = None,
    progress: bool = False,
) -> SMCResult:
    """Run the module docstring's algorithm from the base to the model; the core of :func:`smc` and of
    :func:`scorematch.metrics.ais_log_z`.

    Args:
        model: ``Energy(net)`` or any object with ``energy(x, *cond)`` and ``score(x, *cond)``.
        base: the base distribution (:class:`~scorematch.samplers.tempered.Base`).
        n_groups, group_size: ``M`` weighted groups of ``G`` particles.
        n_pilot_groups: ``P`` pilot groups of ``G`` (≥ 1 when the ladder or the step size is adapted).
        betas: a fixed ladder from 0 to 1; ``None`` adapts it by the pilot's conditional ESS ``cess``.
        resample_threshold: a group is resampled when its ESS falls below this fraction of ``G``.
        kernel, steps_per_temperature, n_leapfrog: the moves, ``"mala"`` or ``"hmc"`` (leapfrog steps per move).
        step_size: the initial ε (default ``0.5 s²`` for MALA, ``0.5 s`` for HMC); adapted on the pilot groups
            towards ``target_accept`` (0.57 for MALA, 0.75 for HMC) unless ``adapt_step_size`` is false.
        max_temperatures: the adaptive ladder jumps to β = 1 after this many steps.
    """
    check_choice("kernel", kernel, MOVES)
    for name, value in (("n_groups", n_groups), ("group_size", group_size), ("steps_per_temperature", steps_per_temperature),
                        ("n_leapfrog", n_leapfrog), ("max_temperatures", max_temperatures)):
        check_count(name, value)
    if not 0 < cess < 1:
        raise ValueError(f"cess must lie in (0, 1), got {cess!r}")
    target_accept = TARGET_ACCEPT[kernel] if target_accept is None else target_accept
    if not 0 < target_accept < 1:
        raise ValueError(f"target_accept must lie in (0, 1), got {target_accept!r}")
    if (betas is None or adapt_step_size) and n_pilot_groups < 1:
        raise ValueError("an adaptive ladder or step size needs at least one pilot group")
    eps = (0.5 * base.std**2 if kernel == "mala" else 0.5 * base.std) if step_size is None else \
        check_positive("step_size", step_size)
    opts = dict(dtype=dtype or torch.get_default_dtype(), device=device)
    k, n_all = n_groups * group_size, (n_groups + n_pilot_groups) * group_size
    x = base.sample(n_all, generator, **opts)
    u = target_energy(model, x, cond) - base.energy(x)
    state = SMCState(x, u, torch.zeros(n_all, **opts), torch.zeros(n_groups + n_pilot_groups, **opts), 0.0, eps)
    ladder, log = [0.0], {"ess": [], "accept": [], "step": [], "resampled": []}
    fixed = None if betas is None else [float(b) for b in betas[1:]]
    with progress_bar(len(fixed) if fixed else 0, progress, "SMC") as bar:
        while state.beta < 1.0:
            if fixed is not None:
                beta = fixed[len(ladder) - 1]
            elif len(ladder) >= max_temperatures:
                beta = 1.0
            else:
                global_w = state.log_w[k:] + state.log_z[n_groups:].repeat_interleave(group_size)
                if not torch.isfinite(global_w - state.u[k:]).any():
                    raise ValueError("SMC failed: the largest log-weight is -inf (the energy is not finite at any "
                                     "particle: is it finite and bounded below?)")
                beta = next_beta(state.u[k:], global_w, state.beta, cess)
            state, resampled, ess = _reweight(state, beta, group_size, resample_threshold, k, generator)
            state, acc = _move(state, model, base, cond, kind=kernel, steps_per_temperature=steps_per_temperature,
                               n_leapfrog=n_leapfrog, n_pilot=n_all - k, adapt=adapt_step_size, target_accept=target_accept,
                               generator=generator)
            ladder.append(beta)
            for key, value in (("ess", ess), ("accept", acc), ("step", state.step_size), ("resampled", resampled)):
                log[key].append(value)
            bar.update(1)
            bar.set_postfix(beta=f"{beta:.3g}", refresh=False)
    return _result(state, base, n_groups, group_size, ladder, log)


def _reweight(state: SMCState, beta: float, g: int, threshold: float, k: int,
              generator: torch.Generator | None) -> tuple[SMCState, float, float]:
    log_w = torch.nan_to_num(state.log_w - (beta - state.beta) * state.u, nan=-math.inf, neginf=-math.inf)
    by_group = log_w.view(-1, g)
    ess = (weights_ess(log_w[:k] + state.log_z[: k // g].repeat_interleave(g)) / k).item()
    low = weights_ess(by_group) < threshold * g
    x, u, log_z = state.x, state.u, state.log_z
    if g > 1 and low.any():
        rows = low.nonzero().squeeze(1)
        log_z = log_z.clone()
        log_z[rows] += (torch.logsumexp(by_group[rows], 1) - math.log(g)).to(log_z)
        idx = torch.arange(x.shape[0], device=x.device).view(-1, g).clone()
        idx[rows] = rows.unsqueeze(1) * g + systematic_resample(by_group[rows], g, generator)
        idx = idx.view(-1)
        x, u = x[idx], u[idx]
        by_group = by_group.clone()
        by_group[rows] = 0.0
        log_w = by_group.view(-1)
    resampled = low[: k // g].double().mean().item() if g > 1 else 0.0
    return state._replace(x=x, u=u, log_w=log_w, log_z=log_z, beta=beta), resampled, ess


def _result(state: SMCState, base: Base, m: int, g: int, ladder: list[float], log: dict[str, list[float]]) -> SMCResult:
    k = m * g
    log_w = state.log_w[:k] + state.log_z[:m].repeat_interleave(g) + base.log_z
    groups = torch.logsumexp(log_w.view(m, g).double(), 1) - math.log(g)
    log_z = (torch.logsumexp(groups, 0) - math.log(m)).item()
    se = log_z_standard_error(groups)
    t = lambda key: torch.tensor(log[key], dtype=torch.float64)  # noqa: E731
    return SMCResult(state.x[:k], log_w, log_z, se, groups, torch.tensor(ladder, dtype=torch.float64), t("ess"),
                     t("accept"), t("step"), t("resampled"), state.step_size)


def pooled(run: SMCResult) -> SMCResult:
    r"""The weighted particles and groups of every rank's run joined (``run`` itself in one process): each group's
    :math:`\hat Z_m` is unbiased whatever ladder its rank chose, so :math:`\hat Z` averages the groups of all ranks
    and the pooled weights :math:`e^{L_{m(i)} + \ell_i}` weigh each rank's particles by its groups' evidence. The
    per-step records (ladder, acceptance) stay this rank's."""
    from .._infra.distributed import gather, world

    if world()[1] == 1:
        return run
    groups = gather(run.log_z_groups.to(run.log_weights.device)).double()
    log_z = (torch.logsumexp(groups, 0) - math.log(groups.numel())).item()
    se = log_z_standard_error(groups)
    return run._replace(samples=gather(run.samples), log_weights=gather(run.log_weights), log_z=log_z,
                        standard_error=se, log_z_groups=groups.cpu())


class SMCSamples(NamedTuple):
    r"""``n`` equally weighted draws ``x`` from :math:`e^{-E}/Z`, :math:`\log\hat Z` with its standard error, the
    effective sample size of the pooled weights before the final resampling (in particles) and the full run."""

    x: Tensor
    log_z: float
    standard_error: float
    ess: float
    run: SMCResult


def smc(
    model: Any, n: int, event_shape: int | tuple[int, ...], *, base_mean: float | Tensor = 0.0, base_std: float = 2.0,
    n_groups: int = 16, pilot_fraction: float = 0.25, cess: float = 0.95, kernel: str = "mala",
    steps_per_temperature: int = 10, cond: tuple[Tensor, ...] = (), generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None, device: Any = None, progress: bool = False, pool_ranks: bool = False, **options: Any,
) -> SMCSamples:
    r"""``n`` samples from :math:`e^{-E}/Z` with the right weights between modes, and :math:`\log Z`, by SMC from a
    broad base :math:`N(m, s^2 I)`; see the module docstring. ``options`` go to :func:`anneal`.

    The ``n`` particles form ``n_groups`` groups (of ``ceil(n / n_groups)``); ``pilot_fraction`` · that many more
    particles steer the ladder and the step size. The base should cover every mode of the model.

    ``pool_ranks``: under a ``torch.distributed`` process group every rank runs its own groups (with its own
    ``generator``, e.g. :func:`scorematch._infra.distributed.noise_generator`) and :func:`pooled` joins the weighted
    particles of all ranks before the final resampling, so each rank's ``n`` draws (its share) and ``log Z`` come
    from all groups of all ranks.

    >>> from scorematch import Energy
    >>> two = Energy(lambda x: -torch.logsumexp(torch.stack([                    # ⅕ N(-4, 0.3²) + ⅘ N(4, 0.3²)
    ...     math.log(0.2) - (x[:, 0] + 4) ** 2 / 0.18, math.log(0.8) - (x[:, 0] - 4) ** 2 / 0.18]), 0))
    >>> out = smc(two, 4000, 1, base_std=6.0, generator=torch.Generator().manual_seed(0))
    >>> round((out.x[:, 0] > 0).double().mean().item(), 1)
    0.8
    """
    check_count("n", n)
    shape = (event_shape,) if isinstance(event_shape, int) else tuple(event_shape)
    m = min(check_count("n_groups", n_groups), n)
    g = math.ceil(n / m)
    if not 0 < pilot_fraction <= 1:
        raise ValueError(f"pilot_fraction must lie in (0, 1], got {pilot_fraction!r}")
    run = anneal(model, Base(shape, base_mean, base_std), n_groups=m, group_size=g,
                 n_pilot_groups=max(1, round(pilot_fraction * m)), cess=cess, kernel=kernel,
                 steps_per_temperature=steps_per_temperature, cond=cond, generator=generator, dtype=dtype, device=device,
                 progress=progress, **options)
    if not torch.isfinite(run.log_weights.max()):
        raise ValueError(f"SMC failed: the largest log-weight is {run.log_weights.max().item()} "
                         "(is the energy finite and bounded below?)")
    if pool_ranks:
        run = pooled(run)
    idx = systematic_resample(run.log_weights.unsqueeze(0), n, generator)[0]
    ess = weights_ess(run.log_weights).item()
    return SMCSamples(run.samples[idx], run.log_z, run.standard_error, ess, run)
