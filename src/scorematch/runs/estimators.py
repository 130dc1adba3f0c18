"""The methods with no network that ``compare`` and ``graph`` speak by name: score estimators from the samples alone
(:data:`ESTIMATORS`: a KDE, Stein gradient estimators) and graphical models fitted by penalised score matching in
closed form (:data:`GRAPH_MODELS`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._infra.table import Table
from ..baselines import KDEScore, SpectralSteinScore, SteinScore
from ..classical import ggm

__all__ = ["ESTIMATORS", "GRAPH_MODELS", "Estimator", "GraphModel"]


@dataclass(frozen=True)
class Estimator:
    """A score estimator with no network, for ``compare``: ``build(x, cfg) -> score model`` from the standardized
    training points and the run settings of the comparison."""

    name: str
    help: str
    build: Callable[[Tensor, Any], Any]


ESTIMATORS: Table[Estimator] = Table("estimator")
for _estimator in (
    Estimator("kde", "the score of a Gaussian KDE of 2000 training points at bandwidth --sigma (Scott's rule with "
              "sigma auto): what dsm at that σ converges to on a finite sample",
              lambda x, cfg: KDEScore(x, bandwidth=None if cfg.sigma == "auto" else cfg.sigma, max_points=2000,
                                      generator=torch.Generator().manual_seed(cfg.seed))),
    Estimator("stein", "the Stein gradient estimator (Li & Turner 2018) on 500 training points, median-heuristic "
              "bandwidth", lambda x, cfg: SteinScore(x, max_points=500, generator=torch.Generator().manual_seed(cfg.seed))),
    Estimator("spectral-stein", "the spectral Stein gradient estimator (Shi, Sun & Zhu 2018) on 2000 training "
              "points, median-heuristic bandwidth",
              lambda x, cfg: SpectralSteinScore(x, max_points=2000,
                                                            generator=torch.Generator().manual_seed(cfg.seed))),
):
    ESTIMATORS.register(_estimator)


@dataclass(frozen=True)
class GraphModel:
    """A graphical model ``scorematch graph`` fits by penalised score matching (:mod:`scorematch.classical.ggm`):
    ``path(x, lambdas, n)`` (the λ given, or n of them from λ_max down) on data ``prepare`` made ready for it
    (scaled, and centred where the model's support allows)."""

    name: str
    help: str
    path: Callable[..., Any]
    prepare: Callable[[Any], Any]


def _scaled(x: Any, centre: bool) -> Any:
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    std = x.std(0)
    if (std == 0).any():
        raise ValueError(f"column {int(np.argmax(std == 0)) + 1} is constant: drop it")
    return ((x - x.mean(0)) if centre else x) / std


GRAPH_MODELS: Table[GraphModel] = Table("graph model")
for _graph in (
    GraphModel("gaussian", "Gaussian graphical model, the score-matching lasso (Lin, Drton & Shojaie 2016); data "
               "centred and scaled",
               lambda x, lambdas, n=50: ggm.score_matching_lasso(x, lambdas=lambdas, n_lambdas=n, centre=False),
               lambda x: _scaled(x, True)),
    GraphModel("truncated", "truncated Gaussian graphical model on [0, ∞)^p, generalised score matching with "
               "h(x) = min(x, 3) (Yu, Drton & Shojaie 2019); non-negative data, scaled",
               lambda x, lambdas, n=50: ggm.truncated_lasso(x, lambdas=lambdas, n_lambdas=n),
               lambda x: _scaled(x, False)),
    GraphModel("truncated-noncentred", "the truncated model with a linear term, p ∝ exp(−xᵀKx/2 + ηᵀx) on "
               "[0, ∞)^p: a location away from 0 (η profiled out); non-negative data, scaled",
               lambda x, lambdas, n=50: ggm.truncated_lasso(x, lambdas=lambdas, n_lambdas=n, centred=False),
               lambda x: _scaled(x, False)),
):
    GRAPH_MODELS.register(_graph)


