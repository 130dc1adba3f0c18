r"""Simulation-based inference tasks: a prior, a simulator, and where known the likelihood and the exact posterior.

A :class:`Task` holds a prior (a ``torch.distributions`` object over θ ``(p,)``), a simulator
``simulator(theta, generator) -> x`` (``(B, p) -> (B, d)``), the parameters' names, and optionally the exact
log-likelihood ``log p(x | θ)`` and an exact posterior sampler. Its ten observations are fixed: θ⁽ʲ⁾ drawn from the
prior and x⁽ʲ⁾ from the simulator with the seeds ``1000 + j`` (j = 1 … 10) — our own draws, made the same way as
the benchmark's (Lueckmann et al. 2021, sbibm), not its stored files.

The built-in tasks follow their published definitions (sbibm):

``gaussian_linear`` (p = d = 10)
    :math:`\theta \sim N(0, 0.1\,I)`, :math:`x \mid \theta \sim N(\theta, 0.1\,I)`. The posterior is Gaussian,
    :math:`N(x/2,\ 0.05\,I)`.
``two_moons`` (p = d = 2)
    :math:`\theta \sim U(-1, 1)^2`, :math:`a \sim U(-\pi/2, \pi/2)`, :math:`r \sim N(0.1, 0.01^2)`,
    :math:`x = (r\cos a + 0.25,\ r\sin a) + \big(-|\theta_1 + \theta_2|/\sqrt2,\ (\theta_2 - \theta_1)/\sqrt2\big)`.
    With :math:`q = x - (0.25, 0) - c(\theta)` (c the last vector), :math:`p(x\mid\theta) = N(|q|; 0.1, 0.01^2)
    / (\pi |q|)` where :math:`q_1 > 0` (polar coordinates), else 0. The map :math:`\theta \mapsto c(\theta)` is
    two-to-one and orthogonal on each branch (unit Jacobian), so drawing q, a branch with probability ½, solving for
    θ and keeping the draws inside the prior's box samples the posterior exactly.
``slcp`` (p = 5, d = 8)
    :math:`\theta \sim U(-3, 3)^5`; four independent draws of
    :math:`N\big((\theta_1, \theta_2),\ \Sigma\big)`, :math:`\Sigma = \begin{pmatrix}s_1^2 & \rho s_1 s_2\\
    \rho s_1 s_2 & s_2^2\end{pmatrix}`, :math:`s_1 = \theta_3^2`, :math:`s_2 = \theta_4^2`,
    :math:`\rho = \tanh\theta_5`, flattened. Its posterior has four modes (the signs of θ₃ and θ₄); its
    reference draws are the library's SMC on the exact likelihood (16 groups, 20 MALA moves per temperature, then
    60 at the target), as sbibm's are MCMC draws, with the signs of θ₃ and θ₄ then drawn afresh: the likelihood
    depends on them only through their squares, so the four modes have equal mass (SMC's own mode weights
    varied between runs, e.g. 24/66/11/12% against 1/96/1/3% on observation 2).
``gaussian_mixture`` (p = d = 2)
    :math:`\theta \sim U(-10, 10)^2`, :math:`x \mid \theta \sim \tfrac12 N(\theta, I) + \tfrac12 N(\theta,
    0.01\,I)`. The likelihood is symmetric in x and θ, so the posterior is the same mixture centred at x,
    truncated to the box: sampled exactly by rejection.

``bernoulli_glm`` (p = d = 10)
    A generalized linear model of a spiking neuron: 100 time bins of a white-noise stimulus
    :math:`I_t \sim N(0, 1)` (numpy's ``RandomState(42)``, as the benchmark's), a design matrix X whose first
    column is ones and whose column k + 1 is the stimulus delayed by k bins (k = 0 … 8), spikes
    :math:`y_t \sim \text{Bernoulli}(\operatorname{sigmoid}((X\theta)_t))` and the data their sufficient statistics
    :math:`x = X^\top y` (the spike count and the spike-triggered sums). The prior is Gaussian with mean 0 and
    precision :math:`\operatorname{blockdiag}(0.5,\ F^\top F)`, :math:`F = D^2 + \operatorname{diag}(\sqrt{k/9})`,
    D the first-difference matrix of size 9 (a smooth filter). Because x is sufficient,
    :math:`\log p(x \mid \theta) = \theta^\top x - \sum_t \log(1 + e^{(X\theta)_t})` up to a term constant in θ
    (the number of spike trains with these statistics), which is what ``log_likelihood`` returns; the posterior is
    log-concave and its reference draws are the library's SMC on it.

A user's simulator comes in through :func:`load_task` from a Python file defining ``prior`` and ``simulator``; the
file is user code and runs as such.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.distributions import Distribution, Independent, MultivariateNormal, Uniform

__all__ = ["N_OBSERVATIONS", "TASKS", "Task", "get_task", "load_task", "sample_prior"]

N_OBSERVATIONS = 10
_F64 = torch.float64

Simulator = Callable[[Tensor, torch.Generator | None], Tensor]


def sample_prior(prior: Distribution, n: int, generator: torch.Generator | None = None) -> Tensor:
    """``n`` draws ``(n, p)`` from any ``torch.distributions`` prior, reproducible from ``generator``: its
    ``sample`` runs under a seed drawn from the generator, the global random state left as it was."""
    seed = int(torch.randint(0, 2**62, (), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return prior.sample((n,))


@dataclass(frozen=True)
class Task:
    """A simulation-based inference problem; see the module docstring."""

    name: str
    prior: Distribution
    simulator: Simulator
    parameter_names: tuple[str, ...]
    log_likelihood: Callable[[Tensor, Tensor], Tensor] | None = None
    posterior_sampler: Callable[[Tensor, int, torch.Generator | None], Tensor] | None = None

    @property
    def dim_parameters(self) -> int:
        return len(self.parameter_names)

    def simulate(self, theta: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """x ``(B, d)`` for θ ``(B, p)``, one simulation per row. A simulator that raises, returns something other
        than a tensor of B rows, or returns NaN or ±∞ is a one-line ``ValueError`` naming the task."""
        try:
            x = self.simulator(theta, generator)
        except Exception as e:  # user code: whatever it raises becomes one line
            text = str(e).splitlines()[0] if str(e) else ""
            raise ValueError(f"{self.name}: the simulator raised {type(e).__name__}: {text}") from None
        if not isinstance(x, Tensor):
            raise ValueError(f"{self.name}: the simulator must return a torch tensor, got {type(x).__name__}")
        if x.ndim != 2 or x.shape[0] != theta.shape[0]:
            raise ValueError(f"{self.name}: the simulator returned shape {tuple(x.shape)} for θ of shape "
                             f"{tuple(theta.shape)}; expected ({theta.shape[0]}, d), one row per θ")
        if not torch.isfinite(x).all():
            bad = int((~torch.isfinite(x).all(-1)).sum())
            raise ValueError(f"{self.name}: the simulator returned NaN or infinite values in {bad} of "
                             f"{x.shape[0]} simulations")
        return x

    def simulations(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``n`` pairs (θ, x) with θ from the prior."""
        theta = sample_prior(self.prior, n, generator)
        return theta, self.simulate(theta, generator)

    def observation(self, j: int) -> tuple[Tensor, Tensor]:
        """The fixed observation ``j`` (1 … 10): the true θ ``(p,)`` and x ``(d,)`` (seed ``1000 + j``)."""
        if not 1 <= j <= N_OBSERVATIONS:
            raise ValueError(f"observation must be 1 to {N_OBSERVATIONS}, got {j}")
        theta, x = self.simulations(1, torch.Generator().manual_seed(1000 + j))
        return theta[0], x[0]

    def reference_posterior(self, x: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` exact draws ``(n, p)`` of p(θ | x) for one observation ``x`` ``(d,)``."""
        if self.posterior_sampler is None:
            raise ValueError(f"the task {self.name} has no exact posterior sampler")
        return self.posterior_sampler(x, n, generator)


def _smc_reference(energy: Callable[[Tensor], Tensor], n: int, p: int, base_std: float,
                   g: torch.Generator | None, moves: int = 60) -> Tensor:
    """``n`` draws of :math:`e^{-E}` by SMC (16 groups, 20 MALA moves per temperature), then ``moves`` MALA moves
    at the target from the resampled particles, in coordinates scaled by their standard deviations, the step
    tuned over the first third towards an acceptance of 0.6: resampling repeats particles (a quarter to a third of
    2000 draws on slcp and bernoulli_glm), and a classifier tells two such sets apart (C2ST 0.71 and 0.68 between
    two runs), while the moves leave the target invariant."""
    from ..fields import Energy
    from ..samplers.mala import mala_init, mala_step
    from ..samplers.smc import smc

    x = smc(Energy(energy), n, (p,), base_std=base_std, n_groups=16, steps_per_temperature=20, generator=g,
            dtype=_F64).x
    centre, scale = x.mean(0), x.std(0).clamp_min(1e-12)
    scaled = Energy(lambda u: energy(centre + scale * u))
    state, eps = mala_init((x - centre) / scale, scaled), 0.5 / p
    for k in range(moves):
        state, info = mala_step(state, scaled, eps, generator=g)
        if k < moves // 3:
            eps *= math.exp(float(info.accept_prob.mean()) - 0.6)
    return centre + scale * state.x


def _accepted(n: int, propose: Callable[[int], Tensor], factor: int, name: str) -> Tensor:
    """``n`` draws by rejection: ``propose(m)`` returns the accepted ones of ``m`` candidates, ``m = factor ·
    (still needed) + 64``, until ``n`` are in."""
    out, have, empty = [], 0, 0
    while have < n:
        out.append(propose(factor * (n - have) + 64))
        have += out[-1].shape[0]
        empty = 0 if out[-1].numel() else empty + 1
        if empty > 50:
            raise ValueError(f"{name}: this observation has (almost) no posterior mass inside the prior")
    return torch.cat(out)[:n]


# ---- gaussian_linear --------------------------------------------------------------------------------------------

def _gaussian_linear() -> Task:
    p, var = 10, 0.1
    prior = MultivariateNormal(torch.zeros(p, dtype=_F64), var * torch.eye(p, dtype=_F64))

    def simulator(theta: Tensor, g: torch.Generator | None) -> Tensor:
        return theta + math.sqrt(var) * torch.randn(theta.shape, generator=g, dtype=theta.dtype)

    def log_likelihood(theta: Tensor, x: Tensor) -> Tensor:
        return -0.5 * ((x - theta).square().sum(-1) / var + p * math.log(2 * math.pi * var))

    def posterior(x: Tensor, n: int, g: torch.Generator | None) -> Tensor:
        return x / 2 + math.sqrt(var / 2) * torch.randn(n, p, generator=g, dtype=_F64)

    return Task("gaussian_linear", prior, simulator, tuple(f"theta{i + 1}" for i in range(p)), log_likelihood,
                posterior)


# ---- two_moons --------------------------------------------------------------------------------------------------

def _moon_shift(theta: Tensor) -> Tensor:
    """:math:`c(\\theta) = (-|\\theta_1 + \\theta_2|/\\sqrt2,\\ (\\theta_2 - \\theta_1)/\\sqrt2)`."""
    return torch.stack([-(theta[..., 0] + theta[..., 1]).abs(), theta[..., 1] - theta[..., 0]], -1) / math.sqrt(2)


def _two_moons() -> Task:
    prior = Independent(Uniform(-torch.ones(2, dtype=_F64), torch.ones(2, dtype=_F64)), 1)

    def moon(n: int, g: torch.Generator | None, dtype: torch.dtype) -> Tensor:
        a = (torch.rand(n, generator=g, dtype=dtype) - 0.5) * math.pi
        r = 0.1 + 0.01 * torch.randn(n, generator=g, dtype=dtype)
        return torch.stack([r * torch.cos(a), r * torch.sin(a)], -1)

    def simulator(theta: Tensor, g: torch.Generator | None) -> Tensor:
        q = moon(theta.shape[0], g, theta.dtype)
        return q + torch.tensor([0.25, 0.0], dtype=theta.dtype) + _moon_shift(theta)

    def log_likelihood(theta: Tensor, x: Tensor) -> Tensor:
        q = x - torch.tensor([0.25, 0.0], dtype=x.dtype) - _moon_shift(theta)
        r = q.norm(dim=-1)
        log_p = -0.5 * ((r - 0.1) / 0.01).square() - math.log(0.01 * math.sqrt(2 * math.pi)) - math.log(math.pi) \
            - r.log()
        return torch.where(q[..., 0] > 0, log_p, torch.full_like(log_p, -math.inf))

    def posterior(x: Tensor, n: int, g: torch.Generator | None) -> Tensor:
        def propose(m: int) -> Tensor:
            c = x.to(_F64) - torch.tensor([0.25, 0.0], dtype=_F64) - moon(m, g, _F64)
            u = -math.sqrt(2) * c[:, 0] * torch.where(torch.rand(m, generator=g, dtype=_F64) < 0.5, 1.0, -1.0)
            v = math.sqrt(2) * c[:, 1]
            theta = torch.stack([(u - v) / 2, (u + v) / 2], -1)
            return theta[(c[:, 0] <= 0) & (theta.abs() <= 1).all(-1)]

        return _accepted(n, propose, 4, "two_moons")

    return Task("two_moons", prior, simulator, ("theta1", "theta2"), log_likelihood, posterior)


# ---- slcp -------------------------------------------------------------------------------------------------------

def _slcp_moments(theta: Tensor) -> tuple[Tensor, Tensor]:
    s1, s2, rho = theta[..., 2].square(), theta[..., 3].square(), torch.tanh(theta[..., 4])
    cov = torch.stack([torch.stack([s1**2, rho * s1 * s2], -1), torch.stack([rho * s1 * s2, s2**2], -1)], -2)
    return theta[..., :2], cov


def _slcp() -> Task:
    prior = Independent(Uniform(-3 * torch.ones(5, dtype=_F64), 3 * torch.ones(5, dtype=_F64)), 1)

    def simulator(theta: Tensor, g: torch.Generator | None) -> Tensor:
        mean, cov = _slcp_moments(theta)
        chol = torch.linalg.cholesky(cov + 1e-12 * torch.eye(2, dtype=theta.dtype))
        z = torch.randn(theta.shape[0], 4, 2, generator=g, dtype=theta.dtype)
        return (mean[:, None] + (chol[:, None] @ z[..., None])[..., 0]).reshape(theta.shape[0], 8)

    def log_likelihood(theta: Tensor, x: Tensor) -> Tensor:
        mean, cov = _slcp_moments(theta)
        law = MultivariateNormal(mean[..., None, :], cov[..., None, :, :], validate_args=False)
        return law.log_prob(x.reshape(*x.shape[:-1], 4, 2)).sum(-1)

    def posterior(x: Tensor, n: int, g: torch.Generator | None) -> Tensor:
        def energy(theta: Tensor) -> Tensor:  # −log p(x | θ) − log π(θ), +∞ outside the box
            inside = (theta.abs() <= 3).all(-1)
            safe = torch.where(inside[:, None], theta, torch.ones_like(theta))
            e = -log_likelihood(safe, x.to(theta).expand(theta.shape[0], -1))
            return torch.where(inside, e, torch.full_like(e, math.inf))

        draws = _smc_reference(energy, n, 5, 3.0, g)
        signs = 2 * torch.randint(0, 2, (n, 2), generator=g).to(_F64) - 1  # the four modes have equal mass
        return torch.cat([draws[:, :2], draws[:, 2:4].abs() * signs, draws[:, 4:]], 1)

    return Task("slcp", prior, simulator, tuple(f"theta{i + 1}" for i in range(5)), log_likelihood, posterior)


# ---- gaussian_mixture -------------------------------------------------------------------------------------------

def _gaussian_mixture() -> Task:
    prior = Independent(Uniform(-10 * torch.ones(2, dtype=_F64), 10 * torch.ones(2, dtype=_F64)), 1)
    scales = (1.0, 0.1)

    def draw(centre: Tensor, n: int, g: torch.Generator | None) -> Tensor:
        wide = torch.rand(n, generator=g, dtype=centre.dtype) < 0.5
        scale = torch.where(wide, scales[0], scales[1])[:, None]
        return centre + scale * torch.randn(n, 2, generator=g, dtype=centre.dtype)

    def simulator(theta: Tensor, g: torch.Generator | None) -> Tensor:
        return draw(theta, theta.shape[0], g)

    def log_likelihood(theta: Tensor, x: Tensor) -> Tensor:
        parts = [math.log(0.5) - 0.5 * (x - theta).square().sum(-1) / s**2 - 2 * math.log(s) - math.log(2 * math.pi)
                 for s in scales]
        return torch.logaddexp(*parts)

    def posterior(x: Tensor, n: int, g: torch.Generator | None) -> Tensor:
        def propose(m: int) -> Tensor:
            theta = draw(x.to(_F64).expand(m, 2), m, g)
            return theta[(theta.abs() <= 10).all(-1)]

        return _accepted(n, propose, 2, "gaussian_mixture")

    return Task("gaussian_mixture", prior, simulator, ("theta1", "theta2"), log_likelihood, posterior)


# ---- bernoulli_glm ----------------------------------------------------------------------------------------------

def _glm_design() -> Tensor:
    import numpy as np

    stimulus = torch.from_numpy(np.random.RandomState(42).randn(100)).to(_F64)
    design = torch.zeros(100, 10, dtype=_F64)
    design[:, 0] = 1.0
    for k in range(9):
        design[k:, k + 1] = stimulus[: 100 - k]
    return design


def _bernoulli_glm() -> Task:
    m = 9
    diff = torch.eye(m, dtype=_F64) - torch.diag(torch.ones(m - 1, dtype=_F64), -1)
    f = diff @ diff + torch.diag(torch.arange(m, dtype=_F64) / m) ** 0.5
    precision = torch.zeros(m + 1, m + 1, dtype=_F64)
    precision[0, 0] = 0.5
    precision[1:, 1:] = f.T @ f
    prior = MultivariateNormal(torch.zeros(m + 1, dtype=_F64), precision_matrix=precision)
    design = _glm_design()

    def simulator(theta: Tensor, g: torch.Generator | None) -> Tensor:
        rate = torch.sigmoid(theta.to(_F64) @ design.T)
        spikes = (torch.rand(rate.shape, generator=g, dtype=_F64) < rate).to(_F64)
        return (spikes @ design).to(theta.dtype)

    def log_likelihood(theta: Tensor, x: Tensor) -> Tensor:
        eta = theta @ design.to(theta).T  # log(1 + e^η) exactly (softplus is linear above 20)
        return (theta * x).sum(-1) - torch.logaddexp(torch.zeros_like(eta), eta).sum(-1)

    def posterior(x: Tensor, n: int, g: torch.Generator | None) -> Tensor:
        def energy(theta: Tensor) -> Tensor:
            return -log_likelihood(theta, x.to(theta)) - prior.log_prob(theta)

        return _smc_reference(energy, n, m + 1, float(prior.stddev.max()), g)

    return Task("bernoulli_glm", prior, simulator, ("offset", *(f"filter{k + 1}" for k in range(m))),
                log_likelihood, posterior)


TASKS: dict[str, Callable[[], Task]] = {"gaussian_linear": _gaussian_linear, "two_moons": _two_moons,
                                        "slcp": _slcp, "gaussian_mixture": _gaussian_mixture,
                                        "bernoulli_glm": _bernoulli_glm}


def get_task(name: str) -> Task:
    """A built-in task by name."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; built-in: {', '.join(TASKS)}")
    return TASKS[name]()


def load_task(path: str | Path) -> Task:
    """A task from a Python file that defines ``prior`` (a ``torch.distributions`` object) and
    ``simulator(theta, generator) -> x``, and optionally ``parameter_names`` and ``log_likelihood(theta, x)``.
    The file is user code: importing it runs it."""
    path = Path(path)
    if not path.is_file() or path.suffix != ".py":
        raise ValueError(f"{path}: a task file must be an existing .py file")
    spec = importlib.util.spec_from_file_location(f"scorematch_task_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    prior, simulator = getattr(module, "prior", None), getattr(module, "simulator", None)
    if not isinstance(prior, Distribution):
        raise ValueError(f"{path}: needs `prior`, a torch.distributions object")
    if not callable(simulator):
        raise ValueError(f"{path}: needs `simulator(theta, generator) -> x`")
    p = int(sample_prior(prior, 1, torch.Generator().manual_seed(0)).shape[-1])
    names = tuple(getattr(module, "parameter_names", [f"theta{i + 1}" for i in range(p)]))
    if len(names) != p:
        raise ValueError(f"{path}: parameter_names has {len(names)} names for {p} parameters")
    return Task(path.stem, prior, simulator, names, getattr(module, "log_likelihood", None))
