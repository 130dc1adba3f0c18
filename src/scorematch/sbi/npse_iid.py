r"""The posterior of iid observations :math:`x_1, \dots, x_k` from a posterior score network trained on single
observations: the diffused posterior's score composed from the k single-observation scores and the diffused
prior's, then sampled from the SDE's prior down as for one observation.

With :math:`s_i = s(z, \sigma, x_i)` the network at observation i and :math:`s_\lambda = \nabla \log \pi_\sigma(z)`
the score of the prior diffused to σ (both in the standardized θ, :math:`z`), Bayes' rule for the undiffused
posterior, :math:`p(\theta \mid x_{1:k}) \propto \pi(\theta)^{1-k} \prod_i p(\theta \mid x_i)`, gives two
compositions:

* ``"fnpe"`` (Geffner, Papamakarios & Mnih 2023): :math:`\sum_i s_i + (1 - k)\, s_\lambda`, exact at σ = 0 but
  not in between, where diffusion does not commute with the product;
* ``"gauss"`` (Linhart et al. 2024, the default): each term weighted by the inverse covariance of its denoiser,
  exact at every σ when the posteriors and the prior are Gaussian. With :math:`P_i` the precision of the single
  posterior given :math:`x_i` (from 256 draws of it by the same sampler), :math:`P_\lambda` the prior's and
  :math:`A = \sum_i P_i + (1 - k) P_\lambda` (its eigenvalues floored at 10⁻³ of the largest),

  .. math::

      \nabla \log p_\sigma(z \mid x_{1:k}) \approx (\sigma^2 A + I)^{-1}
      \Big[\sum_i (\sigma^2 P_i + I)\, s_i + (1 - k)(\sigma^2 P_\lambda + I)\, s_\lambda\Big].

The diffused prior's score is exact: for a box :math:`[a, b]` (in z),
:math:`\log \pi_\sigma(z) = \sum_j \log[\Phi((b_j - z_j)/\sigma) - \Phi((a_j - z_j)/\sigma)] + c`, and for a
Gaussian :math:`\mathcal N(m, C)`, :math:`-(C + \sigma^2 I)^{-1}(z - m)`. Outside a box the prior's term is left
out: there the true posterior has no mass, and :math:`(1 - k)\,s_\lambda` would push draws further out (measured on
two_moons with 10 observations: 8.6% of the draws inside the prior on one observation with it, 100% without).

Measured (10⁴ simulations, 10 iid observations, observations 1–5, C2ST against the exact posterior):
gaussian_linear 0.695 with ``"fnpe"`` (its draws' standard deviations 0.8 of the posterior's), 0.555 with
``"gauss"``; two_moons 0.695 with either; sbi 0.27's NPSE (its ``auto_gauss``) 0.749 and 0.847 in the same
protocol.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.distributions import Distribution, Independent, MultivariateNormal, Normal, Uniform

from ..samplers.reverse import reverse_sample

__all__ = ["IID_METHODS", "compose", "diffused_prior_score", "iid_score", "takes_iid"]

IID_METHODS = ("gauss", "fnpe")
_ROWS = 1 << 16  # network rows per evaluation: observations are taken in groups below this

PriorScore = Callable[[Tensor, float], Tensor]


def _unwrap(prior: Distribution) -> Distribution:
    return prior.base_dist if isinstance(prior, Independent) else prior


def takes_iid(prior: Distribution) -> bool:
    """Whether the diffused prior's score is known, so that several observations can be composed."""
    return isinstance(_unwrap(prior), (Uniform, Normal, MultivariateNormal))


def prior_moments(prior: Distribution, mean: Tensor, sd: Tensor) -> tuple[Tensor, Tensor]:
    """The prior's mean and covariance in the standardized θ, :math:`z = (\\theta - \\mu)/s`."""
    base = _unwrap(prior)
    p = mean.shape[0]
    if isinstance(base, MultivariateNormal):
        m, c = base.loc.double().expand(p), base.covariance_matrix.double()
    elif isinstance(base, (Uniform, Normal)):
        m, c = base.mean.double().expand(p), torch.diag(base.variance.double().expand(p))
    else:
        raise ValueError(f"npse with several observations needs the diffused prior's score, which is known for "
                         f"box-uniform and Gaussian priors; this prior is a {type(base).__name__}: use the method fsm")
    return (m - mean) / sd, c / sd[:, None] / sd[None, :]


