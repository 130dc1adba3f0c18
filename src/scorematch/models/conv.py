r"""A small noise-conditional convolutional score network for image batches ``(B, c, h, w)``.

Architecture of :class:`NoiseConditionalScoreCNN` (``W`` = ``width`` channels throughout, every convolution
3×3 with padding 1, so any ``h × w`` keeps its size — 8×8 digits, odd sizes such as 5×7, even 1×1):

.. math::

    t = \mathrm{SiLU}(A\,e(\sigma)),\qquad h_0 = \mathrm{conv}_{\text{in}}(x),

    h_{k} = h_{k-1} + \mathrm{conv}_{k,2}\,\mathrm{SiLU}\big((1 + \gamma_k(t)) \odot N_{k,2}(\mathrm{conv}_{k,1}\,
    \mathrm{SiLU}(N_{k,1}(h_{k-1}))) + \beta_k(t)\big),\quad k = 1..K,

    s_\theta(x, \sigma) = \mathrm{conv}_{\text{out}}\,\mathrm{SiLU}(N_{\text{out}}(h_K))\ \big/\ \sigma
    \quad(\text{the } /\sigma \text{ with } \texttt{scale\_by\_sigma}).

``e(σ)`` is :class:`~scorematch.models.embedding.SigmaEmbedding` (features of :math:`\log\sigma`); each residual
block reads the shared σ features ``t`` through its own linear map to a channel-wise scale :math:`\gamma_k` and
shift :math:`\beta_k` (FiLM). The normalisations :math:`N` are ``GroupNorm`` — statistics of one sample only, so
each sample's output depends on that sample alone, which the derivative code requires (batch normalisation
would break it) — or the identity with ``groups=None``. With ``scale_by_sigma`` (default, as NCSNv2) the output
is divided by σ because the score of data smoothed at level σ has magnitude ≈ 1/σ. The defaults give about
93k parameters for one channel, small enough to train on 8×8 digits on a CPU.

:class:`ScoreCNN` is the same network for one noise level: ``net(x)``, its σ input held at 1 and not divided by.
"""

from __future__ import annotations

from torch import Tensor, nn

from .._infra.checks import check_count
from .._infra.shapes import per_sample_view
from .embedding import SigmaEmbedding, sigma_per_sample

__all__ = ["NoiseConditionalScoreCNN", "ScoreCNN"]


def _norm(width: int, groups: int | None) -> nn.Module:
    return nn.Identity() if groups is None else nn.GroupNorm(groups, width)


class _Block(nn.Module):
    """One residual block with a FiLM (scale/shift) injection of the σ features."""

    def __init__(self, width: int, n_cond: int, groups: int | None):
        super().__init__()
        self.norm1, self.conv1 = _norm(width, groups), nn.Conv2d(width, width, 3, padding=1)
        self.norm2, self.conv2 = _norm(width, groups), nn.Conv2d(width, width, 3, padding=1)
        self.film = nn.Linear(n_cond, 2 * width)
        self.act = nn.SiLU()

    def forward(self, h: Tensor, t: Tensor) -> Tensor:
        gamma, beta = self.film(t)[:, :, None, None].chunk(2, dim=1)
        y = self.conv1(self.act(self.norm1(h)))
        y = self.conv2(self.act((1 + gamma) * self.norm2(y) + beta))
        return h + y


class NoiseConditionalScoreCNN(nn.Module):
    r"""Score :math:`s_\theta(x, \sigma)` of images, called ``net(x, sigma)``; shape ``x.shape``.

    Architecture in the module docstring.

    Args:
        channels: channels ``c`` of the images (≥ 1).
        width: feature channels ``W`` of every block (≥ 1; a multiple of ``groups``).
        n_blocks: number ``K`` of residual blocks (≥ 1); the receptive field is ``4K + 5`` pixels wide.
        groups: ``GroupNorm`` groups, or ``None`` for no normalisation.
        n_frequencies: sine/cosine pairs in the σ embedding (≥ 1).
        cond_width: width of the shared σ features ``t`` (≥ 1).
        scale_by_sigma: divide the output by σ.

    ``sigma`` is a number, a 0-d tensor or a tensor of shape ``(B,)``.

    >>> import torch, scorematch
    >>> model = scorematch.Score(NoiseConditionalScoreCNN(1))
    >>> model(torch.randn(4, 1, 5, 7), torch.tensor([1.0, 0.5, 0.1, 0.1])).shape
    torch.Size([4, 1, 5, 7])
    """

    def __init__(
        self,
        channels: int,
        width: int = 32,
        n_blocks: int = 4,
        *,
        groups: int | None = 8,
        n_frequencies: int = 4,
        cond_width: int = 64,
        scale_by_sigma: bool = True,
    ):
        super().__init__()
        for name, value in [("channels", channels), ("width", width), ("n_blocks", n_blocks),
                            ("cond_width", cond_width)]:
            check_count(name, value)
        if groups is not None and width % check_count("groups", groups):
            raise ValueError(f"width must be a multiple of groups; got width={width}, groups={groups}")
        self.channels, self.scale_by_sigma = channels, bool(scale_by_sigma)
        self.embed = SigmaEmbedding(n_frequencies)
        self.cond = nn.Sequential(nn.Linear(self.embed.dim, cond_width), nn.SiLU())
        self.conv_in = nn.Conv2d(channels, width, 3, padding=1)
        self.blocks = nn.ModuleList(_Block(width, cond_width, groups) for _ in range(n_blocks))
        self.head = nn.Sequential(_norm(width, groups), nn.SiLU(), nn.Conv2d(width, channels, 3, padding=1))

    def forward(self, x: Tensor, sigma: float | Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"{type(self).__name__} expects images of shape (B, {self.channels}, h, w); "
                             f"got {tuple(x.shape)}")
        sigma = sigma_per_sample(sigma, x)
        t = self.cond(self.embed(sigma))
        h = self.conv_in(x)
        for block in self.blocks:
            h = block(h, t)
        out = self.head(h)
        return out / per_sample_view(sigma, out) if self.scale_by_sigma else out

    def extra_repr(self) -> str:
        return f"channels={self.channels}, scale_by_sigma={self.scale_by_sigma}"


class ScoreCNN(NoiseConditionalScoreCNN):
    r"""Score :math:`s_\theta(x)` of images for objectives with no noise level (explicit, sliced, denoising at one
    σ): :class:`NoiseConditionalScoreCNN` called as ``net(x)``, its σ features those of σ = 1 (learned like the
    rest) and no division by σ. Arguments as there.

    >>> import torch
    >>> ScoreCNN(1, width=8, n_blocks=1)(torch.randn(2, 1, 8, 8)).shape
    torch.Size([2, 1, 8, 8])
    """

    def __init__(self, channels: int, width: int = 32, n_blocks: int = 4, *, groups: int | None = 8,
                 n_frequencies: int = 4, cond_width: int = 64):
        super().__init__(channels, width, n_blocks, groups=groups, n_frequencies=n_frequencies,
                         cond_width=cond_width, scale_by_sigma=False)

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        return super().forward(x, 1.0)
