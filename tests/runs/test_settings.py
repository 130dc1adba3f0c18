"""One source of settings: a run's settings are declared once (a TrainConfig field with its default, help, parser,
check and whether fit reads it; an objective's or model kind's Setting), and the command line, the checks and the
call into fit are derived from the declarations."""

import argparse
import inspect
from dataclasses import fields

import pytest

from scorematch import fit
from scorematch._infra.defaults import DEFAULTS
from scorematch.cli.options import build_parser
from scorematch.runs.config import TrainConfig
from scorematch.runs.registry import SETTINGS


def _train_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]


def test_every_setting_fit_reads_is_a_keyword_of_fit_with_the_same_default():
    params = inspect.signature(fit).parameters
    declared = [f for f in fields(TrainConfig) if f.metadata.get("fit")]
    assert {f.name for f in declared} >= {"steps", "batch_size", "lr", "clip_grad_norm", "ema_decay", "patience"}
    for f in declared:
        assert f.name in params, f.name
        if f.name == "eval_every":   # fit's None: DEFAULTS.eval_every once there is a held-out criterion
            assert params[f.name].default is None and f.default == DEFAULTS.eval_every
        else:
            assert params[f.name].default == f.default, f.name
    cfg = TrainConfig(data="moons", steps=7, lr=0.01, patience=None, clip_grad_norm=None)
    assert cfg.fit_arguments() == {f.name: getattr(cfg, f.name) for f in declared}


def test_the_command_line_options_are_derived_from_the_declarations():
    options = {a.dest: a for a in _train_parser()._actions if a.option_strings}
    for f in fields(TrainConfig):
        if f.metadata.get("help"):
            action = options[f.name]
            assert action.option_strings == ["--" + f.name.replace("_", "-")]
            assert f.metadata["help"] in action.help and "(default: " in action.help
            assert action.default is argparse.SUPPRESS   # a config file's value wins over nothing given
    for s in SETTINGS.entries():
        assert s.help in options[s.name].help
    shared = {f.name for f in fields(TrainConfig)} | set(SETTINGS)
    own = {"help", "out", "device", "config", "resume", "allow_data_change", "quiet"}   # what train does, not a setting
    assert set(options) - own <= shared


@pytest.mark.parametrize(("name", "value", "message"), [
    ("steps", 0, "steps must be >= 1"), ("lr", float("inf"), "lr must be a finite number > 0"),
    ("lr_schedule", "step", "lr_schedule must be one of constant, cosine"),
    ("ema_decay", 1.0, "ema_decay must lie in (0, 1)"), ("val_fraction", 1.5, "val_fraction must lie in (0, 1)"),
    ("activation", "sine", "activation must be one of"), ("delimiter", ";;", "delimiter must be one character"),
    ("steps", 2.5, "steps must be of type int"), ("patience", True, "patience must be of type int | None"),
])
def test_each_declared_check_refuses_a_bad_value_in_one_line(name, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("|", r"\|")):
        TrainConfig(data="moons", **{name: value})


def test_a_float_setting_takes_an_int_and_round_trips():
    cfg = TrainConfig.from_dict({"data": "moons", "lr": 1, "sigma": 1, "objective": "dsm"})
    assert isinstance(cfg.lr, float) and cfg.lr == 1.0 and cfg.sigma == 1.0
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
