r"""Say what a network outputs: an energy or a score.

Losses and samplers accept either; the wrapper, not a flag, tells them which.

* ``Energy(net)``: ``net(x, *cond)`` returns one energy per sample, shape ``(B,)`` or ``(B, 1)``;
  the model density is :math:`p_\theta(x) \propto \exp(-E_\theta(x))` and its score
  :math:`s_\theta = -\nabla_x E_\theta` is taken by automatic differentiation.
* ``Score(net)``: ``net(x, *cond)`` returns :math:`s_\theta(x) \approx \nabla_x \log p(x)` with the shape of ``x``.

``cond`` carries extra inputs such as the noise level σ of a noise-conditional model (``net(x, sigma)`` with
``sigma`` of shape ``(B,)``). Both wrappers are ``nn.Module``\ s, so ``.parameters()``, ``.to()`` and
``state_dict()`` work on them; a plain callable may be wrapped too.

>>> import torch
>>> field = Energy(lambda x: 0.5 * (x**2).sum(-1))       # standard normal
>>> field.score(torch.tensor([[2.0, 0.0]]))
tensor([[-2., -0.]])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ._infra.shapes import one_per_sample
from .derivatives import energy_and_score
from .sweeps import energy_and_grad, supports

__all__ = ["Energy", "Field", "Score"]


class Energy(nn.Module):
    """An energy network :math:`E_\\theta(x)`; see the module docstring.

    ``analytic=False`` makes the score come from autograd even where the analytic MLP sweeps apply (they agree
    to round-off; the switch exists for comparisons and for nets with hooks the sweeps would not run).
    ``learn_log_z=True`` adds a trainable scalar ``log_z`` (initially 0), the log-normalizer an objective that
    learns one fits (noise-contrastive estimation): log p(x) = −E(x) − log_z.
    It does not enter the energy or the score.
    """

    def __init__(self, net: Callable[..., Tensor], *, analytic: bool = True, learn_log_z: bool = False):
        super().__init__()
        self.net = net
        self.analytic = analytic
        self.log_z = nn.Parameter(torch.zeros(())) if learn_log_z else None

    @property
    def uses_sweeps(self) -> bool:
        """Whether derivatives come from the analytic MLP sweeps of :mod:`scorematch.sweeps`."""
        return self.analytic and isinstance(self.net, nn.Module) and supports(self.net)

    def energy(self, x: Tensor, *cond: Tensor) -> Tensor:
        """:math:`E_\\theta(x)`, shape ``(B,)``."""
        return one_per_sample(self.net(x, *cond), x, "Energy(net): net")

    def forward(self, x: Tensor, *cond: Tensor) -> Tensor:
        return self.energy(x, *cond)

    def score(self, x: Tensor, *cond: Tensor) -> Tensor:
        """:math:`s_\\theta(x) = -\\nabla_x E_\\theta(x)`, shape ``x.shape``, differentiable in θ."""
        if self.uses_sweeps:
            return -energy_and_grad(self.net, x, *cond, need_energy=False)[1]
        return self.energy_and_score(x, *cond)[1]

    def energy_and_score(self, x: Tensor, *cond: Tensor) -> tuple[Tensor, Tensor]:
        """``(E_θ(x), s_θ(x))`` from one forward and one backward pass, shapes ``(B,)`` and ``x.shape``.

        For an MLP net (:func:`scorematch.sweeps.supports`) and ``analytic=True`` the backward pass is the
        hand-written reverse sweep of :func:`scorematch.sweeps.energy_and_grad`: the score is then a first-order
        expression in θ, so a loss of it needs no double backward and a sampler under ``no_grad`` builds no
        graph. Otherwise it is autograd's.
        """
        if self.uses_sweeps:
            e, grad = energy_and_grad(self.net, x, *cond)
            return e, -grad
        return energy_and_score(lambda z: self.energy(z, *cond), x)


class Score(nn.Module):
    """A score network :math:`s_\\theta(x) \\approx \\nabla_x \\log p(x)`; see the module docstring."""

    def __init__(self, net: Callable[..., Tensor]):
        super().__init__()
        self.net = net

    def score(self, x: Tensor, *cond: Tensor) -> Tensor:
        """:math:`s_\\theta(x)`, shape ``x.shape``."""
        s = self.net(x, *cond)
        if s.shape != x.shape:
            raise ValueError(f"Score(net): net must return the shape of its input {tuple(x.shape)}; "
                             f"got {tuple(s.shape)}")
        return s

    def forward(self, x: Tensor, *cond: Tensor) -> Tensor:
        return self.score(x, *cond)


Field = Energy | Score

