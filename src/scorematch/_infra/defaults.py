"""The one set of training defaults, shared by :func:`scorematch.fit`, the run settings (``TrainConfig``) and the
networks' constructors.

They were chosen on the quality benchmark (``make quality``, ``QUALITY.md``): nine targets with exact scores in 2
to 32 dimensions, each objective's relative Fisher divergence on fresh points, against ebmkit's and torchebm's own
trainers. ``QUALITY.md`` records the measurements ("How the defaults were chosen": each setting changed alone).

=================  ==========================================================================================
setting            why, and where it depends on the objective or the dimension
=================  ==========================================================================================
held-out data      10%, evaluated every 100 steps, the best EMA weights kept, patience 1000 steps: without it
                   (and with the earlier depth 3, variance init, lr 2e-3) explicit SM ended at 0.67 on the 4-D
                   ICA, 1.96 on the funnel and 7.2 on the 8-D Student-t, against 0.007, 0.024 and 0.006 now.
init ``"torch"``   PyTorch's own initialisation: the variance-preserving one fitted worse with explicit SM,
                   ×1.65 on average, up to 2.6× on the banana and 2.9× on the 8-D Student-t.
depth 2            depends on the dimension: 3 hidden layers (explicit SM) fitted better on 4 of the 5 targets
                   with d ≥ 5 (×0.49 to ×0.74; the 32-D ICA ×1.04) and up to 5× worse for d ≤ 4 (8gaussians);
                   2 is kept so that the comparison with the peers stays at one network size, and as the safer
                   choice in low dimension. Pass ``depth=3`` / ``--depth 3`` for d ≥ 5.
lr 1e-3            2e-3: ×1.07 on average (geometric mean over the nine targets, explicit SM).
objective          the command line's default is ``esm`` (exact): the most accurate, or within 10% of it, on
                   every target; ``dsm`` at σ = 0.1 is biased on sharp densities (8gaussians: 30× worse).
=================  ==========================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULTS", "SMALL_TABLE_ROWS", "Defaults", "multilevel_defaults", "table_defaults"]


@dataclass(frozen=True)
class Defaults:
    """Training defaults; every field is the default of the library argument of the same name."""

    steps: int = 4000           # optimizer steps
    batch_size: int = 256
    lr: float = 1e-3            # Adam
    lr_schedule: str = "constant"  # or "cosine": lr·½(1 + cos(πt/T))
    weight_decay: float = 0.0   # decoupled (AdamW) when > 0
    clip_grad_norm: float = 10.0  # global gradient-norm clipping
    ema_decay: float = 0.995    # EMA decay of the weights (evaluated and kept)
    hidden: int = 128           # MLP width
    depth: int = 2              # hidden layers
    activation: str = "silu"
    init: str = "torch"         # PyTorch's default (uniform, fan-in) initialisation of Linear layers
    val_fraction: float = 0.1   # share of the data held out for the criterion (command line)
    eval_every: int = 100       # steps between held-out evaluations
    patience: int = 1000        # steps without a new held-out best before stopping


DEFAULTS = Defaults()


SMALL_TABLE_ROWS = 1000
"""A table from a file with fewer rows than this gets :func:`table_defaults`."""


def table_defaults(n_rows: int) -> dict[str, object]:
    r"""The settings that replace the fixed defaults for a table of ``n_rows`` rows read from a file (the command
    line applies each one the user did not give, and says so in one line); ``{}`` from ``SMALL_TABLE_ROWS`` up.

    Chosen on ``make realdata`` (``docs/realdata.md``): held-out log-likelihood per point minus the best of
    scikit-learn's GaussianMixture (BIC), KernelDensity (CV) and a Gaussian, mean over 3 splits ± its standard
    error, every table whitened (``standardize = "whiten"``):

    ========================  =============  =============  =============  ============  ============
    settings                  breast cancer  wine (47 rows)  iris          faithful      engel
    ========================  =============  =============  =============  ============  ============
    esm (the fixed defaults)  +7.78 ± 1.07   −1.33 ± 0.60   −2.57 ± 0.45   −0.09 ± 0.07  −0.03 ± 0.08
    esm, hidden 32, eval 20   +0.76 ± 1.14   −2.77 ± 0.77   −0.54 ± 0.15   +0.01 ± 0.04  +0.04 ± 0.08
    esm, hidden 64, val 0.2   +4.13 ± 1.10   −1.40 ± 0.55   −2.25 ± 0.36   +0.02 ± 0.04  +0.10 ± 0.04
    **dsm σ = 0.1**           +7.10 ± 1.25   −0.94 ± 0.55   −0.47 ± 0.09   +0.03 ± 0.03  +0.08 ± 0.04
    dsm σ = 0.2               +7.66 ± 1.30   −0.88 ± 0.53   −0.48 ± 0.14
    dsm σ = 0.3               +7.94 ± 1.33   −0.65 ± 0.51   −0.51 ± 0.14   −0.08 ± 0.03  +0.03 ± 0.04
    dsm σ = 0.1, per column   +0.20 ± 0.85   −0.08 ± 0.43   −0.30 ± 0.10   +0.02 ± 0.03  +0.10 ± 0.04
    dsm, hidden 32, eval 20   cannot be      −1.63 ± 0.54   −0.30 ± 0.10   +0.01 ± 0.03  +0.06 ± 0.06
                              normalised
    dsm, hidden 64, wd 0.01   +5.94 ± 1.26   −1.17 ± 0.53   −0.42 ± 0.12   +0.05 ± 0.03  +0.03 ± 0.07
    ========================  =============  =============  =============  ============  ============

    On a few hundred rows exact score matching learns the training rows' own spikes (iris: the held-out
    Hyvärinen loss is best at the first evaluation, the training loss falls to −1775): denoising smooths at the
    scale of its noise. σ = 0.1 (standardized units, dsm's own default) is worse than the best baseline on one
    table of five (iris, whose three species form separated clusters), 0.3 on two (iris, and faithful's two
    separated clusters over-smoothed). A smaller network, a larger criterion split, a shorter evaluation interval
    or weight decay did not help (a 32-wide network on the 30-D breast-cancer rows could not be normalised at all),
    and no setting reached GaussianMixture on iris.
    """
    if n_rows >= SMALL_TABLE_ROWS:
        return {}
    return {"objective": "dsm", "sigma": 0.1}


def multilevel_defaults(objective: str, images: bool) -> dict[str, object]:
    r"""The settings a run of an objective across noise levels (``diffusion``, ``ncsn``) takes in place of the fixed
    defaults (the command line and ``compare`` apply each one the user did not give, and say so); ``{}`` for the
    other objectives.

    A diffusion model must learn the score at every noise level, the finest last: on rings (4 rings 0.04 standard
    deviations wide) the held-out loss sits on a plateau for the first thousand-odd steps, where patience stopped
    every run, and its samples were a blur. Measured on rings (VP, score network, weights TV of 2000 samples
    against the exact ring masses, by eye whether the rings show):

    ======================================================  ===========  ==========================
    settings                                                weights TV   rings
    ======================================================  ===========  ==========================
    the fixed defaults (4000 steps, patience 1000, 128×2)   0.054        none (stopped at ~1100)
    6000 steps, patience off                                0.087        none
    20000 steps, times log-sigma                            0.029        none
    10000 steps, 256×4, times uniform                       0.023        none
    10000 steps, 256×4, times log-sigma                     0.031        the outer two
    **30000 steps, 256×4, times log-sigma**                 **0.019**    **all four**
    ======================================================  ===========  ==========================

    The time draw at 30000 steps and 256×4 (``bench/diffusion_quality.py --diffusion-set times=…``; weights TV of
    the reverse-SDE samples, and the KL gap of the probability-flow likelihood in nats per point):

    ===========  ==================================  =========================
    times        rings: TV, rings seen, KL gap        16-D mixture: TV, KL gap
    ===========  ==================================  =========================
    uniform      0.016, none, 0.74                    0.010, 2.04
    mixed        0.018, the outer two, 0.52           0.009, 3.28
    log-sigma    **0.012, all four, 0.39**            0.017, 11.04
    ===========  ==================================  =========================

    log-sigma is the default for the samples (the library's judges of a diffusion model are its samples' weights
    and the figure); a user who needs the likelihood in higher dimension gives ``--times uniform`` or ``mixed``.

    On images (the conv network, which has no ``hidden``/``depth``) 16000 steps without patience reached a
    Fréchet distance of 7.7 on the digits (``docs/digits_diffusion.md``).

    ncsn on rings (its σ ladder from the data, annealed Langevin) suffered the same: at the fixed defaults it stopped
    at the plateau after 2–5 s with a blur (relative Fisher divergence 0.99 at its smallest σ); with 30000 steps, no
    patience and 256×4 it shows all four rings (weights TV 0.060, relative Fisher divergence 0.25 — the rest is its
    smallest σ, 0.095 in data units, wider than the rings). It draws its levels alike already; on images it keeps
    the fixed defaults (not measured).
    """
    if objective == "ncsn":
        return {} if images else {"steps": 30000, "patience": None, "hidden": 256, "depth": 4}
    if objective != "diffusion":
        return {}
    if images:
        return {"steps": 16000, "patience": None}
    return {"steps": 30000, "patience": None, "hidden": 256, "depth": 4, "times": "log-sigma"}
