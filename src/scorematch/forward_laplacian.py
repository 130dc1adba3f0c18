r"""Energy, gradient and Laplacian of an MLP energy in one forward sweep (the "forward Laplacian").

For a trunk of ``nn.Linear`` layers and smooth elementwise activations φ, each layer's output ``h`` is carried
together with its Jacobian :math:`J = \partial h/\partial x` (shape ``(B, w, D)``) and Laplacian
:math:`L = \Delta_x h` (shape ``(B, w)``):

.. math::

    \text{Linear:}\quad h \mapsto W h + b,\quad J \mapsto W J,\quad L \mapsto W L;\qquad
    \text{φ:}\quad h \mapsto \phi(h),\quad J \mapsto \phi'(h)\odot J,\quad
    L \mapsto \phi'(h)\odot L + \phi''(h)\odot \textstyle\sum_d J_{:,d}^2 .

The energy's Laplacian is the last ``L``. An activation needs only the row sums of squares
:math:`q = \sum_d J_{:,d}^2 = \operatorname{diag}(J J^\top)`, so when ``D`` exceeds the width the Gram matrix
:math:`G = J J^\top` (``(B, w, w)``) is carried instead: Linear :math:`G \mapsto W G W^\top`, φ
:math:`G \mapsto \operatorname{diag}(\phi') G \operatorname{diag}(\phi')`.

Costs, per Linear ``w_in → w_out`` after the first (``B`` samples, ``D = prod(event)``):

* Jacobian mode: :math:`O(B\,w_{out} w_{in} D)`; Gram mode: :math:`O(B\,w_{out} w_{in} (w_{in} + w_{out}))`,
  and only :math:`O(B\,w_{out} w_{in}^2)` for the last Linear before the last activation (only
  :math:`\operatorname{diag}(W G W^\top)` is needed there). ``mode="auto"`` picks the cheaper.
* Nothing per sample for the first Linear: :math:`J_1 = W_1` and :math:`G_1 = W_1 W_1^\top`
  (:math:`O(w^2 D)` once) are shared by the batch, and activations scale rows lazily (:math:`J = \operatorname{diag}(s) K`),
  so no ``(B, w, D)`` tensor exists until a second Linear needs one; ``L_1 = 0``. ``J`` is held transposed,
  ``(B, D, w)``, so each Linear is one GEMM over the folded batch.
* The gradient :math:`\nabla_x E` comes from a hand-written reverse sweep over the stored :math:`\phi'`
  (:math:`O(B\,w_{in} w_{out})` per layer, :math:`O(B\,w D)` for the first), independent of the mode.

Every step is an ordinary differentiable torch op, so a loss built from the results back-propagates to all
parameters. ReLU and LeakyReLU are exact almost everywhere (:math:`\phi'' = 0` off the kink, as autograd
has it); their energies have zero Laplacian a.e. (the models docstring explains why that is unhelpful).
Reference: Li et al. 2023, "A computational framework for neural network-based variational Monte Carlo
with Forward Laplacian".
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .fields import Energy
from .models.embedding import sigma_per_sample
from .models.mlp import EnergyMLP, NoiseConditionalEnergyMLP

__all__ = ["ACTIVATION_DERIVATIVES", "energy_grad_laplacian", "explicit_fast", "supports"]

_SQRT_2PI = math.sqrt(2.0 * math.pi)
_C_TANH = math.sqrt(2.0 / math.pi)
Derivs = tuple[Tensor, Tensor, Tensor]  # φ(z), φ'(z), φ''(z)


def _silu(m: nn.Module, z: Tensor) -> Derivs:
    s = torch.sigmoid(z)
    return z * s, s * (1 + z * (1 - s)), s * (1 - s) * (2 + z * (1 - 2 * s))


def _softplus(m: nn.Module, z: Tensor) -> Derivs:  # linear where βz > threshold, as torch computes it
    bz = m.beta * z
    s, linear = torch.sigmoid(bz), bz > m.threshold
    d1 = torch.where(linear, torch.ones_like(z), s)
    return F.softplus(z, m.beta, m.threshold), d1, torch.where(linear, torch.zeros_like(z), m.beta * s * (1 - s))


def _tanh(m: nn.Module, z: Tensor) -> Derivs:
    t = torch.tanh(z)
    return t, 1 - t * t, -2 * t * (1 - t * t)


def _sigmoid(m: nn.Module, z: Tensor) -> Derivs:
    s = torch.sigmoid(z)
    return s, s * (1 - s), s * (1 - s) * (1 - 2 * s)


def _gelu(m: nn.Module, z: Tensor) -> Derivs:
    if m.approximate == "tanh":  # φ = ½z(1 + tanh u), u = c(z + 0.044715 z³)
        t = torch.tanh(_C_TANH * (z + 0.044715 * z**3))
        du, d2u, sech2 = _C_TANH * (1 + 3 * 0.044715 * z * z), _C_TANH * 6 * 0.044715 * z, 1 - t * t
        return 0.5 * z * (1 + t), 0.5 * (1 + t) + 0.5 * z * sech2 * du, sech2 * (du + 0.5 * z * (d2u - 2 * t * du * du))
    cdf, pdf = 0.5 * (1 + torch.erf(z / math.sqrt(2.0))), torch.exp(-0.5 * z * z) / _SQRT_2PI
    return z * cdf, cdf + z * pdf, pdf * (2 - z * z)


def _elu(m: nn.Module, z: Tensor) -> Derivs:
    neg = m.alpha * torch.exp(torch.clamp(z, max=0.0))  # clamp: no overflow in the branch not taken
    pos = z > 0
    return F.elu(z, m.alpha), torch.where(pos, torch.ones_like(z), neg), torch.where(pos, torch.zeros_like(z), neg)


def _identity(m: nn.Module, z: Tensor) -> Derivs:
    return z, torch.ones_like(z), torch.zeros_like(z)


def _relu(m: nn.Module, z: Tensor) -> Derivs:
    return F.relu(z), (z > 0).to(z.dtype), torch.zeros_like(z)


def _leaky_relu(m: nn.Module, z: Tensor) -> Derivs:
    d1 = torch.where(z > 0, torch.ones_like(z), torch.full_like(z, m.negative_slope))
    return F.leaky_relu(z, m.negative_slope), d1, torch.zeros_like(z)


#: Activation module types walked by the sweep, each with its (φ, φ', φ'') in closed form.
ACTIVATION_DERIVATIVES: dict[type[nn.Module], Callable[[nn.Module, Tensor], Derivs]] = {
    nn.SiLU: _silu, nn.Softplus: _softplus, nn.Tanh: _tanh, nn.GELU: _gelu, nn.ELU: _elu,
    nn.Sigmoid: _sigmoid, nn.Identity: _identity, nn.ReLU: _relu, nn.LeakyReLU: _leaky_relu,
}
_SUPPORTED = "nn.Linear, " + ", ".join(f"nn.{t.__name__}" for t in ACTIVATION_DERIVATIVES)


def _trunk(module: nn.Module) -> tuple[nn.Sequential | None, str]:
    """The walkable ``nn.Sequential`` inside ``module`` and ``""``, or ``None`` and why not."""
    if isinstance(module, Energy):
        module = module.net
    if isinstance(module, (EnergyMLP, NoiseConditionalEnergyMLP)):
        base = EnergyMLP if isinstance(module, EnergyMLP) else NoiseConditionalEnergyMLP
        if type(module).forward is not base.forward:
            return None, f"{type(module).__name__} overrides forward"
        module = module.net
    if type(module) is not nn.Sequential:
        return None, f"expected an nn.Sequential, EnergyMLP or Energy of one; got {type(module).__name__}"
    layers = list(module)
    if not layers or not isinstance(layers[0], nn.Linear) or not isinstance(layers[-1], nn.Linear):
        return None, "the Sequential must start and end with nn.Linear"
    if layers[-1].out_features != 1:
        return None, f"the last Linear must have one output (an energy); it has {layers[-1].out_features}"
    for layer in layers:
        if not (type(layer) is nn.Linear or type(layer) in ACTIVATION_DERIVATIVES):
            return None, f"unsupported layer {type(layer).__name__}; supported: {_SUPPORTED}"
    return module, ""


def supports(module: nn.Module) -> bool:
    """Whether :func:`energy_grad_laplacian` can walk ``module``: an ``nn.Sequential`` of ``nn.Linear`` and
    the activations of :data:`ACTIVATION_DERIVATIVES` ending in a one-output Linear, an :class:`EnergyMLP` or
    :class:`NoiseConditionalEnergyMLP` (whose ``.net`` is one), or ``Energy`` of any of these."""
    return _trunk(module)[0] is not None


def _sweep(layers: list[nn.Module], u: Tensor, d: int, mode: str) -> tuple[Tensor, Tensor, Tensor]:
    """(h_out, ∇ of h_out w.r.t. the first ``d`` columns of ``u``, its Laplacian there); see module docstring."""
    acts = [i for i, m in enumerate(layers) if not isinstance(m, nn.Linear)]
    linears = [i for i, m in enumerate(layers) if isinstance(m, nn.Linear)]
    # number of activations after each layer: J/G after Linear i is needed iff ≥ 1, in full iff ≥ 2
    after = {i: sum(a > i for a in acts) for i in linears}
    if mode == "auto":
        jac = gram = 0
        for i in linears[1:]:
            wo, wi = layers[i].weight.shape
            if after[i]:
                jac += wo * wi * d
                gram += wo * wi * wi + (wo * wi * wo if after[i] > 1 else 0)
        mode = "gram" if gram < jac else "jacobian"
    if mode not in ("jacobian", "gram"):
        raise ValueError(f"mode must be 'auto', 'jacobian' or 'gram'; got {mode!r}")
    use_gram = mode == "gram"
    h, lap = u, None  # lap None: zero
    k: Tensor | None = None  # Jᵀ (D, w) or G (w, w), shared (2-D) or per sample (3-D), up to the row scale s
    q: Tensor | None = None  # row sums of squares of J before scaling: diag(G) or Σ_d J_d²
    s: Tensor | None = None  # pending row scale: J = diag(s)·(J held in k), G = diag(s)·k·diag(s)
    slopes: list[Tensor] = []
    for i, m in enumerate(layers):
        if isinstance(m, nn.Linear):
            w = m.weight[:, :d] if i == 0 else m.weight
            h = m(h)
            lap = None if lap is None else lap @ m.weight.mT
            if after[i]:
                full = after[i] > 1
                if i == 0:  # J₁ = W₁ and G₁ = W₁W₁ᵀ are shared by the batch
                    k = (w @ w.mT if full else None) if use_gram else w.mT
                    q = w.square().sum(-1)
                else:
                    if s is not None:  # scale K, not W: no (B, w_out, w_in) tensor
                        k = s.unsqueeze(-1) * k * s.unsqueeze(-2) if use_gram else k * s.unsqueeze(-2)
                    if use_gram:
                        p = k @ w.mT  # G Wᵀ, (B, w_in, w_out); its transpose is W G
                        k = p.mT @ w.mT if full else None
                        q = (p.mT * w).sum(-1)
                    else:
                        k = k @ w.mT  # Jᵀ ↦ Jᵀ Wᵀ: one GEMM over the folded batch
                        q = k.square().sum(-2)
                s = None
        else:
            h, d1, d2 = ACTIVATION_DERIVATIVES[type(m)](m, h)
            curv = d2 * (q if s is None else q * s.square())
            lap = curv if lap is None else d1 * lap + curv
            s = d1 if s is None else s * d1
            slopes.append(d1)
    g: Tensor | None = None  # reverse sweep: ∂h_out/∂(input of layer i)
    for i in reversed(range(len(layers))):
        m = layers[i]
        if isinstance(m, nn.Linear):
            w = m.weight[:, :d] if i == 0 else m.weight
            g = w if g is None else g @ w
        else:
            g = g * slopes.pop()
    b = u.shape[0]
    grad = g.expand(b, d)  # (1, d) for a net without activations
    lap = torch.zeros(b, 1, dtype=u.dtype, device=u.device) if lap is None else lap
    return h.squeeze(-1), grad, lap.squeeze(-1)


def energy_grad_laplacian(net: nn.Module, x: Tensor, *cond: Tensor | float, mode: str = "auto"
                          ) -> tuple[Tensor, Tensor, Tensor]:
    r"""``(E(x), ∇ₓE(x), ΔE(x))`` of an MLP energy in one forward sweep; shapes ``(B,)``, ``x.shape``, ``(B,)``.

    Args:
        net: a module for which :func:`supports` is true.
        x: inputs ``(B, *event)``; an ``EnergyMLP`` flattens the event to ``D = prod(event)``, a bare
            ``nn.Sequential`` takes ``(B, D)``.
        cond: ``sigma`` for a :class:`NoiseConditionalEnergyMLP`: derivatives are taken w.r.t. ``x`` only
            (the trunk's first ``D`` inputs) and, with ``scale_by_sigma``, all three are divided by σ.
        mode: ``"jacobian"`` (carry ``J``), ``"gram"`` (carry ``J Jᵀ``) or ``"auto"`` (cheaper by flop count).

    Raises:
        NotImplementedError: ``net`` is not walkable (the message says why and lists supported layers);
            fall back to :mod:`scorematch.derivatives`.

    >>> from scorematch.derivatives import laplacian
    >>> net = EnergyMLP(3, hidden=8).double()
    >>> x = torch.randn(4, 3, dtype=torch.float64)
    >>> e, grad, lap = energy_grad_laplacian(net, x)
    >>> e.shape, grad.shape, torch.allclose(lap, laplacian(net, x))
    (torch.Size([4]), torch.Size([4, 3]), True)
    """
    trunk, why = _trunk(net)
    if trunk is None:
        raise NotImplementedError(f"forward Laplacian cannot walk this net: {why}")
    inner = net.net if isinstance(net, Energy) else net
    layers = list(trunk)
    scale = None
    if isinstance(inner, NoiseConditionalEnergyMLP):
        if len(cond) != 1:
            raise ValueError("a NoiseConditionalEnergyMLP takes one condition, sigma")
        sigma = sigma_per_sample(cond[0], x)
        u = torch.cat([inner._inputs(x), inner.embed(sigma)], dim=1)
        scale = sigma if inner.scale_by_sigma else None
        d = u.shape[1] - inner.embed.dim
    elif cond:
        raise ValueError(f"{type(inner).__name__} takes no condition; got {len(cond)}")
    elif isinstance(inner, EnergyMLP):
        u = inner._inputs(x)
        d = u.shape[1]
    else:
        if x.ndim != 2 or x.shape[1] != layers[0].in_features:
            raise ValueError(f"an nn.Sequential energy takes (B, {layers[0].in_features}); got {tuple(x.shape)}")
        u, d = x, x.shape[1]
    e, grad, lap = _sweep(layers, u, d, mode)
    if scale is not None:
        e, grad, lap = e / scale, grad / scale.unsqueeze(-1), lap / scale
    return e, grad.reshape(x.shape), lap


def explicit_fast(model: nn.Module, x: Tensor, *cond: Tensor | float, mode: str = "auto",
                  generator: torch.Generator | None = None) -> Tensor:
    r"""Explicit score matching :math:`\tfrac12\lVert\nabla_x E\rVert^2 - \Delta E` per sample, shape ``(B,)``.

    The same objective as :func:`scorematch.losses.explicit` for ``Energy(net)`` (:math:`s = -\nabla E`,
    :math:`\operatorname{tr}\nabla s = -\Delta E`), from :func:`energy_grad_laplacian`; ``generator`` is
    unused (one signature for every loss).

    >>> import torch
    >>> from scorematch import Energy
    >>> from scorematch.derivatives import value_and_divergence
    >>> model = Energy(EnergyMLP(2, hidden=16).double())
    >>> x = torch.randn(5, 2, dtype=torch.float64)
    >>> s, div = value_and_divergence(model.score, x)   # the generic exact path
    >>> torch.allclose(explicit_fast(model, x), 0.5 * (s**2).sum(-1) + div)
    True
    """
    _, grad, lap = energy_grad_laplacian(model, x, *cond, mode=mode)
    return 0.5 * grad.flatten(1).square().sum(-1) - lap
