r"""Early stopping on a held-out criterion: keep the best weights, stop when patience runs out, say when the
model overfits.

At every evaluation step ``t`` the criterion :math:`J_t` (lower is better; by default the held-out Hyvärinen loss of
:class:`~scorematch.metrics.HeldOutCriterion`) is compared with the best so far :math:`J^* = J_{t^*}`:

* :math:`J_t < J^*`: the weights evaluated (the EMA when on) become the best weights, :math:`t^* \leftarrow t`;
* :math:`t - t^* \ge` ``patience``: training stops (``stop_reason = "patience"``);
* :math:`J_t > J^* + \tau` while the training loss averaged since the previous evaluation is below its average at
  :math:`t^*`: the model is overfitting — the held-out loss rises while the training loss falls. One
  :class:`OverfittingWarning` says so, with the step and what helps. The margin is
  :math:`\tau = \max(\tau_0,\ 0.05\,\lvert J^*\rvert)`: for the Hyvärinen loss of a good fit
  :math:`J^* \approx -\tfrac12 E_p\lVert\nabla\log p\rVert^2`, so a rise of :math:`0.05\lvert J^*\rvert` is a
  rise of about 0.05 in relative Fisher divergence, whatever the data's scale; :math:`\tau_0` guards fits whose
  :math:`J^*` is still near 0.

The whole state is JSON plus one set of weights, so a checkpoint holds it and a resumed run continues the
bookkeeping exactly.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["Monitor", "OverfittingWarning", "build_monitor", "hold_out"]

HINT = ("fewer steps, a smaller network (hidden/depth), weight decay, or the first-order objective dsm "
        "usually help")


class OverfittingWarning(UserWarning):
    """The held-out criterion rose while the training loss fell."""


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


class Monitor:
    """Best weights, patience and the overfitting test for :func:`~scorematch.training.fit.fit`; see the module docstring.

    Args:
        criterion: ``criterion(model) -> dict`` of held-out values, evaluated with the weights that would be kept.
        key: the entry of that dict to minimise.
        patience: steps without a new best before stopping; ``None`` never stops early.
        tolerance: the smallest rise τ₀ of the criterion over its best that counts as overfitting (in its units).
        relative_tolerance: the rise, as a fraction of ``|J*|``, that counts as overfitting (default 0.05).
    """

    def __init__(self, criterion: Callable[[nn.Module], dict[str, float]], *, key: str = "val_hyvarinen",
                 patience: int | None = None, tolerance: float = 0.0, relative_tolerance: float = 0.05):
        if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
            raise ValueError(f"patience must be an integer >= 1 or None, got {patience!r}")
        if not (math.isfinite(tolerance) and tolerance >= 0):
            raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
        self.criterion, self.key, self.patience, self.tolerance = criterion, key, patience, float(tolerance)
        self.relative_tolerance = float(relative_tolerance)
        self.best_value, self.best_step, self.train_at_best = math.inf, 0, math.nan
        self.best_weights: dict[str, Tensor] | None = None
        self.overfit_step: int | None = None
        self.stop_reason: str | None = None
        self.last_eval_step = 0

    def update(self, step: int, values: dict[str, float], history: list[dict[str, float]],
               weights: dict[str, Tensor]) -> bool:
        """Record the evaluation at ``step`` (``history``: the records so far, for the training loss); returns
        whether training should stop now."""
        if self.key not in values:
            raise KeyError(f"the criterion returned {sorted(values)}, without the monitored {self.key!r}")
        value = values[self.key]
        window = [r["loss"] for r in history if self.last_eval_step < r["step"] <= step]
        train_now = _mean(window)
        self.last_eval_step = step
        if math.isfinite(value) and value < self.best_value:
            self.best_value, self.best_step, self.train_at_best = value, step, train_now
            self.best_weights = {k: v.detach().clone() for k, v in weights.items()}
        elif (self.overfit_step is None and math.isfinite(value)
              and value > self.best_value + max(self.tolerance, self.relative_tolerance * abs(self.best_value))
              and train_now < self.train_at_best):
            self.overfit_step = step
            warnings.warn(
                f"overfitting: the held-out score-matching loss rose from {self.best_value:.4g} (step {self.best_step}) "
                f"to {value:.4g} at step {step} while the training loss fell ({self.train_at_best:.4g} -> "
                f"{train_now:.4g}); the best weights are kept. {HINT[0].upper() + HINT[1:]}.",
                OverfittingWarning, stacklevel=3)
        if self.patience is not None and step - self.best_step >= self.patience:
            self.stop_reason = "patience"
            return True
        return False

    def state(self) -> dict[str, Any]:
        """The JSON-able state (without the best weights)."""
        return {"key": self.key, "best_value": self.best_value if math.isfinite(self.best_value) else None,
                "best_step": self.best_step, "train_at_best": self.train_at_best if math.isfinite(self.train_at_best)
                else None, "overfit_step": self.overfit_step, "stop_reason": self.stop_reason,
                "last_eval_step": self.last_eval_step}

    def load_state(self, state: dict[str, Any], best_weights: dict[str, Tensor] | None) -> None:
        """Restore what :meth:`state` returned (and the best weights saved beside it)."""
        def num(v: Any) -> float:
            return math.inf if v is None else float(v)

        self.best_value, self.best_step = num(state["best_value"]), int(state["best_step"])
        self.train_at_best = math.nan if state["train_at_best"] is None else float(state["train_at_best"])
        self.overfit_step, self.stop_reason = state["overfit_step"], state["stop_reason"]
        self.last_eval_step, self.best_weights = int(state["last_eval_step"]), best_weights


def hold_out(data: Tensor, fraction: float) -> tuple[Tensor, Tensor | None]:
    """``(train, val)``: a fixed random ``fraction`` of the rows held out (none if that leaves a side empty)."""
    if not 0 < fraction < 1:
        raise ValueError(f"val_fraction must lie in (0, 1) (or be None/0 for none), got {fraction!r}")
    n_val = round(fraction * data.shape[0]) if data.ndim >= 1 else 0
    if n_val < 1 or n_val >= data.shape[0]:
        return data, None
    perm = torch.randperm(data.shape[0], generator=torch.Generator().manual_seed(0)).to(data.device)
    return data[perm[n_val:]], data[perm[:n_val]]


def build_monitor(objective: Callable[..., Tensor], val_data: Tensor | None,
                  criterion: Callable[[nn.Module], dict[str, float]] | None, patience: int | None,
                  overfit_tolerance: float | None) -> Monitor | None:
    """The monitor of :func:`~scorematch.training.fit.fit`: on ``criterion``, or the held-out Hyvärinen loss on
    ``val_data`` (then the overfitting margin τ₀ defaults to ``0.01·D``; 0.01 with a custom criterion)."""
    if val_data is not None and criterion is not None:
        raise ValueError("give val_data or criterion, not both")
    if val_data is None and criterion is None:
        return None
    dim = 1
    if criterion is None:
        from ..metrics import HeldOutCriterion

        criterion = HeldOutCriterion(val_data, objective=objective)
        dim = criterion.dim
    tolerance = 0.01 * dim if overfit_tolerance is None else overfit_tolerance
    return Monitor(criterion, key=getattr(criterion, "key", "val_hyvarinen"), patience=patience, tolerance=tolerance)
