r"""Gaussian graphical models by score matching with an L1 penalty: the score-matching lasso of Lin, Drton & Shojaie
(2016, "Estimation of high-dimensional graphical models using regularized score matching", EJS 10).

For centred data with second-moment matrix :math:`S = X^\top X/n` and a symmetric precision K, Hyvärinen's
objective of :math:`p \propto e^{-x^\top Kx/2}` is :math:`L(K) = \tfrac12\operatorname{tr}(KSK) - \operatorname{tr}K`,
a quadratic in the entries of K (its minimiser is :math:`S^{-1}`, :mod:`scorematch.classical.expfam`). With the penalty
:math:`\lambda\sum_{a<b}|K_{ab}|` (each edge once; the diagonal free) the estimate is sparse, and its zeros are the
graph's missing edges. The partial derivatives are

.. math::

    \partial L/\partial K_{ab} = (SK + KS)_{ab}\ (a \ne b), \qquad \partial L/\partial K_{aa} = (SK)_{aa} - 1,

and the problem is solved by accelerated proximal gradient (a gradient step of size 1/L, L = 2 max eig S, then the
soft threshold of the off-diagonal entries), finished by an active-set method on the support it finds (exact
on that support; it matters on collinear columns). Above
:math:`\lambda_{\max} = \max_{a<b}|S_{ab}|\,(1/S_{aa} + 1/S_{bb})` the estimate is diagonal,
:math:`K = \operatorname{diag}(1/S_{aa})`. The path is solved from λ_max down a geometric grid with warm starts;
λ is chosen by the held-out score-matching loss :math:`L_{\text{test}}(K)` or by the extended BIC
(:func:`choose_lambda`).
"""

from .models import (
    gaussian_rows,
    score_matching_lasso,
    truncated_gaussian_sample,
    truncated_lasso,
    truncated_linear_term,
    truncated_loss,
    truncated_rows,
)
from .select import CRITERIA, choose_lambda, ebic
from .solver import GGMPath, lambda_max, penalised_loss, rows_loss, sm_loss

__all__ = ["CRITERIA", "GGMPath", "choose_lambda", "ebic", "gaussian_rows", "lambda_max", "penalised_loss", "rows_loss",
           "score_matching_lasso", "sm_loss", "truncated_gaussian_sample", "truncated_lasso", "truncated_linear_term",
           "truncated_loss", "truncated_rows"]
