r"""How noise-conditional networks see the noise level σ.

A network conditioned on σ is called as ``net(x, sigma)``; :func:`sigma_per_sample` turns ``sigma`` (a Python
number, a 0-d tensor or a tensor of shape ``(B,)``) into one σ per sample, and :class:`SigmaEmbedding` maps it
to features of :math:`\log\sigma`:

.. math::

    e(\sigma) = \big[\log\sigma,\ \sin(\omega_k \log\sigma),\ \cos(\omega_k \log\sigma)\big]_{k=0}^{K-1},
    \qquad \omega_k = 2^k / 2 ,

a vector of ``1 + 2K`` numbers. Noise levels span orders of magnitude (0.01 to 50 is common), so the
embedding works on :math:`\log\sigma`; the lowest frequency has period :math:`4\pi \approx 12.6` in
:math:`\log\sigma` (more than the width of any practical σ range, so no two levels alias), each further one
halves the period. The frequencies are fixed, not learned.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._infra.checks import check_count, check_positive

__all__ = ["SigmaEmbedding", "sigma_per_sample"]


def sigma_per_sample(sigma: float | Tensor, x: Tensor) -> Tensor:
    """One noise level per sample of ``x``: shape ``(B,)``, ``x``'s dtype and device.

    A Python number (checked > 0) or a 0-d tensor is repeated over the batch; a tensor of shape ``(B,)`` is
    used as is. Tensors are not checked for positivity (that would synchronise a GPU); σ ≤ 0 gives NaN.

    >>> sigma_per_sample(0.5, torch.zeros(3, 2))
    tensor([0.5000, 0.5000, 0.5000])
    """
    b = x.shape[0]
    if not isinstance(sigma, Tensor):
        sigma = check_positive("sigma", sigma)
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if sigma.ndim == 0:
        return sigma.expand(b)
    if sigma.shape != (b,):
        raise ValueError(f"sigma must be a number or have shape ({b},) for a batch of {b}; got {tuple(sigma.shape)}")
    return sigma


class SigmaEmbedding(nn.Module):
    r"""Fixed features of :math:`\log\sigma`: ``(B,) -> (B, 1 + 2·n_frequencies)``; formula in the module docstring.

    Args:
        n_frequencies: number ``K`` of sine/cosine pairs (≥ 1).

    >>> emb = SigmaEmbedding(n_frequencies=2)
    >>> emb(torch.tensor([1.0, 0.1])).shape, emb.dim
    (torch.Size([2, 5]), 5)
    """

    def __init__(self, n_frequencies: int = 4):
        super().__init__()
        check_count("n_frequencies", n_frequencies)
        self.dim = 1 + 2 * n_frequencies
        self.register_buffer("frequencies", 2.0 ** torch.arange(n_frequencies) / 2, persistent=False)

    def forward(self, sigma: Tensor) -> Tensor:
        log_sigma = sigma.log().unsqueeze(-1)
        phase = log_sigma * self.frequencies.to(log_sigma.dtype)
        return torch.cat([log_sigma, phase.sin(), phase.cos()], dim=-1)
