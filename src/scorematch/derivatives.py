r"""Derivatives of energies and score functions, exact and estimated, for any event shape.

Notation: ``x`` has shape ``(B, *event)``, ``D = prod(event)``. An *energy* ``E`` maps ``x`` to ``(B,)`` and
defines :math:`p \propto e^{-E}`; its *score* is :math:`s(x) = \nabla_x \log p(x) = -\nabla_x E(x)`.
A *score function* maps ``x`` to a tensor of the same shape as ``x``.

* :func:`score_of_energy` — :math:`s = -\nabla_x E`.
* :func:`divergence` — exact :math:`\operatorname{tr} \nabla_x s` (one reverse pass, vectorized over the
  ``D`` basis vectors with ``torch.func.vmap``; ``chunk_size`` bounds memory).
* :func:`laplacian` — exact :math:`\Delta E = \operatorname{tr} \nabla^2_x E = -\operatorname{tr}\nabla_x s`.
* :func:`divergence_hutchinson`, :func:`laplacian_hutchinson` — Hutchinson's estimate
  :math:`\frac1M \sum_m v_m^\top \nabla_x s\, v_m` with probes of identity covariance
  (:func:`draw_probes`).

Every result keeps its autograd graph to the parameters of the function (``create_graph`` semantics), so a
loss built from it can be back-propagated. Each sample's output must depend on that sample only (no batch
norm in training mode): derivatives of the batch sum are taken, which equal per-sample derivatives then.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from ._infra.checks import check_choice, check_count

__all__ = [
    "PROBE_KINDS",
    "ProbeKind",
    "divergence",
    "divergence_hutchinson",
    "draw_probes",
    "energy_and_score",
    "laplacian",
    "laplacian_hutchinson",
    "score_of_energy",
    "value_and_divergence",
    "value_and_quadratic_form",
]

ProbeKind = Literal["gaussian", "rademacher", "sphere"]
PROBE_KINDS: tuple[str, ...] = ("gaussian", "rademacher", "sphere")

Fn = Callable[[Tensor], Tensor]


def _energy_sum(energy_fn: Fn, x: Tensor) -> Tensor:
    e = energy_fn(x)
    if e.shape != x.shape[:1]:
        raise ValueError(
            f"an energy must return one value per sample, shape ({x.shape[0]},); got {tuple(e.shape)}"
        )
    return e.sum()


def score_of_energy(energy_fn: Fn, x: Tensor) -> Tensor:
    r"""The score of an energy, :math:`s(x) = -\nabla_x E(x)`, shape ``x.shape``.

    >>> x = torch.tensor([[1.0, -2.0]])
    >>> score_of_energy(lambda z: 0.5 * (z**2).sum(-1), x)  # standard normal: s(x) = -x
    tensor([[-1.,  2.]])
    """
    return -torch.func.grad(lambda z: _energy_sum(energy_fn, z))(x)


def energy_and_score(energy_fn: Fn, x: Tensor) -> tuple[Tensor, Tensor]:
    r"""``(E(x), -∇ₓE(x))`` from one forward and one backward pass; shapes ``(B,)`` and ``x.shape``.

    >>> e, s = energy_and_score(lambda z: 0.5 * (z**2).sum(-1), torch.tensor([[3.0, 4.0]]))
    >>> e, s
    (tensor([12.5000]), tensor([[-3., -4.]]))
    """
    def total(z: Tensor) -> tuple[Tensor, Tensor]:
        e = energy_fn(z)
        return _energy_sum(lambda _: e, z), e

    grad, (_, e) = torch.func.grad_and_value(total, has_aux=True)(x)
    return e, -grad


def _check_field(out: Tensor, x: Tensor) -> None:
    if out.shape != x.shape:
        raise ValueError(f"a score function must return the shape of its input {tuple(x.shape)}; "
                         f"got {tuple(out.shape)}")


def value_and_divergence(fn: Fn, x: Tensor, *, chunk_size: int | None = None) -> tuple[Tensor, Tensor]:
    r"""``(f(x), tr ∇ₓ f(x))`` for a vector field ``f`` with ``f(x).shape == x.shape``; exact.

    One forward pass, then the ``D`` vector-Jacobian products :math:`e_i^\top \nabla_x f` batched with
    ``vmap`` (``chunk_size`` of them at a time if given), of which the ``i``-th coordinates are summed.
    Cost: ``D`` backward passes' worth of arithmetic, no Python loop over dimensions.

    Returns:
        ``f(x)`` of shape ``x.shape`` and the divergence of shape ``(B,)``.
    """
    b, event = x.shape[0], x.shape[1:]
    d = math.prod(event)
    out, vjp_fn = torch.func.vjp(fn, x)
    _check_field(out, x)
    basis = torch.eye(d, dtype=x.dtype, device=x.device).reshape(d, 1, *event).expand(d, b, *event)
    (rows,) = torch.func.vmap(vjp_fn, chunk_size=chunk_size)(basis)  # rows[i, b] = ∇ₓ f_i(x_b)
    div = rows.reshape(d, b, d).diagonal(dim1=0, dim2=2).sum(-1)
    return out, div


def divergence(fn: Fn, x: Tensor, *, chunk_size: int | None = None) -> Tensor:
    r"""Exact divergence :math:`\nabla_x\cdot f = \sum_i \partial f_i / \partial x_i`, shape ``(B,)``.

    >>> x = torch.randn(3, 4)
    >>> divergence(lambda z: -2.0 * z, x)  # tr(-2 I_4) = -8
    tensor([-8., -8., -8.])
    """
    return value_and_divergence(fn, x, chunk_size=chunk_size)[1]


def laplacian(energy_fn: Fn, x: Tensor, *, chunk_size: int | None = None) -> Tensor:
    r"""Exact Laplacian :math:`\Delta E = \operatorname{tr}\nabla_x^2 E`, shape ``(B,)``.

    >>> x = torch.randn(2, 3, 2, 2)                      # image-shaped events work too
    >>> laplacian(lambda z: (z**2).flatten(1).sum(-1), x)  # Δ‖x‖² = 2·12
    tensor([24., 24.])
    """
    return -divergence(lambda z: score_of_energy(energy_fn, z), x, chunk_size=chunk_size)


def draw_probes(
    x: Tensor, n_probes: int = 1, kind: ProbeKind = "rademacher", *, generator: torch.Generator | None = None
) -> Tensor:
    r"""Random probe vectors ``v`` of shape ``(n_probes, *x.shape)`` with :math:`E[v v^\top] = I`.

    * ``"gaussian"``: :math:`v \sim N(0, I)`;
    * ``"rademacher"``: independent ±1 coordinates (lowest variance for Hutchinson's estimator);
    * ``"sphere"``: uniform on the sphere of radius :math:`\sqrt D` (the FD-SSM choice of Pang et al. 2020).

    >>> v = draw_probes(torch.zeros(5, 3), 2, "sphere", generator=torch.Generator().manual_seed(0))
    >>> v.shape, torch.allclose(v.norm(dim=-1), torch.tensor(3.0).sqrt())
    (torch.Size([2, 5, 3]), True)
    """
    check_count("n_probes", n_probes)
    check_choice("probe kind", kind, PROBE_KINDS)
    shape = (n_probes, *x.shape)
    opts = dict(generator=generator, device=x.device)
    if kind == "rademacher":
        return torch.randint(0, 2, shape, **opts).to(x.dtype).mul_(2).sub_(1)
    v = torch.randn(shape, dtype=x.dtype, **opts)
    if kind == "sphere":
        flat = v.reshape(n_probes, x.shape[0], -1)
        v = (flat * (math.sqrt(flat.shape[-1]) / flat.norm(dim=-1, keepdim=True))).reshape(shape)
    return v


def value_and_quadratic_form(fn: Fn, x: Tensor, probes: Tensor) -> tuple[Tensor, Tensor]:
    r"""``(f(x), q)`` with :math:`q_{m,b} = v_{m,b}^\top \nabla_x f(x_b)\, v_{m,b}` for probes of shape ``(M, *x.shape)``.

    One forward pass and ``M`` vector-Jacobian products (batched with ``vmap``); ``q`` has shape ``(M, B)``.
    """
    if probes.ndim != x.ndim + 1 or probes.shape[1:] != x.shape:
        raise ValueError(f"probes must have shape (M, *x.shape) = (M, {', '.join(map(str, x.shape))}); "
                         f"got {tuple(probes.shape)}")
    out, vjp_fn = torch.func.vjp(fn, x)
    _check_field(out, x)
    if probes.shape[0] == 1:
        vjs = vjp_fn(probes[0])[0].unsqueeze(0)
    else:
        (vjs,) = torch.func.vmap(vjp_fn)(probes)
    q = (vjs * probes).reshape(probes.shape[0], x.shape[0], -1).sum(-1)
    return out, q


def divergence_hutchinson(
    fn: Fn,
    x: Tensor,
    *,
    n_probes: int = 1,
    probe: ProbeKind = "rademacher",
    generator: torch.Generator | None = None,
    probes: Tensor | None = None,
) -> Tensor:
    r"""Hutchinson's unbiased estimate :math:`\frac1M\sum_{m} v_m^\top \nabla_x f\, v_m` of the divergence.

    Args:
        fn: vector field with ``fn(x).shape == x.shape``.
        n_probes: number ``M`` of probes (≥ 1). Ignored when ``probes`` is given.
        probe: ``"gaussian"``, ``"rademacher"`` or ``"sphere"`` (see :func:`draw_probes`).
        generator: source of randomness for the probes.
        probes: explicit probes of shape ``(M, *x.shape)`` instead of random ones.

    Returns:
        Shape ``(B,)``.

    >>> x = torch.randn(4, 3)
    >>> divergence_hutchinson(lambda z: -z, x, n_probes=5)  # Rademacher: exact for a diagonal Jacobian
    tensor([-3., -3., -3., -3.])
    """
    if probes is None:
        probes = draw_probes(x, n_probes, probe, generator=generator)
    return value_and_quadratic_form(fn, x, probes)[1].mean(0)


def laplacian_hutchinson(
    energy_fn: Fn,
    x: Tensor,
    *,
    n_probes: int = 1,
    probe: ProbeKind = "rademacher",
    generator: torch.Generator | None = None,
    probes: Tensor | None = None,
) -> Tensor:
    r"""Hutchinson's estimate :math:`\frac1M\sum_m v_m^\top \nabla_x^2 E\, v_m` of the Laplacian, shape ``(B,)``.

    Arguments as in :func:`divergence_hutchinson`.
    """
    return -divergence_hutchinson(lambda z: score_of_energy(energy_fn, z), x, n_probes=n_probes,
                                  probe=probe, generator=generator, probes=probes)
