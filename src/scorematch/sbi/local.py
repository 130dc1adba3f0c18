r"""Fisher score matching, local (Khoo, Wang, Liu & Beaumont 2025): the maximum likelihood without a likelihood, by
Fisher scoring with a score learned in closed form around the current parameters, and its standard errors.

**The local score.** At the current :math:`\theta_t`, simulate :math:`x_i \sim p(x \mid \theta_t + \sigma\odot
\varepsilon_i)` (i = 1 … m) and fit a score linear in the features :math:`\phi(x)` (the data by default),
:math:`s(x) = A\,\phi(x) + c`, by the denoising regression of :mod:`~scorematch.sbi.fisher` with θ held at
:math:`\theta_t`,

.. math::

    \min_{A, c} \sum_i \big\|\sigma \odot (A\phi(x_i) + c) - \varepsilon_i\big\|^2 ,

an ordinary least-squares problem, solved exactly. Its population minimiser is
:math:`\mathbb E[\varepsilon/\sigma \mid x]`, the θ-score at :math:`\theta_t` of the likelihood smoothed at width
σ, projected on the linear span of φ (exact when the model is an exponential family in φ, e.g. a Gaussian
location model).

**Fisher scoring.** With observations :math:`x^o_1 … x^o_n`, the score of the sample is
:math:`S = \sum_j s(x^o_j)` and the Fisher information of one observation
:math:`I = \operatorname{Cov}_{x \sim p(\cdot\mid\theta_t)}[s(x)]`, estimated from the fitted score at the
simulations. The step

.. math::

    \theta_{t+1} = \theta_t + (n I)^{-1} S

is Newton's for the log-likelihood when the score is right, so it stops at its root, the maximum likelihood.
A step longer than half the prior's standard deviation in some coordinate is shortened to that (a trust region:
with few simulations per step the estimated information can be near-singular, and on ``gaussian_linear`` (p = 10,
one observation, 2000 simulations per step) undamped scoring left the prior's range within five steps). The
estimate returned is the mean of the last half of the iterates (each step's simulation noise averages out), and
its standard errors :math:`\sqrt{\operatorname{diag}(nI)^{-1}}` at that point (asymptotic normality of the MLE).

**Noise width:** σ = 0.1 · the prior's sd, a third of the amortised rule's: the local score is only used at
:math:`\theta_t`, so the smoothing bias is what matters, and the least squares average the noise of ε/σ over all
m simulations. Measured on a Gaussian scale model (x ~ N(0, e^{2θ}), 50 observations, φ(x) = x², MLE 0.541, se
0.1): at 0.3 · sd the estimate was 0.472 with se 0.125; at 0.1 · sd and m = 8000, 0.538 / 0.540 / 0.521 over three
seeds with se 0.104; at 0.05 · sd and m = 32000, 0.544 / 0.550 / 0.537.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .fisher import fisher_simulations, noise_width
from .tasks import Task, sample_prior

__all__ = ["LocalFit", "LocalScore", "local_mle", "local_score"]


@dataclass(frozen=True)
class LocalScore:
    """The local score :math:`s(x) = A\\phi(x) + c` at ``theta`` and the Fisher information ``fisher`` ``(p, p)``
    of one observation there."""

    theta: Tensor
    A: Tensor
    c: Tensor
    fisher: Tensor
    features: Callable[[Tensor], Tensor]

    def __call__(self, x: Tensor) -> Tensor:
        """s(x) ``(B, p)`` for x ``(B, d)``."""
        return self.features(x.double()) @ self.A.T + self.c


def local_score(task: Task, theta: Tensor, n_simulations: int, sigma: Tensor, *,
                features: Callable[[Tensor], Tensor] | None = None,
                generator: torch.Generator | None = None) -> LocalScore:
    """The closed-form local score at ``theta`` ``(p,)`` from ``n_simulations`` simulations (module docstring)."""
    features = features or (lambda x: x)
    theta = theta.double().reshape(-1)
    _, eps, x = fisher_simulations(task, n_simulations, sigma, generator, theta=theta)
    phi = features(x)
    design = torch.cat([phi, torch.ones(len(phi), 1, dtype=phi.dtype)], 1)
    # σ ⊙ (A φ + c) ≈ ε, one coordinate of θ at a time: (A φ + c)_k ≈ ε_k / σ_k
    coef = torch.linalg.lstsq(design, eps / sigma).solution            # (q + 1, p)
    A, c = coef[:-1].T, coef[-1]
    s = phi @ A.T + c
    return LocalScore(theta, A, c, torch.cov(s.T).reshape(theta.numel(), theta.numel()), features)


@dataclass(frozen=True)
class LocalFit:
    """The maximum-likelihood estimate ``theta`` with standard errors ``se``, the Fisher information of the sample
    ``information`` (n I), and the iterates ``path`` ``(steps + 1, p)``."""

    theta: Tensor
    se: Tensor
    information: Tensor
    path: Tensor


def local_mle(task: Task, observations: Tensor, *, theta0: Tensor | None = None, steps: int = 40,
              n_simulations: int = 4000, sigma: Tensor | None = None,
              features: Callable[[Tensor], Tensor] | None = None,
              generator: torch.Generator | None = None) -> LocalFit:
    """Fisher scoring from ``theta0`` (the prior's mean by default) with a local score at every step; see the module
    docstring. ``observations`` ``(n, d)`` are iid draws of the simulator at the unknown θ."""
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    xs = observations.double().reshape(-1, observations.shape[-1])
    n = xs.shape[0]
    sigma = noise_width(task.prior, generator=g) / 3 if sigma is None else torch.as_tensor(sigma, dtype=torch.float64)
    draws = sample_prior(task.prior, 10000, g).double()
    scale = draws.std(0)
    theta = (draws.mean(0) if theta0 is None else theta0.double()).reshape(-1)
    path = [theta]
    for _ in range(steps):
        local = local_score(task, theta, n_simulations, sigma, features=features, generator=g)
        step = torch.linalg.solve(n * local.fisher, local(xs).sum(0))
        largest = float((step / scale).abs().max())      # the trust region: half a prior sd per coordinate
        theta = theta + (step * (0.5 / largest) if largest > 0.5 else step)
        path.append(theta)
    trace = torch.stack(path)
    estimate = trace[len(trace) // 2:].mean(0)
    local = local_score(task, estimate, 4 * n_simulations, sigma, features=features, generator=g)
    information = n * local.fisher
    return LocalFit(estimate, torch.linalg.inv(information).diagonal().sqrt(), information, trace)
