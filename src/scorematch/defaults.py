"""The one set of training defaults, shared by :func:`scorematch.fit`, the run settings (``TrainConfig``) and the
networks' constructors.

They were chosen on the quality benchmark (``make quality``, ``QUALITY.md``): targets with exact scores in 2 to
32 dimensions, each objective's relative Fisher divergence on fresh points. ``QUALITY.md`` records the
measurements that chose them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULTS", "Defaults"]


@dataclass(frozen=True)
class Defaults:
    """Training defaults; every field is the default of the library argument of the same name."""

    steps: int = 4000           # optimizer steps
    batch_size: int = 256
    lr: float = 1e-3            # Adam
    lr_schedule: str = "constant"  # or "cosine": lr·½(1 + cos(πt/T))
    weight_decay: float = 0.0   # decoupled (AdamW) when > 0
    clip: float = 10.0          # global gradient-norm clipping
    ema: float = 0.995          # EMA decay of the weights (evaluated and kept)
    hidden: int = 128           # MLP width
    depth: int = 2              # hidden layers
    activation: str = "silu"
    init: str = "torch"         # PyTorch's default (uniform, fan-in) initialisation of Linear layers
    val_fraction: float = 0.1   # share of the data held out for the criterion (command line)
    eval_every: int = 100       # steps between held-out evaluations
    patience: int = 1000        # steps without a new held-out best before stopping


DEFAULTS = Defaults()
