r"""Convergence diagnostics over independent chains: rank-normalised split :math:`\hat R` and bulk effective sample
size (Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021, "Rank-normalization, folding, and localization: an
improved R̂", Bayesian Analysis 16).

``draws`` has shape ``(n, C)`` (or ``(n, C, k)`` for ``k`` quantities at once): ``n`` draws of each of ``C`` chains.
Each chain is split in halves (``2C`` chains of ``n' = ⌊n/2⌋``), all draws are replaced by normal scores of their
ranks, :math:`z = \Phi^{-1}((r - 3/8)/(S + 1/4))` (ties share their mean rank), and with the mean within-chain
variance :math:`W` and the variance of the chain means :math:`B/n'`:

.. math::

    \widehat{\mathrm{var}}^+ = \frac{n'-1}{n'}W + \frac{B}{n'},\qquad \hat R = \sqrt{\widehat{\mathrm{var}}^+ / W}.

:func:`split_rhat` is the larger of this and the same on the *folded* draws :math:`|x - \mathrm{median}|` (which
catches chains that agree in location but not in scale). The effective sample size uses the autocorrelations
:math:`\hat\rho_t = 1 - (W - \overline{\gamma_t})/\widehat{\mathrm{var}}^+` (:math:`\overline{\gamma_t}`: the chains'
mean autocovariance at lag ``t``), summed in pairs up to the first negative pair and made monotone (Geyer 1992):
:math:`\mathrm{ESS} = 2Cn' / \hat\tau`, :math:`\hat\tau = -1 + 2\sum_k(\hat\rho_{2k} + \hat\rho_{2k+1})`.
:math:`\hat R` near 1 (below 1.01) and an ESS of a few hundred are the usual bars.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["RHAT_LIMIT", "effective_sample_size", "split_rhat"]

RHAT_LIMIT = 1.01


def _as_columns(draws: Tensor) -> Tensor:
    d = torch.as_tensor(draws).detach().to("cpu", torch.float64)
    if d.ndim == 2:
        d = d.unsqueeze(-1)
    if d.ndim != 3 or d.shape[0] < 4 or d.shape[1] < 1:
        raise ValueError(f"draws must have shape (n, chains) or (n, chains, k) with n >= 4, got {tuple(d.shape)}")
    return d


def _split(d: Tensor) -> Tensor:
    half = d.shape[0] // 2
    return torch.cat([d[:half], d[d.shape[0] - half:]], 1)  # (n', 2C, k)


def _normal_scores(d: Tensor) -> Tensor:
    out = torch.empty_like(d)
    size = d.shape[0] * d.shape[1]
    for j in range(d.shape[2]):
        _, inverse, counts = torch.unique(d[..., j].reshape(-1), return_inverse=True, return_counts=True)
        mean_rank = counts.cumsum(0).double() - (counts.double() - 1) / 2
        r = mean_rank[inverse].view(d.shape[:2])
        out[..., j] = torch.special.ndtri((r - 0.375) / (size + 0.25))
    return out


def _variances(z: Tensor) -> tuple[Tensor, Tensor]:
    n = z.shape[0]
    w = z.var(0, unbiased=True).mean(0)
    var_plus = (n - 1) / n * w + z.mean(0).var(0, unbiased=True)
    return w, var_plus


def _rhat(z: Tensor) -> Tensor:
    w, var_plus = _variances(z)
    r = (var_plus / w).sqrt()
    return torch.where(w > 0, r, torch.where(var_plus > 0, math.inf, 1.0))


def split_rhat(draws: Tensor) -> Tensor:
    """Rank-normalised split :math:`\\hat R` (the larger of bulk and folded) per quantity: a scalar tensor for
    ``(n, C)`` draws, ``(k,)`` for ``(n, C, k)``. Needs ``n >= 4``.

    >>> g = torch.Generator().manual_seed(0)
    >>> mixed = torch.randn(200, 8, generator=g)
    >>> stuck = mixed + torch.arange(8.0) * 3          # each chain in its own place
    >>> bool(split_rhat(mixed) < 1.01), bool(split_rhat(stuck) > 2)
    (True, True)
    """
    d = _split(_as_columns(draws))
    folded = (d - d.flatten(0, 1).median(0).values).abs()
    r = torch.maximum(_rhat(_normal_scores(d)), _rhat(_normal_scores(folded)))
    return r if torch.as_tensor(draws).ndim == 3 else r[0]


def effective_sample_size(draws: Tensor) -> Tensor:
    """Bulk effective sample size (rank-normalised, split chains) per quantity, shaped like :func:`split_rhat`'s.

    >>> g = torch.Generator().manual_seed(0)
    >>> iid = torch.randn(500, 4, generator=g)
    >>> 1500 < float(effective_sample_size(iid)) < 2700   # about n · C = 2000
    True
    """
    z = _normal_scores(_split(_as_columns(draws)))
    n, c = z.shape[0], z.shape[1]
    centred = z - z.mean(0)
    size = 1 << (2 * n - 1).bit_length()
    f = torch.fft.rfft(centred, n=size, dim=0)
    acov = torch.fft.irfft(f * f.conj(), n=size, dim=0)[:n] / n        # (n, 2C, k), biased autocovariances
    w, var_plus = _variances(z)
    rho = 1 - (w - acov.mean(1) * n / (n - 1)) / var_plus              # (n, k)
    rho[0] = 1.0
    ess = torch.empty(z.shape[2], dtype=torch.float64)
    for j in range(z.shape[2]):
        if not var_plus[j] > 0:
            ess[j] = math.nan
            continue
        pairs = rho[: n - n % 2, j].view(-1, 2).sum(1)
        positive = (pairs < 0).nonzero()
        pairs = pairs[: int(positive[0]) if len(positive) else len(pairs)]
        pairs = torch.cummin(pairs, 0).values                            # Geyer's monotone sequence
        tau = max(-1 + 2 * pairs.sum().item(), 1 / math.log10(max(n * c, 10)))
        ess[j] = n * c / tau
    return ess if torch.as_tensor(draws).ndim == 3 else ess[0]
