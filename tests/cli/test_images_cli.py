"""Images on the command line end to end, with tiny networks and budgets: train (the conv net chosen for images,
the ladder from the data, per-channel standardization), sample (an array and a grid), eval, plot and compare."""

import json

import numpy as np
import pytest
from PIL import Image

from commands import exit_code

SMALL = ["--conv-width", "8", "--conv-blocks", "1", "--quiet"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    assert exit_code("train", "digits", "--objective", "ncsn", "--out", out, "--steps", "20", *SMALL) == 0
    return out


def test_train_picks_the_conv_net_and_stores_the_event_shape(digits_run):
    config = json.loads((digits_run / "config.json").read_text())
    stats = json.loads((digits_run / "data_stats.json").read_text())
    assert config["model"] == "conv" and config["conv_width"] == 8
    assert stats["event_shape"] == [1, 8, 8] and stats["standardizer"]["event_shape"] == [1, 8, 8]
    assert len(stats["standardizer"]["mean"]) == 1  # one channel: its pixels pooled
    lo, hi = stats["range"]
    assert 0 <= lo < 0.06 and 0.94 < hi < 1  # dequantized digits
    ladder = json.loads((digits_run / "ladder.json").read_text())
    assert ladder["sigmas"][0] > 5 and "64 dimensions" in ladder["reasons"]["ratio"]
    std = stats["standardizer"]["std"][0]  # σ_L: one grey level's dequantization cell, 1/17, in standardized units
    assert ladder["sigmas"][-1] == pytest.approx(1 / 17 / std) and "dequantization" in ladder["reasons"]["sigma_min"]


def test_sample_writes_images_and_a_grid_by_default(digits_run, capsys):
    assert exit_code("sample", digits_run, "--n", "6", "--steps", "21", "--quiet") == 0
    x = np.load(digits_run / "samples.npy")
    assert x.shape == (6, 1, 8, 8) and np.isfinite(x).all()
    grid = Image.open(digits_run / "samples.png")
    assert grid.size[0] > 100 and "grid ->" in capsys.readouterr().out
    assert exit_code("sample", digits_run, "--n", "2", "--steps", "21", "--out", digits_run / "s.csv") == 2
    assert "images are written as .npy" in capsys.readouterr().err


def test_eval_takes_image_points(digits_run, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((3, 1, 8, 8)))
    assert exit_code("eval", digits_run, "--points", tmp_path / "x.npy", "--out", tmp_path / "s.npz") == 0
    assert np.load(tmp_path / "s.npz")["score"].shape == (3, 1, 8, 8)
    np.save(tmp_path / "flat.npy", np.zeros((3, 64)))
    assert exit_code("eval", digits_run, "--points", tmp_path / "flat.npy", "--out", tmp_path / "t.npz") == 2
    assert "must have shape (n, 1, 8, 8)" in capsys.readouterr().err
    assert not (tmp_path / "t.npz").exists()


def test_plot_draws_samples_next_to_the_data(digits_run, tmp_path):
    assert exit_code("plot", digits_run, "--out", tmp_path / "p", "--n", "4", "--steps", "21", "--quiet") == 0
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["loss.png", "samples.png"]


def test_a_users_image_file_trains_with_global_scaling(tmp_path):
    g = np.random.default_rng(0)
    np.savez(tmp_path / "mnist.npz", x_train=g.integers(0, 256, (40, 6, 6), dtype=np.uint8), y_train=np.arange(40))
    out = tmp_path / "run"
    assert exit_code("train", tmp_path / "mnist.npz", "--key", "x_train", "--objective", "dsm", "--out", out,
                   "--steps", "5", "--standardize", "global", *SMALL) == 0
    stats = json.loads((out / "data_stats.json").read_text())
    assert stats["event_shape"] == [1, 6, 6] and json.loads((out / "config.json").read_text())["model"] == "conv"
    assert exit_code("train", tmp_path / "mnist.npz", "--key", "x_train", "--model", "conv", "--objective", "esm",
                   "--out", tmp_path / "e", "--steps", "3", *SMALL) == 0
    flat = tmp_path / "flat.npy"
    np.save(flat, g.random((40, 3)))
    assert exit_code("train", flat, "--model", "conv", "--out", tmp_path / "bad", *SMALL) == 2
    assert not (tmp_path / "bad").exists()


def test_compare_on_digits_reports_grids_and_classifier_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr("scorematch.metrics.digits.CLASSIFIER_STEPS", 200)  # a quicker classifier: the plumbing
    out = tmp_path / "cmp"
    assert exit_code("compare", "digits", "--objectives", "dsm,ncsn", "--steps", "5", "--out", out,
                   "--eval-seconds", "100", "--sample-steps", "20", *SMALL) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["model"] == "conv" and set(report["reference"]["digits"]) == {"real digits", "gaussian"}
    for row in report["objectives"]:
        assert 0 <= row["digits"]["covered"] <= 10 and row["digits"]["frechet"] > 0
    text = (out / "report.md").read_text()
    assert "## Digits, read by a classifier" in text and "*real digits* (reference)" in text
    assert (out / "comparison.png").is_file()
    assert exit_code("compare", "digits", "--objectives", "kde", "--out", tmp_path / "c2", *SMALL) == 2


def test_images_default_to_ncsn_and_esm_on_the_conv_net_warns(tmp_path, capsys):
    out = tmp_path / "d28"
    assert exit_code("train", "digits28", "--out", out, "--steps", "2", "--n-sigmas", "2", "--sigma", "0.5",
                   "--sigma-max", "4", *SMALL) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["objective"] == "ncsn" and config["model"] == "conv"
    assert json.loads((out / "data_stats.json").read_text())["event_shape"] == [1, 28, 28]
    assert exit_code("sample", out, "--n", "2", "--steps", "2", "--quiet") == 0
    assert np.load(out / "samples.npy").shape == (2, 1, 28, 28)
    capsys.readouterr()
    assert exit_code("train", "digits", "--objective", "esm", "--out", tmp_path / "e", "--steps", "1", *SMALL) == 0
    assert "64 backward passes per image" in capsys.readouterr().err


def test_a_damaged_range_and_csv_scores_of_images_are_refused(digits_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(digits_run, copy)
    stats = json.loads((copy / "data_stats.json").read_text())
    (copy / "data_stats.json").write_text(json.dumps({**stats, "range": "0-1"}))
    assert exit_code("sample", copy, "--n", "2", "--steps", "21") == 2
    assert "range must be [smallest, largest]" in capsys.readouterr().err
    np.save(tmp_path / "x.npy", np.zeros((2, 1, 8, 8)))
    assert exit_code("eval", digits_run, "--points", tmp_path / "x.npy", "--out", tmp_path / "s.csv") == 2
    assert "scores of images are written as .npz" in capsys.readouterr().err


def test_compare_measures_an_energy_on_digits(tmp_path, monkeypatch):
    """nce trains an MLP energy on the flattened digits; its log Z by AIS runs on the images' shape."""
    monkeypatch.setattr("scorematch.metrics.digits.CLASSIFIER_STEPS", 200)
    out = tmp_path / "cmp"
    assert exit_code("compare", "digits", "--objectives", "nce", "--steps", "3", "--out", out,
                   "--eval-seconds", "100", "--sample-steps", "2", "--quiet") == 0
    row = json.loads((out / "report.json").read_text())["objectives"][0]
    assert row["model"] == "energy" and row["log_z_ais"] is not None and row["digits"]["n"] == 360
