r"""The model protocol: what losses, samplers, metrics and plots accept, and the one adapter into it.

A **score model** has ``score(x, *cond) -> (B, *event)``: :math:`\nabla_x \log p(x)`. An **energy model** also has
``energy(x, *cond) -> (B,)`` (:math:`E` with :math:`p \propto e^{-E}`) and ``energy_and_score(x, *cond)``, both from
one pass where it can. ``Energy(net)`` and ``Score(net)`` (:mod:`scorematch.fields`) are the two wrappers a network
goes in; the exact targets of :mod:`scorematch.models.analytic` are energy models too.

:func:`as_model` turns anything the library accepts into one of the two:

* ``Energy`` / ``Score``, or anything with all three methods: unchanged;
* an object with an ``energy(x)`` method (and perhaps ``score``): an energy model (the score by autograd if missing);
* an object with only ``score(x)``: a score model;
* a plain callable: whatever ``kind`` says (``"energy"``: ``x -> E(x)``; ``"score"``: ``x -> s(x)``). Nothing is
  guessed: a function that takes a callable states which it reads, and otherwise asks for ``Energy(fn)`` /
  ``Score(fn)``.

Two views are models as well: :func:`at_sigma`, a noise-conditional model bound to one σ, and :func:`in_data_units`,
a model trained on standardized data seen in the units of the original data.

>>> import torch
>>> m = as_model(lambda x: 0.5 * (x**2).sum(-1), kind="energy")
>>> isinstance(m, EnergyModel), m.score(torch.tensor([[1.0, -2.0]]))
(True, tensor([[-1.,  2.]]))
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from ._infra.shapes import one_per_sample
from .derivatives import energy_and_score
from .fields import Energy, Score

__all__ = ["EnergyModel", "ScoreModel", "as_model", "at_sigma", "device_of", "has_energy", "in_data_units",
           "with_ladder"]

Kind = Literal["energy", "score"]


@runtime_checkable
class ScoreModel(Protocol):
    """Anything with ``score(x, *cond)`` of ``x``'s shape."""

    def score(self, x: Tensor, *cond: Tensor) -> Tensor: ...


@runtime_checkable
class EnergyModel(ScoreModel, Protocol):
    """A score model that also has ``energy(x, *cond)`` ``(B,)`` and ``energy_and_score(x, *cond)``."""

    def energy(self, x: Tensor, *cond: Tensor) -> Tensor: ...

    def energy_and_score(self, x: Tensor, *cond: Tensor) -> tuple[Tensor, Tensor]: ...


class _Adapted:
    """An object read as a model: it keeps the object, and its parameters give the model's dtype and device."""

    def __init__(self, obj: Any):
        self.obj = obj

    def parameters(self):
        params = getattr(self.obj, "parameters", None)
        return params() if callable(params) else iter(())


class _EnergyOf(_Adapted):
    """An object with an ``energy`` method (an analytic target, a view) as an :class:`EnergyModel`."""

    def __init__(self, obj: Any):
        super().__init__(obj)
        self._score = getattr(obj, "score", None) if callable(getattr(obj, "score", None)) else None

    def energy(self, x: Tensor, *cond: Tensor) -> Tensor:
        return one_per_sample(self.obj.energy(x, *cond), x)

    def score(self, x: Tensor, *cond: Tensor) -> Tensor:
        if self._score is None:
            return energy_and_score(lambda z: self.energy(z, *cond), x)[1]
        return _checked_score(self._score(x, *cond), x)

    def energy_and_score(self, x: Tensor, *cond: Tensor) -> tuple[Tensor, Tensor]:
        if self._score is None:
            return energy_and_score(lambda z: self.energy(z, *cond), x)
        return self.energy(x, *cond), self.score(x, *cond)


class _ScoreOf(_Adapted):
    """An object with a ``score`` method only, as a :class:`ScoreModel` (its output's shape checked)."""

    def score(self, x: Tensor, *cond: Tensor) -> Tensor:
        return _checked_score(self.obj.score(x, *cond), x)


def _checked_score(s: Tensor, x: Tensor) -> Tensor:
    if s.shape != x.shape:
        raise ValueError(f"the model's score must have the shape of x {tuple(x.shape)}, got {tuple(s.shape)}")
    return s


