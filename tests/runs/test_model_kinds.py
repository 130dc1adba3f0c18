"""A model kind carries its behaviour: the shapes it accepts, its size, its default sampler, its run-folder keys and
its plot kind, its own settings. A new kind is one table entry: it trains, loads and samples through the command line,
with its own setting as an option and a config.json key."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from commands import fails
from scorematch import Energy
from scorematch.cli import main
from scorematch.runs.config import TrainConfig
from scorematch.runs.folder import architecture_header
from scorematch.runs.registry import MODELS, SETTINGS, ModelKind, Setting, build_model, default_model
from scorematch.runs.run import load_run
from scorematch.runs.settings import positive


class QuadraticEnergy(nn.Module):
    r"""A Gaussian energy :math:`E(x) = \tfrac12 \lVert L^\top x\rVert^2 - b^\top x` with lower-triangular ``L``."""

    def __init__(self, dim: int, scale: float = 1.0):
        super().__init__()
        self.lower = nn.Parameter(scale * torch.eye(dim))
        self.shift = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        return 0.5 * ((x @ torch.tril(self.lower)) ** 2).sum(-1) - x @ self.shift


GAUSSIAN = ModelKind(
    "gaussian", "test: a Gaussian energy with a learned precision", lambda cfg, shape, conditional, log_z:
    Energy(QuadraticEnergy(shape[0], cfg.gaussian_scale)).float(), True, "mala",
    lambda cfg, shape: (shape[0] ** 2 + shape[0], shape[0], 1), ("model", "gaussian_scale"),
    accepts=lambda shape: None if len(shape) == 1 else "models tables (n, d) only",
    settings=(Setting("gaussian_scale", "gaussian model: the initial Cholesky factor's scale", 1.0, float, positive),),
    plot="density")


def test_every_kind_declares_its_behaviour():
    assert MODELS["energy"].energy and not MODELS["score"].energy and not MODELS["conv"].energy
    assert MODELS["conv"].accepts((3, 4)) and MODELS["conv"].accepts((1, 8, 8)) is None
    assert MODELS["energy"].default_sampler(False) == "smc" and MODELS["score"].default_sampler(True) == "annealed"
    assert default_model((2,)).name == "energy" and default_model((1, 8, 8)).name == "conv"
    assert default_model((1, 8, 8), "cd").name == "energy"   # an objective that needs an energy
    assert default_model((1, 8, 8)).default_objective == "ncsn"
    for kind, cfg, shape in (("energy", TrainConfig(data="moons"), (2,)), ("score", TrainConfig(data="moons"), (64,)),
                             ("conv", TrainConfig(data="digits", model="conv", objective="dsm"), (1, 8, 8))):
        params = sum(p.numel() for p in build_model(cfg.replace(model=kind), shape).parameters())
        assert params / 1.5 <= MODELS[kind].size(cfg, shape)[0] <= 1.5 * params, kind  # an estimate, for memory


def test_a_new_model_kind_trains_loads_and_samples_through_the_command_line(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3)) @ np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.0, 0.0, 2.0]])
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "img.npy", rng.normal(size=(20, 1, 4, 4)))
    with MODELS.registered(GAUSSIAN):
        code = main(["train", str(tmp_path / "x.npy"), "--model", "gaussian", "--gaussian-scale", "0.8", "--steps",
                     "300", "--lr", "0.01", "--judge", "off", "--out", str(tmp_path / "run"), "--quiet"])
        assert code == 0, capsys.readouterr().err
        run = load_run(tmp_path / "run")
        assert run.config.gaussian_scale == 0.8   # the kind's own setting: an option, a config.json key
        assert json.loads((tmp_path / "run" / "config.json").read_text())["gaussian_scale"] == 0.8
        fails(capsys, "train", tmp_path / "x.npy", "--model", "gaussian", "--gaussian-scale", "-1", "--out",
              tmp_path / "neg", "--quiet", message="gaussian_scale must be a finite number > 0")
        assert isinstance(run.model.net, QuadraticEnergy) and run.default_sampler() == "mala"
        header = json.loads(architecture_header(run.config, (3,))["architecture"])
        assert header["model"] == "gaussian" and "hidden" not in header   # its own run-folder keys
        assert header["gaussian_scale"] == 0.8
        samples = run.sample(2000, steps=400)
        cov = np.cov(samples.numpy().T)
        assert np.allclose(cov, np.cov(x.T), atol=0.25 * np.abs(np.cov(x.T)).max())  # a Gaussian fits a Gaussian
        fails(capsys, "train", tmp_path / "img.npy", "--model", "gaussian", "--steps", "5", "--out", tmp_path / "bad",
              "--quiet", message="--model gaussian models tables (n, d) only")
    assert "gaussian" not in MODELS and "gaussian_scale" not in SETTINGS
    with pytest.raises(ValueError, match=r"unknown setting\(s\) gaussian_scale"):   # its settings left with it
        load_run(tmp_path / "run")
