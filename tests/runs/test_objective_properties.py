"""An objective is one object: a loss declares its properties and fit, the curvature check, the held-out criterion and
the command line read them there. A new conditional objective is one loss plus one table entry."""

import functools
import json
import math

import pytest
import torch
from torch import nn

from scorematch import Energy, Score, fit, losses
from scorematch.cli import main
from scorematch.losses import Properties, declare, properties_of
from scorematch.metrics import HeldOutCriterion
from scorematch.models import NoiseConditionalScoreMLP
from scorematch.runs.registry import OBJECTIVES, Objective
from scorematch.runs.run import load_run

CALLS: list[tuple[float, float]] = []


@declare(order=1, conditional=True)
def log_uniform_denoising(model, x, *, sigma_min, sigma_max, generator=None):
    r"""Denoising at a σ drawn per sample from a log-uniform law on [σ_min, σ_max] (a continuous ladder), weighted by
    σ²: :math:`\tfrac12\lVert\sigma s(x + \sigma\varepsilon, \sigma) + \varepsilon\rVert^2`."""
    u = torch.rand(x.shape[0], generator=generator, dtype=x.dtype, device=x.device)
    sigma = sigma_min * (sigma_max / sigma_min) ** u
    eps = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    s = model.score(x + sigma[:, None] * eps, sigma)
    CALLS.append((float(sigma.min()), float(sigma.max())))
    return 0.5 * ((sigma[:, None] * s + eps) ** 2).sum(-1)


def test_every_builtin_loss_declares_its_properties():
    assert properties_of(losses.explicit).order == 2
    assert properties_of(functools.partial(losses.sliced, n_probes=2)).order == 2
    assert properties_of(losses.finite_difference_sliced).order == 2
    assert properties_of(losses.denoising) == Properties(order=1)
    assert properties_of(losses.multiscale_denoising).conditional
    for name in ("cd", "pcd", "nce"):
        assert OBJECTIVES[name].properties.needs_energy and OBJECTIVES[name].properties.order == 0, name
    assert not OBJECTIVES["cd"].properties.heldout and OBJECTIVES["nce"].properties.heldout
    assert properties_of(lambda model, x, generator=None: x.sum(-1)) == Properties()  # a user's loss: undeclared


def test_fit_reads_conditional_from_the_loss():
    net = NoiseConditionalScoreMLP(2, hidden=16)
    objective = functools.partial(log_uniform_denoising, sigma_min=0.1, sigma_max=2.0)
    x = torch.randn(200, 2, generator=torch.Generator().manual_seed(0))
    CALLS.clear()
    result = fit(Score(net), x, objective, steps=20, generator=torch.Generator().manual_seed(0))
    assert result.steps == 20 and CALLS
    assert all(0.1 <= lo <= hi <= 2.0 for lo, hi in CALLS)
    # a conditional model gets no automatic hold-out at one σ: no held-out record, and val_data is refused
    assert not any("val_hyvarinen" in r for r in result.history)
    with pytest.raises(ValueError, match="noise-conditional"):
        fit(Score(net), x, objective, steps=2, val_data=x[:10])


def test_the_curvature_check_reads_the_order_from_the_loss():
    relu = Energy(nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1)))
    second = declare(order=2)(lambda model, x, generator=None: losses.explicit(model, x))
    with pytest.raises(ValueError, match="piecewise-linear"):
        fit(relu, torch.randn(50, 2), second, steps=1)
    first = declare(order=1)(lambda model, x, generator=None: losses.explicit(model, x))
    assert fit(relu, torch.randn(50, 2), first, steps=1, val_fraction=None).steps == 1


def test_the_heldout_criterion_reads_whether_the_loss_means_anything_there():
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    model = Score(lambda z: -z)
    meaningful = declare(order=1)(lambda m, z, generator=None: (m.score(z) ** 2).sum(-1))
    meaningless = declare(order=0, heldout=False)(lambda m, z, generator=None: (m.score(z) ** 2).sum(-1))
    assert "val_loss" in HeldOutCriterion(x, objective=meaningful)(model)
    assert "val_loss" not in HeldOutCriterion(x, objective=meaningless)(model)


def test_a_new_conditional_objective_trains_through_the_command_line(tmp_path, capsys):
    entry = Objective("log-uniform", "test: denoising at a log-uniform σ in [sigma, sigma_max]",
                      log_uniform_denoising, lambda cfg: {"sigma_min": cfg.sigma, "sigma_max": cfg.sigma_max},
                      ("sigma", "sigma_max"))
    CALLS.clear()
    with OBJECTIVES.registered(entry):
        code = main(["train", "moons", "--objective", "log-uniform", "--model", "score", "--sigma", "0.1",
                     "--sigma-max", "2", "--steps", "30", "--out", str(tmp_path / "run"), "--quiet"])
        assert code == 0, capsys.readouterr().err
        run = load_run(tmp_path / "run")
        assert isinstance(run.model.net, NoiseConditionalScoreMLP)   # built noise-conditional from the loss's word
        assert run.default_sampler() == "annealed"
        x = run.sample(50, steps=20)
        assert x.shape == (50, 2) and torch.isfinite(x).all()
        code = main(["sample", str(tmp_path / "run"), "--n", "20", "--steps", "20",
                     "--out", str(tmp_path / "s.npy"), "--quiet"])
        assert code == 0, capsys.readouterr().err
    assert CALLS and all(0.1 - 1e-6 <= lo <= hi <= 2.0 + 1e-6 for lo, hi in CALLS)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["steps_done"] == 30 and math.isfinite(summary["best_val_hyvarinen"])
    assert "log-uniform" not in OBJECTIVES
