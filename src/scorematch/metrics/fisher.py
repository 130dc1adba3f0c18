r"""Fisher divergence between a model score and a known score, over given points.

.. math::

    F(s, s^*) = \frac1n \sum_{i=1}^n \lVert s(x_i) - s^*(x_i)\rVert^2,
    \qquad
    F_{\mathrm{rel}}(s, s^*) = \frac{\sum_i \lVert s(x_i) - s^*(x_i)\rVert^2}{\sum_i \lVert s^*(x_i)\rVert^2},

norms taken over all event dimensions. With :math:`x_i \sim p` and :math:`s^* = \nabla\log p` this is a
Monte-Carlo estimate of :math:`E_p\lVert s - \nabla\log p\rVert^2`. **No factor ½** is carried here (unlike the
losses, which carry Hyvärinen's ½): the mean of :func:`~scorematch.losses.explicit` over data from ``p`` equals
:math:`\tfrac12 F` plus a constant independent of the model (Hyvärinen 2005, JMLR 6). The relative form is
scale-free: 0 for the exact score, 1 for the zero score.

Scores may be given as tensors of the shape of ``x`` or as something that computes them (``Energy(net)``,
``Score(net)``, an analytic target with ``score(x)``, or a plain callable ``x -> s(x)``).
"""

from __future__ import annotations

from torch import Tensor

from ._inputs import ScoreLike, check_samples, score_values

__all__ = ["fisher_divergence", "relative_fisher_divergence"]


def _squared_errors(score: ScoreLike, target_score: ScoreLike, x: Tensor) -> tuple[Tensor, Tensor]:
    flat = check_samples("x", x, min_count=1)
    s = score_values("score", score, x).reshape(flat.shape)
    t = score_values("target_score", target_score, x).reshape(flat.shape)
    return (s - t).square().sum(-1), t.square().sum(-1)


def fisher_divergence(score: ScoreLike, target_score: ScoreLike, x: Tensor) -> Tensor:
    r"""Mean squared score error :math:`\frac1n\sum_i\lVert s(x_i) - s^*(x_i)\rVert^2` (no ½), a scalar tensor.

    Args:
        score: the model's score: a tensor of shape ``x.shape`` or an ``Energy``/``Score``/callable.
        target_score: the known score, same options.
        x: the points, shape ``(n, *event)`` (usually samples of the target).

    Returns:
        A 0-dim tensor, detached from any autograd graph.

    >>> import torch
    >>> from scorematch import Energy
    >>> x = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    >>> target = Energy(lambda z: 0.5 * (z**2).sum(-1))           # N(0, I): s* = -x
    >>> fisher_divergence(lambda z: -(z - torch.tensor([1.0, 0.0])), target, x)  # ‖δ‖² = 1
    tensor(1.)
    """
    err, _ = _squared_errors(score, target_score, x)
    return err.mean()


def relative_fisher_divergence(score: ScoreLike, target_score: ScoreLike, x: Tensor) -> Tensor:
    r"""Relative Fisher divergence :math:`\sum_i\lVert s - s^*\rVert^2 / \sum_i\lVert s^*\rVert^2`, a scalar tensor.

    Arguments as in :func:`fisher_divergence`. Raises ``ValueError`` if the target score is zero at every point.

    >>> import torch
    >>> x = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    >>> relative_fisher_divergence(torch.zeros(2, 2), -x, x)        # the zero score: 1
    tensor(1.)
    """
    err, norm = _squared_errors(score, target_score, x)
    total = norm.sum()
    if total <= 0:
        raise ValueError("relative_fisher_divergence: the target score is zero at every point")
    return err.sum() / total
