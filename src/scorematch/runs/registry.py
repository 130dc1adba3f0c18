"""The tables of names: every objective, model kind, sampler, setting, estimator and graphical model the command line
and run folders speak, each registered in its own room next to what it builds and gathered here. The library itself
takes objects (a loss function, a network, a kernel); only the command line and run folders speak in names, and they
all go through these tables: :mod:`~scorematch.runs.config` validates names and settings against them, the command
line builds its options and help from them, :mod:`~scorematch.runs.run` builds models and objectives from them. An
unknown name raises ``ValueError`` listing the known ones.

=======================  =====================================  ==================================================
table                    room                                   to add one
=======================  =====================================  ==================================================
:data:`OBJECTIVES`       :mod:`~scorematch.runs.objectives`     the loss in ``losses/``, one ``Objective`` entry
:data:`MODELS`           :mod:`~scorematch.runs.model_kinds`    the network in ``models/``, one ``ModelKind`` entry
:data:`SAMPLERS`         :mod:`~scorematch.samplers.named`      the kernel in ``samplers/``, one ``Sampler`` entry
:data:`SETTINGS`         the room of what reads it              one ``Setting`` (objectives'), or in its ``ModelKind``
:data:`ESTIMATORS`       :mod:`~scorematch.runs.estimators`     one ``Estimator`` entry
:data:`GRAPH_MODELS`     :mod:`~scorematch.runs.estimators`     one ``GraphModel`` entry
=======================  =====================================  ==================================================
"""

from __future__ import annotations

from .._infra.table import Table
from ..samplers.named import SAMPLERS, Sampler
from .estimators import ESTIMATORS, GRAPH_MODELS, Estimator, GraphModel
from .model_kinds import MODELS, ModelKind, build_model, default_model
from .objectives import OBJECTIVE_SETTINGS, OBJECTIVES, Objective, at_smallest_sigma, build_objective, sigma_ladder
from .settings import Setting

__all__ = ["ESTIMATORS", "GRAPH_MODELS", "MODELS", "OBJECTIVES", "SAMPLERS", "SETTINGS", "Estimator", "GraphModel",
           "ModelKind", "Objective", "Sampler", "Setting", "at_smallest_sigma", "build_model", "build_objective",
           "default_model", "sigma_ladder"]


SETTINGS: Table[Setting] = Table("setting", gathered=lambda: [
    *OBJECTIVE_SETTINGS.entries(), *(s for kind in MODELS.entries() for s in kind.settings)])
"""Every setting by name: the objectives' (:data:`~scorematch.runs.objectives.OBJECTIVE_SETTINGS`) and each model
kind's own (``ModelKind.settings``), gathered at every lookup (a kind registered later brings its own), then any
registered here."""
