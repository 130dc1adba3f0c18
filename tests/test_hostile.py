"""Hostile and careless input: every case answers with one line and exit code 2 (130 for Ctrl-C), never a
traceback, and leaves nothing behind; a damaged run folder or checkpoint is named, not followed."""

import json
import shutil
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from commands import TINY, exit_code
from commands import fails as _fails
from scorematch.cli import commands as cli

HUGE = str(10**18)


def _damaged(trained, tmp_path, name, text):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    target = copy / name if not name.startswith("step:") else next((copy / "checkpoint").glob("step-*")) / name[5:]
    target.write_text(text)
    return copy


def test_bad_files_are_one_line_errors(tmp_path, capsys):
    (tmp_path / "loop.npy").symlink_to(tmp_path / "loop.npy")
    with zipfile.ZipFile(tmp_path / "bad.npz", "w") as z:
        z.writestr("x.npy", b"not an array")
    np.save(tmp_path / "small.npy", np.zeros((3, 2)))
    raw = (tmp_path / "small.npy").read_bytes()
    n = int.from_bytes(raw[8:10], "little")
    header = raw[10:10 + n].decode().replace("(3, 2)", "(1000000000000, 2)").rstrip()
    (tmp_path / "huge.npy").write_bytes(raw[:10] + (header + " " * (n - len(header) - 1) + "\n").encode() + raw[10 + n:])
    _fails(capsys, "train", tmp_path / "loop.npy", "--out", tmp_path / "a", message="a broken or looping symbolic link")
    _fails(capsys, "train", tmp_path / "bad.npz", "--out", tmp_path / "a", message="not a NumPy array")
    _fails(capsys, "train", tmp_path / "huge.npy", "--out", tmp_path / "a", message="not a readable NumPy file")
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("option, message", [
    ("--batch-size", "choose a smaller --batch-size"), ("--hidden", "choose a smaller --hidden or --depth"),
    ("--depth", "choose a smaller --hidden or --depth")])
def test_absurd_sizes_are_refused_up_front(tmp_path, capsys, option, message):
    _fails(capsys, "train", "moons", "--out", tmp_path / "a", option, HUGE, "--quiet",
           message="of memory free")
    assert not (tmp_path / "a").exists()


def test_absurd_sample_count_and_empty_out(trained, tmp_path, capsys):
    _fails(capsys, "sample", trained, "--n", HUGE, "--out", tmp_path / "s.npy", message="ask for fewer samples")
    _fails(capsys, "train", "moons", "--out", "", message="--out must name a folder")
    assert not (tmp_path / "s.npy").exists()


@pytest.mark.parametrize("name, text, message", [
    ("config.json", "[1, 2]", "config.json: must hold a JSON object, got list"),
    ("data_stats.json", "[]", "data_stats.json: must hold a JSON object, got list"),
    ("config.json", "{not json", "config.json: unreadable JSON"),
])
def test_wrong_json_in_a_run_folder(trained, tmp_path, capsys, name, text, message):
    copy = _damaged(trained, tmp_path, name, text)
    _fails(capsys, "sample", copy, "--n", "5", "--out", tmp_path / "s.npy", message=message)
    _fails(capsys, "train", "moons", "--out", copy, "--resume", "--steps", "30", "--quiet", message=message)


@pytest.mark.parametrize("name, text, message", [
    ("checkpoint/latest.json", "[]", "must be an object with a whole 'step' and a 'dir'"),
    ("checkpoint/latest.json", '{"step": 20, "dir": "/etc"}', "'dir' must name a step folder"),
    ("checkpoint/latest.json", '{"step": 20, "dir": "../../x"}', "'dir' must name a step folder"),
    ("step:state.json", "{}", "the checkpoint is damaged"),
    ("step:model.safetensors", "truncated", "the checkpoint is damaged"),
])
def test_a_damaged_checkpoint_stops_resume_and_leaves_the_run_as_it_was(trained, tmp_path, capsys, name, text,
                                                                          message):
    copy = _damaged(trained, tmp_path, name, text)
    before = (copy / "config.json").read_text()
    _fails(capsys, "train", "moons", "--out", copy, "--resume", "--steps", "30", "--quiet", message=message)
    assert (copy / "config.json").read_text() == before  # the failed resume did not claim 30 steps


