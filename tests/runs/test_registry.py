"""The table of names: one registered entry is all an objective needs to train through the command line."""

import json

import pytest
import torch

from scorematch import losses
from scorematch.cli import main
from scorematch.runs.config import TrainConfig
from scorematch.runs.registry import MODELS, OBJECTIVES, SAMPLERS, SETTINGS, Objective, Setting, build_objective
from scorematch.runs.run import load_run

SEEN: list[float] = []


def _scaled_explicit(model, x, *, scale, generator=None):
    SEEN.append(scale)
    return scale * losses.explicit(model, x)


def test_a_registered_objective_and_its_setting_train_through_the_command_line(tmp_path, capsys):
    setting = Setting("loss_scale", "test: a factor on the loss", 1.0, float,
                      lambda v: None if v > 0 else "must be > 0")
    entry = Objective("scaled-esm", "test: explicit SM times loss_scale", _scaled_explicit,
                      lambda cfg: {"scale": cfg.loss_scale}, ("loss_scale",))
    SEEN.clear()
    with SETTINGS.registered(setting), OBJECTIVES.registered(entry):
        code = main(["train", "moons", "--objective", "scaled-esm", "--loss-scale", "2.5", "--steps", "20",
                     "--out", str(tmp_path / "run"), "--quiet"])
        assert code == 0, capsys.readouterr().err
        saved = json.loads((tmp_path / "run" / "config.json").read_text())
        assert saved["objective"] == "scaled-esm" and saved["loss_scale"] == 2.5
        assert load_run(tmp_path / "run").config.loss_scale == 2.5
        with pytest.raises(SystemExit):
            main(["train", "--help"])
        assert "scaled-esm: test: explicit SM times loss_scale" in capsys.readouterr().out
    assert SEEN and set(SEEN) == {2.5}   # the loss ran, with the setting from the command line
    assert "scaled-esm" not in OBJECTIVES and "loss_scale" not in SETTINGS


@pytest.mark.parametrize("table", [OBJECTIVES, MODELS, SAMPLERS, SETTINGS], ids=lambda t: t.what)
def test_an_unknown_name_lists_the_known_ones(table):
    with pytest.raises(ValueError, match=rf"unknown {table.what} 'nope'; choose one of: {table.names()[0]}"):
        table["nope"]
    with pytest.raises(ValueError, match="already registered"):
        table.register(table.entries()[0])


def test_nothing_falls_through_to_a_default():
    with pytest.raises(ValueError, match="unknown objective 'nope'"):
        TrainConfig(data="moons", objective="nope")
    cfg = TrainConfig(data="moons")
    object.__setattr__(cfg, "objective", "nope")  # a config that skipped validation
    with pytest.raises(ValueError, match="unknown objective 'nope'"):
        build_objective(cfg)
    with pytest.raises(ValueError, match=r"unknown setting.*colour"):
        TrainConfig(data="moons", colour=1)


def test_every_objective_builds_a_loss_that_runs():
    from scorematch.runs.registry import build_model

    x = torch.randn(8, 2, dtype=torch.float32)
    for name in OBJECTIVES:
        cfg = TrainConfig(data="moons", objective=name, hidden=8)
        loss = build_objective(cfg, x)(build_model(cfg, 2), x, generator=torch.Generator().manual_seed(0))
        assert loss.shape == (8,) and torch.isfinite(loss).all(), name


def test_run_folders_of_the_earlier_vocabulary_still_load():
    old = {"data": "moons", "objective": "fd-ssm", "clip": 0, "ema": 0.99, "fd_eps": 0.02, "val_fraction": 0,
           "patience": 0}
    cfg = TrainConfig.from_dict(old)
    assert (cfg.clip_grad_norm, cfg.ema_decay, cfg.fd_step, cfg.val_fraction, cfg.patience) == (None, 0.99, 0.02,
                                                                                                None, None)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_none_turns_a_feature_off_and_zero_is_refused():
    assert TrainConfig(data="moons", clip_grad_norm=None, ema_decay=None, patience=None).patience is None
    for key in ("clip_grad_norm", "ema_decay", "patience", "val_fraction"):
        with pytest.raises(ValueError, match=rf"^{key} .*None"):
            TrainConfig(data="moons", **{key: 0})


def test_baseline_settings_are_checked_and_need_an_energy(capsys):
    from scorematch.cli import main

    for args, message in ((["--objective", "cd", "--model", "score"], "model must be an energy model (energy) for the"),
                          (["--objective", "pcd", "--mcmc-sampler", "hmc"], "mcmc_sampler must be one of langevin, mala"),
                          (["--objective", "pcd", "--restart-fraction", "1.5"], "restart_fraction must lie in [0, 1]"),
                          (["--objective", "cd", "--energy-reg", "-1"], "energy_reg must be a finite number >= 0")):
        with pytest.raises(SystemExit) as info:
            main(["train", "moons", "--out", "/nonexistent/never", *args])
        err = capsys.readouterr().err
        assert info.value.code == 2 and message in err and err.count("\n") == 1, err
    cfg = TrainConfig(data="moons", objective="cd", mcmc_noise=None, mcmc_sampler="mala")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg and cfg.to_dict()["mcmc_noise"] is None


def test_an_nce_run_keeps_its_learned_log_z_through_the_run_folder(tmp_path):
    import numpy as np

    from scorematch.cli import main
    from scorematch.runs.run import load_run

    assert main(["train", "moons", "--objective", "nce", "--out", str(tmp_path / "r"), "--steps", "30",
                 "--hidden", "16", "--quiet", "--judge", "off"]) == 0
    run = load_run(tmp_path / "r")
    assert isinstance(run.learned_log_z, float) and run.learned_log_z != 0.0  # trained, saved and read back
    np.save(tmp_path / "x.npy", np.array([[0.0, 0.5], [1.0, -0.2]]))
    assert main(["eval", str(tmp_path / "r"), "--points", str(tmp_path / "x.npy"), "--out", str(tmp_path / "e.npz")]) == 0
    out = np.load(tmp_path / "e.npz")
    np.testing.assert_allclose(out["log_prob_learned"], -out["energy"] - run.learned_log_z, rtol=1e-12)
