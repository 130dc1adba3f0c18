"""What the rest of the library needs to know about an objective, declared on the loss itself.

A loss says, once, next to its formula::

    @declare(order=2)
    def explicit(model, x, *, generator=None): ...

and everything that must treat it differently reads :func:`properties_of` — ``fit`` (a noise-conditional model gets
no held-out split at one σ), the curvature check (a second-order loss refuses a piecewise-linear energy), the
held-out criterion (a loss whose held-out value means nothing is not logged) and the command line (an objective
that needs an energy refuses a score network). ``functools.partial`` layers are seen through; a loss that declares
nothing (a user's own function) gets :data:`UNDECLARED`: first-order, not conditional, its held-out value logged.

>>> import functools
>>> @declare(order=1, conditional=True)
... def my_loss(model, x, *, generator=None, sigmas=None): ...
>>> properties_of(functools.partial(my_loss, sigmas=[1.0, 0.1])).conditional
True
>>> properties_of(lambda model, x, generator=None: x.sum(-1)) == UNDECLARED
True
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["UNDECLARED", "Properties", "base_objective", "declare", "properties_of"]

F = TypeVar("F")


@dataclass(frozen=True)
class Properties:
    """An objective's properties.

    ``order``: the order of the derivatives in ``x`` of the energy that the loss takes — 2 for losses that need the
    score's Jacobian (exact trace, sliced, or finite differences of the score: a piecewise-linear energy has none,
    :mod:`scorematch.training.curvature`), 1 for the score alone (denoising), 0 for energy values alone (contrastive, NCE).
    ``conditional``: the model takes the noise level (or time) as a second input, ``net(x, sigma)``.
    ``heldout``: its value on held-out points, with fixed noise, says something about the fit (an MCMC loss does
    not). ``needs_energy``: it reads energies, so a score network cannot be trained by it.
    """

    order: int = 1
    conditional: bool = False
    heldout: bool = True
    needs_energy: bool = False

    def __post_init__(self) -> None:
        if self.order not in (0, 1, 2):
            raise ValueError(f"order must be 0, 1 or 2, got {self.order!r}")


UNDECLARED = Properties()
"""The properties of a loss that declares none."""


def declare(**properties: Any) -> Callable[[F], F]:
    """A decorator that stores :class:`Properties` ``(**properties)`` on a loss (a function or a class whose
    instances are losses) as ``loss.properties``."""
    declared = Properties(**properties)

    def mark(loss: F) -> F:
        loss.properties = declared  # type: ignore[attr-defined]
        return loss

    return mark


def base_objective(objective: object) -> object:
    """The loss function under any ``functools.partial`` layers (``partial(sliced, n_probes=2)`` -> ``sliced``)."""
    while isinstance(objective, functools.partial):
        objective = objective.func
    return objective


def properties_of(objective: object) -> Properties:
    """The :class:`Properties` declared by ``objective`` (a loss, a ``functools.partial`` of one, or an instance of a
    declared loss class); :data:`UNDECLARED` when it declares none."""
    found = getattr(objective, "properties", None)
    if not isinstance(found, Properties):
        found = getattr(base_objective(objective), "properties", None)
    return found if isinstance(found, Properties) else UNDECLARED