def test_a_checkpoint_of_another_network_is_named(trained, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    step = next((copy / "checkpoint").glob("step-*"))
    weights = load_file(step / "model.safetensors")
    save_file({k: torch.zeros(3) for k in weights}, step / "model.safetensors")
    _fails(capsys, "train", "moons", "--out", copy, "--resume", "--steps", "30", "--quiet",
           message="does not match the model")


def test_non_finite_weights_are_refused_on_load(trained, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    weights = load_file(copy / "model.safetensors")
    save_file({k: torch.full_like(v, float("nan")) for k, v in weights.items()}, copy / "model.safetensors")
    _fails(capsys, "sample", copy, "--n", "5", "--out", tmp_path / "s.npy", message="non-finite weights")
    np.save(tmp_path / "x.npy", np.zeros((2, 2)))
    _fails(capsys, "eval", copy, "--points", tmp_path / "x.npy", "--out", tmp_path / "e.npz",
           message="non-finite weights")


def test_a_string_mean_in_data_stats_is_refused(trained, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    stats = json.loads((copy / "data_stats.json").read_text())
    stats["standardizer"]["mean"] = "12"
    (copy / "data_stats.json").write_text(json.dumps(stats))
    _fails(capsys, "sample", copy, "--n", "5", "--out", tmp_path / "s.npy", message="mean must be a list of numbers")


def test_ctrl_c_at_start_up_is_exit_130_without_a_traceback(monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_build_parser", interrupted)
    assert exit_code("train", "moons", "--out", "x") == 130
    err = capsys.readouterr().err
    assert err == "scorematch: interrupted; a run can continue with train --resume\n"


def test_a_second_writer_or_a_reader_fails_at_once_naming_the_holder(trained, tmp_path, capsys):
    from scorematch.runs.lock import run_lock

    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    before = (copy / "config.json").read_text()
    with run_lock(copy, what="scorematch train"):
        _fails(capsys, "train", "moons", "--out", copy, "--resume", "--steps", "30", "--quiet",
               message="is being written by pid")
        _fails(capsys, "sample", copy, "--n", "5", "--out", tmp_path / "s.npy", message="(scorematch train)")
    assert (copy / "config.json").read_text() == before and not (tmp_path / "s.npy").exists()
    assert exit_code("sample", copy, "--n", "5", "--out", tmp_path / "s.npy", "--sampler", "mala", "--quiet") == 0


def test_a_diverged_run_keeps_its_last_good_weights_or_nothing(trained, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    assert exit_code("train", "moons", "--out", copy, "--resume", "--steps", "60", "--lr", "1e8", "--quiet") == 3
    assert "the last good checkpoint (step 20) is intact" in capsys.readouterr().err
    summary = json.loads((copy / "summary.json").read_text())
    assert summary["stop_reason"] == "diverged" and summary["kept_from_step"] == 20
    assert json.loads((copy / "config.json").read_text())["steps"] == 20
    assert exit_code("sample", copy, "--n", "5", "--out", tmp_path / "s.npy", "--sampler", "mala", "--quiet") == 0
    new = tmp_path / "new"
    assert exit_code("train", "moons", "--out", new, "--lr", "1e8", "--clip-grad-norm", "off", "--quiet") == 3
    assert not new.exists()  # diverged before any checkpoint: nothing left to block a retry


def test_eval_flags_points_the_model_cannot_evaluate(trained, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.array([[0.0, 0.0], [1e40, 0.0], [1e300, 1.0]]))
    assert exit_code("eval", trained, "--points", tmp_path / "x.npy", "--out", tmp_path / "e.npz") == 0
    err = capsys.readouterr().err
    assert "2 of 3 points give a non-finite score or energy (the first is point 2" in err and err.count("\n") == 1
    assert np.isfinite(np.load(tmp_path / "e.npz")["score"][0]).all()


def test_compare_refuses_a_tiny_file_before_training(tmp_path, capsys):
    np.save(tmp_path / "three.npy", np.arange(6.0).reshape(3, 2))
    _fails(capsys, "compare", tmp_path / "three.npy", "--objectives", "esm", "--out", tmp_path / "c",
           message="compare needs at least 50 rows")
    assert not (tmp_path / "c").exists()


def test_plot_that_fails_leaves_no_figure(trained, tmp_path, capsys):
    _fails(capsys, "plot", trained, "--out", tmp_path / "p", "--sampler", "annealed",
           message="needs a noise-conditional model")
    assert not (tmp_path / "p").exists()


def test_resume_refuses_changed_data_unless_allowed(tmp_path, capsys):
    g = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", g.standard_normal((200, 2)))
    run = tmp_path / "run"
    assert exit_code("train", tmp_path / "x.npy", "--out", run, *TINY) == 0
    np.save(tmp_path / "x.npy", g.standard_normal((200, 2)) + 5)
    _fails(capsys, "train", tmp_path / "x.npy", "--out", run, "--resume", "--steps", "30", "--quiet",
           message="the data changed since the run")
    assert json.loads((run / "config.json").read_text())["steps"] == 20
    assert exit_code("train", tmp_path / "x.npy", "--out", run, "--resume", "--steps", "30", "--allow-data-change",
                   "--quiet") == 0


def test_a_config_edited_to_another_network_is_refused(trained, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "activation": "tanh"}))
    _fails(capsys, "sample", copy, "--n", "5", "--out", tmp_path / "s.npy",
           message="config.json does not describe the network in model.safetensors (activation: 'tanh'")

