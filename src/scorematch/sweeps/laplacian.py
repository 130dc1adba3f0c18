r"""Energy, gradient and Laplacian of an MLP energy in one forward sweep (the "forward Laplacian").

For a trunk of ``nn.Linear`` layers and smooth elementwise activations φ, each layer's output ``h`` is carried
together with its Jacobian :math:`J = \partial h/\partial x` (shape ``(B, w, D)``) and Laplacian
:math:`L = \Delta_x h` (shape ``(B, w)``):

.. math::

    \text{Linear:}\quad h \mapsto W h + b,\quad J \mapsto W J,\quad L \mapsto W L;\qquad
    \text{φ:}\quad h \mapsto \phi(h),\quad J \mapsto \phi'(h)\odot J,\quad
    L \mapsto \phi'(h)\odot L + \phi''(h)\odot \textstyle\sum_d J_{:,d}^2 .

The energy's Laplacian is the last ``L``. An activation needs only the row sums of squares
:math:`q = \sum_d J_{:,d}^2 = \operatorname{diag}(J J^\top)`, and every later :math:`J` is
:math:`(\ldots) W_1`, so only :math:`W_1 W_1^\top` matters, not :math:`W_1` itself. Hence, when ``D`` exceeds the
first width :math:`w_1`, the sweep starts from :math:`J_1 = W_1 Q` (:math:`w_1 \times w_1`), where
:math:`W_1^\top = QR` (reduced QR) and :math:`Q` (``D × w₁``, orthonormal columns spanning the row space of
:math:`W_1`) is held constant: :math:`W_1 Q Q^\top W_1^\top = W_1 W_1^\top`, so every :math:`q` and the Laplacian
are unchanged (the trace of the Hessian taken in the basis :math:`Q`; the energy is constant across it), and so
are the parameter gradients, because a change of :math:`W_1` orthogonal to :math:`Q` leaves :math:`W_1 W_1^\top`
unchanged to first order. No factorization is differentiated (exact even for a rank-deficient :math:`W_1`), and
the cost is that of :math:`D = w_1` whatever ``D`` is.
``mode="gram"`` carries :math:`G = J J^\top` (``(B, w, w)``) instead: Linear :math:`G \mapsto W G W^\top`,
φ :math:`G \mapsto \operatorname{diag}(\phi') G \operatorname{diag}(\phi')`.

Costs, per Linear ``w_in → w_out`` after the first (``B`` samples, ``D = prod(event)``):

* Jacobian mode: :math:`O(B\,w_{out} w_{in} \min(D, w_1))`; Gram mode: :math:`O(B\,w_{out} w_{in} (w_{in} + w_{out}))`,
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

import torch
from torch import Tensor, nn

from .activations import ACTIVATION_DERIVATIVES
from .gradient import reverse_sweep
from .trunk import prepare

__all__ = ["energy_grad_laplacian"]


def _sweep(layers: list[nn.Module], u: Tensor, d: int, mode: str) -> tuple[Tensor, Tensor, Tensor]:
    """(h_out, ∇ of h_out w.r.t. the first ``d`` columns of ``u``, its Laplacian there); see module docstring."""
    acts = [i for i, m in enumerate(layers) if not isinstance(m, nn.Linear)]
    linears = [i for i, m in enumerate(layers) if isinstance(m, nn.Linear)]
    # number of activations after each layer: J/G after Linear i is needed iff ≥ 1, in full iff ≥ 2
    after = {i: sum(a > i for a in acts) for i in linears}
    compress = d > layers[0].out_features  # more inputs than first-layer units: D_eff = w₁ (see docstring)
    d_eff = layers[0].out_features if compress else d
    if mode == "auto":
        jac = gram = 0
        for i in linears[1:]:
            wo, wi = layers[i].weight.shape
            if after[i]:
                jac += wo * wi * d_eff
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
                    if use_gram:
                        k = w @ w.mT if full else None
                    else:  # Jᵀ = W₁ᵀ (D, w₁), or (W₁Q)ᵀ (w₁, w₁) with Q from W₁ᵀ = QR held constant
                        k = (w @ torch.linalg.qr(w.detach().mT).Q).mT if compress else w.mT
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
            h, d1, d2 = ACTIVATION_DERIVATIVES[type(m)](m, h, 2)
            curv = d2 * (q if s is None else q * s.square())
            lap = curv if lap is None else d1 * lap + curv
            s = d1 if s is None else s * d1
            slopes.append(d1)
    grad = reverse_sweep(layers, slopes, d, u.shape[0])
    lap = u.new_zeros(u.shape[0], 1) if lap is None else lap
    return h.squeeze(-1), grad, lap.squeeze(-1)


def energy_grad_laplacian(net: nn.Module, x: Tensor, *cond: Tensor | float, mode: str = "auto"
                          ) -> tuple[Tensor, Tensor, Tensor]:
    r"""``(E(x), ∇ₓE(x), ΔE(x))`` of an MLP energy in one forward sweep; shapes ``(B,)``, ``x.shape``, ``(B,)``.

    Args:
        net: a module for which :func:`~scorematch.sweeps.supports` is true.
        x: inputs ``(B, *event)``; an ``EnergyMLP`` flattens the event to ``D = prod(event)``, a bare
            ``nn.Sequential`` takes ``(B, D)``.
        cond: ``sigma`` for a :class:`NoiseConditionalEnergyMLP`: derivatives are taken w.r.t. ``x`` only
            (the trunk's first ``D`` inputs) and, with ``scale_by_sigma``, all three are divided by σ.
        mode: ``"jacobian"`` (carry ``J``), ``"gram"`` (carry ``J Jᵀ``) or ``"auto"`` (cheaper by flop count).

    Raises:
        NotImplementedError: ``net`` is not walkable (the message says why and lists supported layers);
            fall back to :mod:`scorematch.derivatives`.

    >>> from scorematch.derivatives import laplacian
    >>> from scorematch.models import EnergyMLP
    >>> net = EnergyMLP(3, hidden=8).double()
    >>> x = torch.randn(4, 3, dtype=torch.float64)
    >>> e, grad, lap = energy_grad_laplacian(net, x)
    >>> e.shape, grad.shape, torch.allclose(lap, laplacian(net, x))
    (torch.Size([4]), torch.Size([4, 3]), True)
    """
    walk = prepare(net, x, cond)
    e, grad, lap = _sweep(walk.layers, walk.u, walk.d, mode)
    scale = walk.scale
    if scale is not None:
        e, grad, lap = e / scale, grad / scale.unsqueeze(-1), lap / scale
    return e, grad.reshape(x.shape), lap