def diffused_prior_score(prior: Distribution, mean: Tensor, sd: Tensor) -> PriorScore:
    r""":math:`\nabla_z \log \pi_\sigma(z)` for the prior of θ standardized by ``mean`` and ``sd`` and diffused by
    :math:`\mathcal N(0, \sigma^2 I)` (module docstring), as ``score(z, sigma)``; zero outside a box prior."""
    base = _unwrap(prior)
    m, c = prior_moments(prior, mean, sd)
    if isinstance(base, Uniform):
        a, b = (base.low.double() - mean) / sd, (base.high.double() - mean) / sd

        def box(z: Tensor, sigma: float) -> Tensor:
            with torch.enable_grad():
                z = z.detach().requires_grad_(True)
                upper, lower = (b - z) / sigma, (a - z) / sigma
                right = z > (a + b) / 2  # Φ(u) − Φ(l) as Φ(−l) − Φ(−u) left of the centre, where both tails are tiny
                hi = torch.special.log_ndtr(torch.where(right, upper, -lower))
                lo = torch.special.log_ndtr(torch.where(right, lower, -upper))
                log_mass = hi + torch.log1p(-torch.exp(lo - hi).clamp_max(1 - 1e-16))
                grad = torch.autograd.grad(log_mass.sum(), z)[0]
            return torch.where((z < a) | (z > b), torch.zeros_like(grad), grad)

        return box
    lam, u = torch.linalg.eigh(c)

    def gaussian(z: Tensor, sigma: float) -> Tensor:
        return -(((z - m) @ u) / (lam + sigma**2)) @ u.T

    return gaussian


def _single_precision(score_at: Callable[[Tensor], Callable[[Tensor, Tensor], Tensor]], sde, x: Tensor, p: int,
                      generator: torch.Generator | None) -> Tensor:
    z, _ = reverse_sample(score_at(x[None]), sde, 256, (p,), sampler="sde", steps=200, generator=generator,
                          dtype=torch.float64)
    z = z[torch.isfinite(z).all(-1)]
    cov = torch.cov(z.T).reshape(p, p) + 1e-9 * torch.eye(p, dtype=z.dtype)
    return torch.linalg.inv(cov)


def iid_score(net, sde, prior: Distribution, xs: Tensor, *, method: str = "gauss",
              generator: torch.Generator | None = None) -> Callable[[Tensor, Tensor], Tensor]:
    """The composed time score ``score(z, t)`` of the diffused posterior given the iid observations ``xs``
    ``(k, d)``, from the posterior score network ``net`` (:class:`~scorematch.sbi.npse.PosteriorScoreNet`)."""
    if method not in IID_METHODS:
        raise ValueError(f"iid method must be one of {', '.join(IID_METHODS)}, got {method!r}")
    k, p = xs.shape[0], net.theta_mean.shape[0]
    xs = xs.double()
    prior_score = diffused_prior_score(prior, net.theta_mean, net.theta_sd)

    def at(obs: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
        def score(z: Tensor, t: Tensor) -> Tensor:
            with torch.no_grad():
                return net(z, sde.std(t).expand(z.shape[0]), obs.expand(z.shape[0], -1))

        return score

    weights = None
    if method == "gauss":
        precisions = torch.stack([_single_precision(at, sde, x, p, generator) for x in xs])
        prior_precision = torch.linalg.inv(prior_moments(prior, net.theta_mean, net.theta_sd)[1])
        weights = (precisions, prior_precision)

    def score(z: Tensor, t: Tensor) -> Tensor:
        m, sigma = z.shape[0], float(sde.std(t))
        per = []
        group = max(1, _ROWS // m)
        with torch.no_grad():
            for start in range(0, k, group):
                obs = xs[start:start + group]
                out = net(z.repeat(obs.shape[0], 1), torch.full((m * obs.shape[0],), sigma, dtype=z.dtype),
                          obs.repeat_interleave(m, 0))
                per.append(out.reshape(obs.shape[0], m, p))
        return compose(torch.cat(per), prior_score(z, sigma), sigma, weights)

    return score


def compose(scores: Tensor, prior_score: Tensor, sigma: float,
            precisions: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """The module docstring's composition of the single-observation scores ``(k, m, p)`` and the diffused prior's
    ``(m, p)`` at noise ``sigma``: Geffner et al.'s sum without ``precisions``, else weighted by the single
    posteriors' precisions ``(k, p, p)`` and the prior's ``(p, p)``."""
    k, p = scores.shape[0], scores.shape[-1]
    if precisions is None:
        return scores.sum(0) + (1 - k) * prior_score
    single, prior = precisions
    lam, u = torch.linalg.eigh(single.sum(0) + (1 - k) * prior)
    a = (u * lam.clamp_min(1e-3 * float(lam.max()))) @ u.T  # the composed precision, kept positive
    s2 = sigma**2
    total = torch.einsum("kmp,kpq->mq", scores, s2 * single) + scores.sum(0)
    total = total + (1 - k) * (prior_score @ (s2 * prior) + prior_score)
    return torch.linalg.solve(s2 * a + torch.eye(p, dtype=scores.dtype), total.T).T