def as_model(obj: Any, *, kind: Kind | None = None, plain: Kind | None = None, who: str = "model") -> ScoreModel:
    """``obj`` as a :class:`ScoreModel` (an :class:`EnergyModel` when it has an energy); see the module docstring.

    ``kind="energy"`` demands an energy (and reads a plain callable as one); ``kind="score"`` reads a plain
    callable as a score. ``plain`` reads a plain callable so without demanding anything. ``who`` names the
    argument in the one-line ``TypeError`` for anything else.
    """
    if kind not in (None, "energy", "score") or plain not in (None, "energy", "score"):
        raise ValueError(f"kind and plain must be 'energy', 'score' or None, got {kind!r}, {plain!r}")
    plain = plain or kind
    if isinstance(obj, Energy) or all(callable(getattr(obj, m, None)) for m in ("energy", "score", "energy_and_score")):
        return obj  # follows the protocol already
    if isinstance(obj, Score) or (not callable(getattr(obj, "energy", None)) and callable(getattr(obj, "score", None))):
        if kind == "energy":
            raise TypeError(f"{who} needs an energy: wrap the net in Energy(net) (got {type(obj).__name__}, which has "
                            "no energy(x))")
        return obj if isinstance(obj, Score) else _ScoreOf(obj)
    if callable(getattr(obj, "energy", None)):
        return _EnergyOf(obj)
    if callable(obj) and not isinstance(obj, Tensor):
        if plain is None:
            raise TypeError(f"{who}: a plain function is ambiguous; wrap it in Energy(fn) (x -> E(x)) or Score(fn) "
                            "(x -> s(x))")
        return Energy(obj) if plain == "energy" else Score(obj)
    what = "an energy(x)" if kind == "energy" else "a score(x)"
    raise TypeError(f"{who} must be a model with {what} method (Energy(net), Score(net), an analytic target) or a "
                    f"callable x -> {'E(x)' if plain == 'energy' else 's(x)'}; got {type(obj).__name__}")


def has_energy(model: Any) -> bool:
    """Whether ``model`` (anything :func:`as_model` takes, callables aside) has an energy."""
    return isinstance(model, Energy) or callable(getattr(model, "energy", None))


class _Bound:
    """A noise-conditional model evaluated at one fixed σ, unless called with another."""

    def __init__(self, model: Any, sigma: float):
        self.model, self.sigma = model, sigma

    def _cond(self, x: Tensor, cond: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return cond or (torch.full(x.shape[:1], self.sigma, dtype=x.dtype, device=x.device),)

    def score(self, x: Tensor, *cond: Tensor) -> Tensor:
        return self.model.score(x, *self._cond(x, cond))

    def energy(self, x: Tensor, *cond: Tensor) -> Tensor:
        return self.model.energy(x, *self._cond(x, cond))


def at_sigma(model: Energy | Score, sigma: float) -> Energy | Score:
    """A noise-conditional ``Energy`` / ``Score`` bound to the noise level ``sigma``: an ordinary model of ``x``
    (called with a σ of its own, ``score(x, sigma)``, it is the model at that σ)."""
    bound = _Bound(model, sigma)
    return Energy(bound.energy) if isinstance(model, Energy) else Score(bound.score)


def with_ladder(model: Energy | Score, sigmas: Any, *, sigma: float | None = None) -> Energy | Score:
    """A noise-conditional model with its descending σ ladder: :func:`at_sigma` at ``sigma`` (default: the ladder's
    smallest level), so every sampler, metric and plot takes it as an ordinary model of ``x``, with the ladder as
    ``.sigmas`` (a tensor on the CPU, in the dtype given: a run's is float32, the levels it was trained at) and the
    model itself as ``.unbound``, which the annealed sampler reads to go down from the largest level.

    >>> m = with_ladder(Score(lambda x, sigma: -x / (1 + sigma[:, None] ** 2)), [3.0, 1.0])
    >>> m.sigmas.tolist(), m.score(torch.ones(1, 2)).tolist()
    ([3.0, 1.0], [[-0.5, -0.5]])
    """
    ladder = torch.as_tensor(sigmas).detach().cpu().reshape(-1)
    if ladder.numel() == 0:
        raise ValueError("sigmas must hold at least one noise level")
    view = at_sigma(model, float(ladder[-1]) if sigma is None else sigma)
    view.sigmas, view.unbound = ladder, model
    return view


class _InDataUnits:
    """The model of ``x = m + s·z`` for a model of the standardized ``z``; see :func:`in_data_units`."""

    def __init__(self, model: ScoreModel, stats: Any, dtype: torch.dtype, device: torch.device | None):
        self.model, self.stats, self.dtype = model, stats, dtype
        self.device = device if device is not None else device_of(model)  # points come and go in their own
        if has_energy(model):
            self.energy = self._energy

    def _z(self, x: Tensor) -> Tensor:
        return self.stats.transform(x.double()).to(device=self.device or x.device, dtype=self.dtype)

    def score(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            return self.stats.score_to_data(self.model.score(self._z(x)).to(x.device).double())

    def _energy(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            energy = one_per_sample(self.model.energy(self._z(x)), x).to(x.device)
            return self.stats.energy_to_data(energy.double())


def in_data_units(model: ScoreModel, stats: Any, *, dtype: torch.dtype = torch.float32,
                  device: torch.device | None = None) -> ScoreModel:
    r"""``model`` (of standardized :math:`z = (x - m)/s`, evaluated in ``dtype`` on ``device``, by default its
    parameters' device) in the units of the data: :math:`s_x(x) = s_z(z)/s`, :math:`E_x(x) = E_z(z) + \sum\log s`
    (``stats``: a :class:`~scorematch.data.Standardizer`); float64 in and out on the points' device, no autograd
    graph. An energy model stays one."""
    return as_model(_InDataUnits(model, stats, dtype, device))


def device_of(model: Any) -> torch.device | None:
    """The device of a module's first parameter; ``None`` for a model with none (a plain function)."""
    param = next(iter(model.parameters()), None) if isinstance(model, nn.Module) else None
    return None if param is None else param.device

