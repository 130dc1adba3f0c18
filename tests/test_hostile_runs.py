"""Hostile and careless use of run folders and numbers: a second process, what a killed writer leaves, seeds past
torch's range, data near the limits of float64, and warnings that stay one line."""

import json
import os
import shutil
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import torch

from commands import TINY, exit_code
from commands import fails as _fails
from scorematch.cli import commands as cli
from scorematch.data import Standardizer


def test_what_a_killed_writer_left_is_gone_after_a_resume(trained, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    leftovers = [copy / ".config.json.k3j2.tmp", copy / "checkpoint" / ".latest.json.x9.tmp"]
    for p in leftovers:
        p.write_text("{half")
    (copy / "checkpoint" / ".step-00000030.ab.tmp").mkdir()
    (copy / "checkpoint" / ".step-00000030.ab.tmp" / "model.safetensors").write_bytes(b"\0" * 10)
    assert exit_code("train", "moons", "--out", copy, "--resume", "--steps", "30", "--quiet") == 0
    assert not list(copy.rglob("*.tmp")), list(copy.rglob("*.tmp"))
    assert json.loads((copy / "summary.json").read_text())["steps_done"] == 30


@pytest.mark.parametrize("seed", [str(2**63), str(2**64), "-1", "1.5"])
def test_a_seed_outside_torchs_range_is_named(tmp_path, capsys, seed):
    assert exit_code("train", "moons", "--out", tmp_path / "r", "--seed", seed, *TINY) == 2
    err = capsys.readouterr().err
    assert "argument --seed:" in err and err.count("\n") == 1, err
    assert not (tmp_path / "r").exists()


def test_the_largest_seed_trains(tmp_path):
    assert exit_code("train", "moons", "--out", tmp_path / "r", "--seed", str(2**63 - 1), *TINY) == 0


def test_a_seed_outside_the_range_in_a_config_file_is_named(tmp_path, capsys):
    (tmp_path / "c.toml").write_text(f"seed = {2**63}\n")
    _fails(capsys, "train", "moons", "--out", tmp_path / "r", "--config", tmp_path / "c.toml", "--quiet",
           message="seed must be an integer from 0 to 2^63 - 1")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("scale", [1e-300, 1e200, 1e307])
def test_data_near_the_limits_of_float64_are_standardized_and_train(tmp_path, scale):
    x = np.random.default_rng(0).standard_normal((200, 2)) * [1.0, 3.0] * scale
    stats = Standardizer.fit(torch.from_numpy(x))
    unit = x / np.abs(x).max(0)  # the same statistics computed where nothing overflows, scaled back
    ref_std = unit.std(0) * np.abs(x).max(0)
    assert np.allclose(stats.std, ref_std, rtol=1e-12) and np.isfinite(stats.std).all()
    assert np.allclose(stats.mean, unit.mean(0) * np.abs(x).max(0), rtol=1e-12, atol=0)
    for name, data in (("scaled", x), ("unit", x / scale)):  # standardized, both are the same data
        np.save(tmp_path / f"{name}.npy", data)
        assert exit_code("train", tmp_path / f"{name}.npy", "--out", tmp_path / name, *TINY) == 0
        assert exit_code("sample", tmp_path / name, "--n", "50", "--sampler", "mala", "--quiet") == 0
    samples, unit = (np.load(tmp_path / name / "samples.npy") for name in ("scaled", "unit"))
    inside = np.isfinite(samples).all(1)
    assert np.allclose(samples[inside] / scale, unit[inside], rtol=1e-4, atol=1e-4 * np.abs(unit).max())
    beyond = json.loads((tmp_path / "scaled" / "samples.json").read_text()).get("beyond_float64", 0)
    assert beyond == (~inside).sum() and (scale == 1e307 or beyond == 0)  # past 1.8e308: counted and said


def test_subnormal_data_that_cannot_be_standardized_is_named(tmp_path, capsys):
    x = np.tile([[5e-324, 1.0], [1e-323, 2.0]], (10, 1))
    np.save(tmp_path / "x.npy", x)
    _fails(capsys, "train", tmp_path / "x.npy", "--out", tmp_path / "r", "--ties", "off",
           message="column 1 varies by less than float64")


def test_a_numpy_warning_is_one_line(monkeypatch, tmp_path, capsys):
    """NumPy's overflow warning, raised inside a command, is printed as one line, not with its source line."""
    def overflowing(args):
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            np.float64(1e308) * np.float64(10.0)

    monkeypatch.setattr(cli, "_eval", overflowing)
    assert exit_code("eval", tmp_path, "--points", "x.npy", "--out", "y.npz") == 0
    err = capsys.readouterr().err
    assert err == "scorematch: warning: overflow encountered in scalar multiply\n", err


def _holder(folder):
    """A second process that holds the run's write lock until it is killed."""
    code = ("import sys, time\nfrom scorematch.runs.lock import run_lock\n"
            f"with run_lock({str(folder)!r}, what='scorematch train'):\n    print('held', flush=True)\n"
            "    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_process_cannot_write_or_read_a_run_being_written(trained, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()}
    proc = _holder(copy)
    try:
        t0 = time.perf_counter()
        _fails(capsys, "train", "moons", "--out", copy, "--resume", "--steps", "30", "--quiet",
               message=f"is being written by pid {proc.pid} on ")
        _fails(capsys, "sample", copy, "--n", "5", "--quiet", message=f"pid {proc.pid}")
        assert time.perf_counter() - t0 < 5  # at once, not after waiting
    finally:
        proc.kill()
        proc.wait()
    after = {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()}
    assert {k: v for k, v in after.items() if k != ".lock"} == {k: v for k, v in before.items() if k != ".lock"}
    assert exit_code("sample", copy, "--n", "5", "--sampler", "mala", "--quiet") == 0  # the lock ended with the process


@pytest.mark.slow
def test_two_resumes_at_once_one_wins_and_the_run_stays_whole(trained, tmp_path):
    """Two ``train --resume`` processes with different learning rates: one trains, the other is refused at once,
    and the run's config, weights and metrics are the winner's alone."""
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "scorematch", "train", "moons", "--out", str(copy), "--resume",
                               "--steps", "3000", "--lr", lr, "--quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for lr in ("1e-3", "2e-3")]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "is being written by pid" in loser and loser.count("\n") == 1
    winner_lr = ("1e-3", "2e-3")[[code for code, _ in results].index(0)]
    assert json.loads((copy / "config.json").read_text())["lr"] == float(winner_lr)
    steps = [json.loads(line)["step"] for line in (copy / "metrics.jsonl").read_text().splitlines()]
    done = json.loads((copy / "summary.json").read_text())["steps_done"]
    assert steps == sorted(set(steps)) and steps[-1] == done > 20  # one writer's lines, in order, none twice


def test_device_cuda_is_one_flag(tmp_path, capsys):
    """``--device cuda`` trains and samples on a GPU where torch sees one, and is one line and exit 2 elsewhere."""
    code = exit_code("train", "moons", "--out", tmp_path / "r", "--device", "cuda", *TINY)
    err = capsys.readouterr().err
    if torch.cuda.is_available():
        assert code == 0, err
        assert exit_code("sample", tmp_path / "r", "--n", "20", "--device", "cuda", "--quiet") == 0
        assert np.isfinite(np.load(tmp_path / "r" / "samples.npy")).all()
    else:
        assert code == 2 and err == "scorematch: error: --device cuda: this machine has no CUDA device available to " \
                                    "torch\n", err
        assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("text", ["garbage\n", "[1, 2]\n", '{"step": "3"}\n'])
def test_a_damaged_metrics_file_is_named_by_plot(trained, tmp_path, capsys, text):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    with open(copy / "metrics.jsonl", "a") as f:
        f.write(text)
    _fails(capsys, "plot", copy, "--out", tmp_path / "p", "--quiet", message=f"{copy / 'metrics.jsonl'}: line ")
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize(("text", "message"), [("[]", "must hold a JSON object"),
                                               ('{"steps_per_level": 2, "n_sigmas": "4", "step_size": 1e-5}',
                                                "n_sigmas must be a whole number > 0, got '4'"),
                                               ('{"steps_per_level": 2, "n_sigmas": 4, "step_size": -1}',
                                                "step_size must be a number > 0")])
def test_a_damaged_ladder_is_named_by_sample(tmp_path, capsys, text, message):
    run = tmp_path / "run"
    assert exit_code("train", "moons", "--objective", "ncsn", "--model", "score", "--out", run, *TINY) == 0
    (run / "ladder.json").write_text(text)
    _fails(capsys, "sample", run, "--n", "5", "--quiet", message=message)
    assert not (run / "samples.npy").exists()


def test_a_damaged_architecture_header_is_named(trained, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    save_file(load_file(copy / "model.safetensors"), copy / "model.safetensors", metadata={"architecture": "{not"})
    _fails(capsys, "sample", copy, "--n", "5", "--quiet", message="header holds no readable architecture")


def test_plot_and_compare_draw_data_far_beyond_float32(tmp_path, capsys):
    """Data near 1e154 (squares past float64, values past float32): the plots are drawn in float64, the density
    as log q (q itself underflows), and compare's mode check and figures finish."""
    x = np.random.default_rng(1).standard_normal((300, 2)) * 1e154
    np.save(tmp_path / "x.npy", x)
    assert exit_code("train", tmp_path / "x.npy", "--out", tmp_path / "r", *TINY) == 0
    assert exit_code("plot", tmp_path / "r", "--out", tmp_path / "p", "--n", "200", "--quiet") == 0
    assert {p.name for p in (tmp_path / "p").iterdir()} == {"loss.png", "density.png", "score_field.png",
                                                             "samples.png"}
    assert exit_code("compare", tmp_path / "x.npy", "--objectives", "esm", "--steps", "5", "--out", tmp_path / "c",
                     "--quiet") == 0
    assert "internal error" not in capsys.readouterr().err
    assert (tmp_path / "c" / "comparison.png").is_file()


@pytest.mark.parametrize(("key", "message"), [("n_data", "choose a smaller n_data"),
                                              ("hidden", "choose a smaller --hidden or --depth")])
def test_absurd_sizes_in_a_config_file_are_refused_up_front(tmp_path, capsys, key, message):
    (tmp_path / "c.toml").write_text(f"{key} = {10**18}\n")
    _fails(capsys, "train", "moons", "--out", tmp_path / "r", "--config", tmp_path / "c.toml", "--quiet",
           message=message)
    assert not (tmp_path / "r").exists()


def test_a_plot_that_fails_after_its_first_figure_writes_none(trained, tmp_path, capsys, monkeypatch):
    """A figure that fails after the loss curve was drawn: the folder is not made and no figure is left."""
    import scorematch.plot

    def broken(*args, **kwargs):
        raise ValueError("the density cannot be drawn")

    monkeypatch.setattr(scorematch.plot, "energy_landscape", broken)
    _fails(capsys, "plot", trained, "--out", tmp_path / "p", "--n", "20", "--quiet",
           message="the density cannot be drawn")
    assert not (tmp_path / "p").exists()
    default = trained / "plots"
    assert not default.exists()
    _fails(capsys, "plot", trained, "--n", "20", "--quiet", message="the density cannot be drawn")
    assert not default.exists()


def test_a_step_set_aside_by_a_killed_save_is_put_back_on_resume(trained, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    step = next((copy / "checkpoint").glob("step-*"))
    step.rename(step.with_name(f".{step.name}.old"))  # killed between the two renames of a save of the same step
    assert exit_code("train", "moons", "--out", copy, "--resume", "--steps", "30", "--quiet") == 0
    assert not list((copy / "checkpoint").glob(".*"))
    assert json.loads((copy / "summary.json").read_text())["steps_done"] == 30


def test_standardizing_does_not_overflow_where_x_minus_the_mean_would():
    stats = Standardizer((-1.5e308,), (1e308,), (1,))
    z = stats.transform(torch.tensor([[1.7e308], [-1.5e308]], dtype=torch.float64))
    assert torch.allclose(z, torch.tensor([[3.2], [0.0]], dtype=torch.float64), rtol=1e-12, atol=1e-12), z
