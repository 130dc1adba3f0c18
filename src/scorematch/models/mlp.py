r"""Multilayer perceptrons for energies and scores, plain and noise-conditional, on any event shape.

Each sample ``x`` of event shape ``event`` is flattened to ``D = prod(event)`` numbers and fed to a trunk

.. math::

    h_0 = u,\qquad h_l = \phi(W_l h_{l-1} + b_l)\ \ (l = 1..L),\qquad y = W_{L+1} h_L + b_{L+1},

``L = depth``, with ``u = x`` (plain nets) or ``u = [x, e(σ)]`` (noise-conditional nets; ``e`` is
:class:`~scorematch.models.embedding.SigmaEmbedding`, features of :math:`\log\sigma`). Energy nets output one
number per sample, shape ``(B,)``; score nets output ``D`` numbers reshaped to ``x.shape``.

* The trunk is a plain ``nn.Sequential`` of ``nn.Linear`` and elementwise activation modules, exposed as
  ``.net``, so code that walks it layer by layer (value, gradient and Laplacian in one forward sweep) can.
  In a noise-conditional net the first ``D`` inputs of ``.net`` are ``x``; the rest, ``e(σ)``, are
  constant in ``x``.
* Energy nets have no output bias: a constant shift of an energy changes no score, so no score-matching
  loss could train it.
* **Noise-conditional scaling** (``scale_by_sigma=True``, the default, as in NCSNv2, Song & Ermon 2020):
  the output is divided by σ. The score of data smoothed by :math:`N(0, \sigma^2 I)` has magnitude
  :math:`\approx 1/\sigma` near the data (for a point mass it is :math:`-(x - x_0)/\sigma^2`, with
  :math:`\lVert x - x_0\rVert \approx \sigma\sqrt D`), so dividing by σ lets the trunk output numbers of
  order one at every level. For an energy net the energy is divided by σ, so its score carries the same 1/σ.
* **Initialisation** (``init``): ``"torch"`` (the default) keeps PyTorch's own initialisation of ``nn.Linear``,
  weights and biases uniform on :math:`\pm 1/\sqrt{\text{fan\_in}}`: the energy starts small and nearly flat,
  and on heavy-tailed and higher-dimensional data explicit and sliced score matching fit markedly better from it
  (``QUALITY.md``). ``"variance"``: biases zero, weights :math:`N(0, c^2/\text{fan\_in})` with :math:`c = 1` for
  the first layer and, after an activation, its gain :math:`c = E_{z\sim N(0,1)}[\phi(z)^2]^{-1/2}`, so that
  every pre-activation and the output start with second moment ≈ 1.
* **Activations**: smooth ones (``"silu"`` by default, ``"softplus"``, ``"tanh"``, ``"gelu"``, ``"elu"``).
  ``"relu"`` and ``"leaky_relu"`` are accepted, but an energy net built from them warns: it is piecewise
  linear, its Laplacian is zero almost everywhere, so objectives with second derivatives (explicit and
  sliced score matching) see no curvature. A ReLU score net does not warn: its Jacobian is piecewise
  constant but not zero.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .._infra.checks import check_choice, check_count
from .._infra.defaults import DEFAULTS
from .._infra.shapes import per_sample_view
from .embedding import SigmaEmbedding, sigma_per_sample

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "EnergyMLP",
    "NoiseConditionalEnergyMLP",
    "NoiseConditionalScoreMLP",
    "ScoreMLP",
    "make_trunk",
]

# name: (module class, gain E[φ(z)²]^(-1/2) for z ~ N(0, 1), piecewise linear)
_ACTIVATIONS: dict[str, tuple[type[nn.Module], float, bool]] = {
    "silu": (nn.SiLU, 1.677, False),
    "softplus": (nn.Softplus, 1.042, False),
    "tanh": (nn.Tanh, 1.593, False),
    "gelu": (nn.GELU, 1.534, False),
    "elu": (nn.ELU, 1.245, False),
    "relu": (nn.ReLU, math.sqrt(2.0), True),
    "leaky_relu": (nn.LeakyReLU, math.sqrt(2.0), True),
}
ACTIVATIONS: tuple[str, ...] = tuple(_ACTIVATIONS)
INITS: tuple[str, ...] = ("torch", "variance")

EventShape = int | Sequence[int]


def _event_shape(dim: EventShape) -> tuple[int, ...]:
    shape = (dim,) if isinstance(dim, int) and not isinstance(dim, bool) else tuple(dim)
    if not shape:
        raise ValueError("dim must be an integer >= 1 or a non-empty event shape, got ()")
    for n in shape:
        check_count("dim" if len(shape) == 1 else f"every entry of dim {shape}", n)
    return shape


def make_trunk(n_in: int, n_out: int, *, hidden: int, depth: int, activation: str, out_bias: bool = True,
               init: str = DEFAULTS.init) -> nn.Sequential:
    """``Linear(n_in, hidden), φ, [Linear(hidden, hidden), φ] × (depth − 1), Linear(hidden, n_out)``.

    Validates ``hidden``/``depth`` (≥ 1), ``activation`` (one of :data:`ACTIVATIONS`) and ``init`` (one of
    :data:`INITS`) and initialises as in the module docstring.

    >>> make_trunk(3, 1, hidden=8, depth=1, activation="tanh", out_bias=False)
    Sequential(
      (0): Linear(in_features=3, out_features=8, bias=True)
      (1): Tanh()
      (2): Linear(in_features=8, out_features=1, bias=False)
    )
    """
    check_count("hidden", hidden)
    check_count("depth", depth)
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("init", init, INITS)
    act, gain, _ = _ACTIVATIONS[activation]
    layers: list[nn.Module] = []
    width = n_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), act()]
        width = hidden
    layers.append(nn.Linear(width, n_out, bias=out_bias))
    if init == "torch":
        return nn.Sequential(*layers)
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.Linear):
            c = 1.0 if i == 0 else gain
            nn.init.normal_(layer.weight, std=c / math.sqrt(layer.in_features))
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


class _MLP(nn.Module):
    energy: bool
    conditional: bool

    def __init__(self, dim: EventShape, hidden: int, depth: int, activation: str, n_frequencies: int = 4,
                 scale_by_sigma: bool = True, init: str = DEFAULTS.init):
        super().__init__()
        self.event_shape = _event_shape(dim)
        d = math.prod(self.event_shape)
        self.embed = SigmaEmbedding(n_frequencies) if self.conditional else None
        n_in = d + (self.embed.dim if self.embed is not None else 0)
        self.scale_by_sigma = bool(scale_by_sigma) and self.conditional
        self.net = make_trunk(n_in, 1 if self.energy else d, hidden=hidden, depth=depth, activation=activation,
                              out_bias=not self.energy, init=init)
        if self.energy and _ACTIVATIONS[activation][2]:
            warnings.warn(
                f"activation={activation!r} makes the energy piecewise linear: its Laplacian is zero almost "
                "everywhere, so score-matching objectives with second derivatives (explicit, sliced) see no "
                "curvature; prefer a smooth activation such as 'silu' or 'softplus'",
                UserWarning, stacklevel=3,
            )

    def trunk_input(self, x: Tensor, *cond: Tensor | float) -> tuple[Tensor, int, Tensor | None]:
        r"""What the trunk ``self.net`` is applied to at ``x``: ``(u, d, scale)``.

        ``u`` ``(B, d + k)`` is ``x`` flattened to its ``d`` columns, followed for a noise-conditional net by the
        ``k`` features of σ; ``scale`` is σ per sample when the output is divided by it (``scale_by_sigma``), else
        ``None``. So ``self(x, *cond) == out(self.net(u)) / scale`` with ``out`` the reshape to one energy per sample
        or to ``x``'s shape. This is the interface the analytic sweeps (:mod:`scorematch.sweeps`) walk a net by:
        they differentiate ``self.net`` with respect to the first ``d`` columns of ``u``.
        """
        if self.embed is None:
            if cond:
                raise ValueError(f"{type(self).__name__} takes no condition; got {len(cond)}")
            return self._inputs(x), math.prod(self.event_shape), None
        if len(cond) != 1:
            raise ValueError(f"a {type(self).__name__} takes one condition, sigma")
        sigma = sigma_per_sample(cond[0], x)
        xs = self._inputs(x)
        return torch.cat([xs, self.embed(sigma)], dim=1), xs.shape[1], sigma if self.scale_by_sigma else None

    def _inputs(self, x: Tensor) -> Tensor:
        if x.shape[1:] != self.event_shape:
            raise ValueError(f"{type(self).__name__} expects inputs of shape (B, {', '.join(map(str, self.event_shape))}); "
                             f"got {tuple(x.shape)}")
        return x.flatten(1)

    def _outputs(self, y: Tensor, x: Tensor) -> Tensor:
        return y.squeeze(-1) if self.energy else y.reshape(x.shape)

    def extra_repr(self) -> str:
        extra = f", scale_by_sigma={self.scale_by_sigma}" if self.conditional else ""
        return f"event_shape={self.event_shape}{extra}"


class _Plain(_MLP):
    conditional = False

    def __init__(self, dim: EventShape, hidden: int = DEFAULTS.hidden, depth: int = DEFAULTS.depth,
                 activation: str = DEFAULTS.activation, *, init: str = DEFAULTS.init):
        super().__init__(dim, hidden, depth, activation, init=init)

    def forward(self, x: Tensor) -> Tensor:
        return self._outputs(self.net(self._inputs(x)), x)


class _Conditional(_MLP):
    conditional = True

    def __init__(self, dim: EventShape, hidden: int = DEFAULTS.hidden, depth: int = DEFAULTS.depth,
                 activation: str = DEFAULTS.activation, *, n_frequencies: int = 4, scale_by_sigma: bool = True,
                 init: str = DEFAULTS.init):
        super().__init__(dim, hidden, depth, activation, n_frequencies, scale_by_sigma, init)

    def forward(self, x: Tensor, sigma: float | Tensor) -> Tensor:
        u, _, scale = self.trunk_input(x, sigma)
        y = self._outputs(self.net(u), x)
        return y / per_sample_view(scale, y) if scale is not None else y


class EnergyMLP(_Plain):
    r"""Energy :math:`E_\theta(x)`, one per sample, shape ``(B,)``; architecture in the module docstring.

    Args:
        dim: event shape of one sample (an int ``d`` for vectors, or a tuple such as ``(1, 8, 8)``).
        hidden: width of each hidden layer (≥ 1).
        depth: number of hidden layers (≥ 1).
        activation: one of :data:`ACTIVATIONS`; smooth by default.
        init: ``"torch"`` (PyTorch's default) or ``"variance"`` (module docstring).

    >>> import torch, scorematch
    >>> model = scorematch.Energy(EnergyMLP(2))
    >>> model(torch.randn(5, 2)).shape, model.score(torch.randn(5, 2)).shape
    (torch.Size([5]), torch.Size([5, 2]))
    """

    energy = True


class ScoreMLP(_Plain):
    r"""Score :math:`s_\theta(x)` of ``x``'s shape; architecture in the module docstring, arguments as :class:`EnergyMLP`.

    >>> import torch, scorematch
    >>> model = scorematch.Score(ScoreMLP((2, 3), hidden=32))
    >>> model(torch.randn(5, 2, 3)).shape
    torch.Size([5, 2, 3])
    """

    energy = False


class NoiseConditionalEnergyMLP(_Conditional):
    r"""Energy :math:`E_\theta(x, \sigma)`, called ``net(x, sigma)``; shape ``(B,)``.

    The trunk sees ``[x, e(σ)]``; with ``scale_by_sigma`` its output is divided by σ (module docstring).

    Args:
        dim, hidden, depth, activation: as :class:`EnergyMLP`.
        n_frequencies: sine/cosine pairs in the σ embedding (≥ 1).
        scale_by_sigma: divide the energy by σ (default ``True``: its score then carries the 1/σ of the
            smoothed data's score, as for :class:`NoiseConditionalScoreMLP`).

    ``sigma`` is a number, a 0-d tensor or a tensor of shape ``(B,)``.

    >>> import torch, scorematch
    >>> model = scorematch.Energy(NoiseConditionalEnergyMLP(2))
    >>> model(torch.randn(5, 2), torch.full((5,), 0.1)).shape
    torch.Size([5])
    """

    energy = True


class NoiseConditionalScoreMLP(_Conditional):
    r"""Score :math:`s_\theta(x, \sigma)`, called ``net(x, sigma)``; shape ``x.shape``.

    The trunk sees ``[x, e(σ)]``; with ``scale_by_sigma`` (default) its output is divided by σ, because the
    score of data smoothed at level σ has magnitude ≈ 1/σ (module docstring). Arguments as
    :class:`NoiseConditionalEnergyMLP`.

    >>> import torch, scorematch
    >>> from scorematch.losses import multiscale_denoising
    >>> model = scorematch.Score(NoiseConditionalScoreMLP(2))
    >>> multiscale_denoising(model, torch.randn(5, 2), sigmas=[1.0, 0.1]).shape
    torch.Size([5])
    """

    energy = False
