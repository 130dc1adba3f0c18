"""The command line end to end in a temporary folder, with tiny budgets."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from scorematch.cli import main
from scorematch.runs.registry import OBJECTIVES

TINY = ["--steps", "30", "--hidden", "16", "--depth", "2", "--quiet", "--judge", "off"]


def run_cli(*args: str) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def scaled_data(tmp_path_factory):
    """2-D data far from standardized: the run must undo mean 10 / scale 5 and 0.2 exactly."""
    folder = tmp_path_factory.mktemp("data")
    g = np.random.default_rng(0)
    x = np.stack([10 + 5 * g.standard_normal(600), -3 + 0.2 * g.standard_normal(600)], 1)
    np.save(folder / "x.npy", x)
    return folder / "x.npy"


@pytest.mark.parametrize("objective", OBJECTIVES.names())
def test_train_sample_eval_for_every_objective(tmp_path, scaled_data, objective):
    run = tmp_path / "run"
    assert run_cli("train", scaled_data, "--objective", objective, "--out", run, *TINY) == 0
    for name in ("config.json", "data_stats.json", "model.safetensors", "metrics.jsonl", "checkpoint/latest.json"):
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["objective"] == objective and config["steps"] == 30
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["step"] == 30 and {"step", "loss", "seconds"} <= set(json.loads(lines[0]))
    own = {"val_loss"} if OBJECTIVES[objective].properties.heldout else set()  # cd, pcd: an MCMC loss judges nothing
    hyvarinen = set() if OBJECTIVES[objective].sde else {"val_hyvarinen"}  # diffusion: judged by its own loss
    assert {*hyvarinen, *own} <= set(json.loads(lines[-1]))  # ncsn: at the smallest σ, own loss too
    assert json.loads((run / "summary.json").read_text())["best_step"] == 30

    # small fixed MALA steps from N(0, I) stay near the data even for a barely trained, nearly flat model
    assert run_cli("sample", run, "--n", 200, "--out", tmp_path / "s.npy", "--steps", 20, "--sampler", "mala",
                   "--step-size", "0.005") == 0
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (200, 2) and np.isfinite(samples).all()
    assert abs(samples[:, 0].mean() - 10) < 5 and abs(samples[:, 1].mean() + 3) < 1  # data units, not standardized
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["sampler"] == "mala" and 0 < report["acceptance"] <= 1 and report["rhat"] >= 1

    assert run_cli("eval", run, "--points", scaled_data, "--out", tmp_path / "e.npz") == 0
    out = np.load(tmp_path / "e.npz")
    assert out["score"].shape == (600, 2) and ("energy" in out) and out["energy"].shape == (600,)


def test_eval_of_an_energy_model_is_the_finite_difference_gradient_in_data_units(tmp_path, scaled_data):
    run = tmp_path / "run"
    assert run_cli("train", scaled_data, "--objective", "dsm", "--out", run, *TINY) == 0
    x = np.load(scaled_data)[:20]
    h = np.array([1e-2, 4e-4])  # a step proportional to each column's scale
    points = np.concatenate([x] + [x + s * np.eye(2)[j] * h[j] for j in range(2) for s in (1, -1)])
    np.save(tmp_path / "p.npy", points)
    assert run_cli("eval", run, "--points", tmp_path / "p.npy", "--out", tmp_path / "e.npz") == 0
    out = np.load(tmp_path / "e.npz")
    e = out["energy"].astype(np.float64).reshape(5, 20)
    fd = np.stack([-(e[1 + 2 * j] - e[2 + 2 * j]) / (2 * h[j]) for j in range(2)], 1)  # −∂E/∂x_j
    np.testing.assert_allclose(out["score"][:20], fd, rtol=2e-2, atol=2e-2 * np.abs(fd).max())


def test_resume_after_a_stop_equals_an_uninterrupted_run(tmp_path):
    assert run_cli("train", "moons", "--out", tmp_path / "whole", *TINY[:1], "40", *TINY[2:]) == 0
    assert run_cli("train", "moons", "--out", tmp_path / "part", *TINY) == 0           # stops at 30
    assert run_cli("train", "moons", "--out", tmp_path / "part", "--resume", "--steps", 40, "--quiet") == 0
    a = load_file(tmp_path / "whole" / "model.safetensors")
    b = load_file(tmp_path / "part" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_held_out_criterion_best_step_and_summary(tmp_path, capsys):
    run = tmp_path / "run"
    assert run_cli("train", "moons", "--out", run, "--steps", 60, "--eval-every", 20, "--hidden", 16, "--quiet",
                   "--judge", "off") == 0
    assert "kept the weights of step" in capsys.readouterr().out
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evaluated = [r for r in records if "val_hyvarinen" in r]
    assert [r["step"] for r in evaluated] == [20, 40, 60] and all("val_loss" in r for r in evaluated)
    summary = json.loads((run / "summary.json").read_text())
    best = min(evaluated, key=lambda r: r["val_hyvarinen"])
    assert summary["best_step"] == best["step"] and summary["best_val_hyvarinen"] == best["val_hyvarinen"]
    assert summary["stop_reason"] == "steps" and summary["criterion"] == "exact trace"
    stats = json.loads((run / "data_stats.json").read_text())
    assert (stats["n_train"], stats["n_val"]) == (18000, 2000)
    kept = load_file(run / "model.safetensors")
    best_weights = load_file(run / "checkpoint" / "step-00000060" / "best.safetensors")
    assert all(torch.equal(kept[k], best_weights[k]) for k in kept)


def test_patience_stops_and_val_fraction_zero_turns_the_criterion_off(tmp_path):
    assert run_cli("train", "moons", "--out", tmp_path / "a", "--steps", 400, "--eval-every", 10, "--patience", 10,
                   "--hidden", 8, "--quiet", "--objective", "dsm", "--sigma", "2") == 0
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["stop_reason"] == "patience" and summary["steps_done"] < 400
    assert summary["steps_done"] == summary["best_step"] + 10
    assert run_cli("train", "moons", "--out", tmp_path / "b", "--val-fraction", 0, *TINY) == 0
    records = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert not any("val_hyvarinen" in r for r in records)
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["kept_weights"] == "EMA"


def test_tiny_data_trains_without_a_hold_out_and_a_refused_energy_writes_nothing(tmp_path):
    (tmp_path / "two.csv").write_text("1,2\n3,5\n")
    assert run_cli("train", tmp_path / "two.csv", "--out", tmp_path / "a", *TINY) == 0
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["criterion"] is None
    (tmp_path / "relu.toml").write_text('activation = "relu"\nobjective = "esm"\n')
    with pytest.raises(SystemExit) as exit_info:
        run_cli("train", "moons", "--out", tmp_path / "b", "--config", tmp_path / "relu.toml", *TINY)
    assert exit_info.value.code == 2 and not (tmp_path / "b").exists()


def test_sigma_auto_tries_a_grid_and_keeps_the_best(tmp_path, capsys):
    from scorematch.runs.autosigma import SIGMA_GRID

    run = tmp_path / "run"
    assert run_cli("train", "moons", "--objective", "dsm", "--sigma", "auto", "--judge", "off", "--out", run,
                   "--steps", 50, "--hidden", 16, "--quiet") == 0
    search = json.loads((run / "sigma_search.json").read_text())
    assert [t["sigma"] for t in search["tried"]] == list(SIGMA_GRID) and search["rungs"] == [12, 25]
    first = {t["sigma"]: t["val_hyvarinen"]["12"] for t in search["tried"]}
    second = {t["sigma"]: t["val_hyvarinen"]["25"] for t in search["tried"] if "25" in t["val_hyvarinen"]}
    assert sorted(second) == sorted(sorted(first, key=first.get)[:2])  # the better half goes on
    best = min(second, key=second.get)
    assert search["chosen"] == best == json.loads((run / "config.json").read_text())["sigma"]
    assert f"sigma {best:g} (auto)" in capsys.readouterr().out
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps[0] == 10 and steps[-1] == 50  # the winner's first half, then the run's second
    assert json.loads((run / "summary.json").read_text())["steps_done"] == 50


def test_sampler_choice_and_ncsn_default(tmp_path):
    run = tmp_path / "run"
    assert run_cli("train", "8gaussians", "--objective", "ncsn", "--model", "score", "--out", run, *TINY) == 0
    for sampler in ("annealed", "langevin"):
        assert run_cli("sample", run, "--n", 50, "--out", tmp_path / f"{sampler}.npy", "--sampler", sampler,
                       "--steps", 20) == 0
    assert np.load(tmp_path / "annealed.npy").shape == (50, 2)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("trained") / "run"
    assert run_cli("train", "moons", "--out", run, *TINY) == 0
    return run


def _bad_inputs(tmp, run):
    (tmp / "nan.csv").write_text("1,2\n3,nan\n4,5\n")
    (tmp / "ragged.csv").write_text("1,2\n3\n")
    np.save(tmp / "d3.npy", np.zeros((10, 3)))
    np.save(tmp / "flat.npy", np.zeros((2, 2, 2, 2, 2)))
    (tmp / "bad.toml").write_text('train = "x"\n')
    (tmp / "unknown.toml").write_text('steps = 7\nlearning_rate = 0.1\n')
    broken = tmp / "broken"
    broken.mkdir(exist_ok=True)
    for name in ("config.json", "data_stats.json"):
        (broken / name).write_bytes((run / name).read_bytes())
    (broken / "model.safetensors").write_bytes((run / "model.safetensors").read_bytes()[:100])
    new = tmp / "new"
    return [
        (["train", "moons", "--out", new, "--config", tmp / "bad.toml"], "[train] must be a table"),
        (["train", "moons", "--out", new, "--config", tmp / "unknown.toml"], "unknown setting(s) learning_rate"),
        (["sample", broken, "--n", "5", "--out", tmp / "s.npy"], "model.safetensors is unreadable"),
        (["train", "moons", "--out", run, "--resume", "--steps", "10"], "would go backwards"),
        (["train", "moons", "--out", run, "--resume", "--hidden", "8"], "only --steps and --lr may change"),
        (["train", tmp / "missing.npy", "--out", new], "no such file"),
        (["train", tmp / "nan.csv", "--out", new], "row 2"),
        (["train", tmp / "ragged.csv", "--out", new], "row 2"),
        (["train", tmp / "flat.npy", "--out", new], "flat.npy"),
        (["train", "moons", "--objective", "bogus", "--out", new], "invalid choice: 'bogus'"),
        (["train", "moons", "--sigma", "0", "--out", new], "sigma must be a finite number > 0"),
        (["train", "moons", "--sigma", "-2", "--out", new], "sigma must be a finite number > 0"),
        (["train", "moons", "--steps", "0", "--out", new], "positive integer"),
        (["train", "moons", "--sigma", "auto", "--objective", "esm", "--out", new], "'auto' only for the objective dsm"),
        (["train", "moons", "--sigma", "often", "--out", new], "expected a number, got 'often'"),
        (["train", "moons", "--objective", "dsm", "--sigma", "auto", "--val-fraction", "0", "--out", new],
         "'auto' needs held-out data"),
        (["train", "moons", "--val-fraction", "1", "--out", new], "expected a number in [0, 1)"),
        (["train", "moons", "--patience", "-5", "--out", new], "expected an integer >= 0"),
        (["train", "moons", "--eval-every", "0", "--out", new], "positive integer"),
        (["train", "moons", "--weight-decay", "-1", "--out", new], "weight_decay must be a finite number >= 0"),
        (["train", "moons", "--out", run], "exists and is not empty"),
        (["train", "moons", "--out", new, "--config", tmp / "none.toml"], "cannot read the config file"),
        (["sample", tmp / "norun", "--n", "5", "--out", tmp / "s.npy"], "no such run folder"),
        (["sample", run, "--n", "5", "--out", tmp / "s.txt"], "must end in .npy"),
        (["sample", run, "--n", "5", "--out", tmp / "s.npy", "--sampler", "annealed"], "noise-conditional"),
        (["sample", run, "--n", "5", "--out", tmp / "s.npy", "--step-size", "-1"], "--step-size must be > 0"),
        (["eval", run, "--points", tmp / "d3.npy", "--out", tmp / "e.npz"], "must have shape (n, 2)"),
        (["eval", run, "--points", tmp / "nan.csv", "--out", tmp / "e.npz"], "row 2"),
    ]


def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, trained, capsys):
    before = sorted((p.name, p.stat().st_size) for p in trained.rglob("*"))
    for args, message in _bad_inputs(tmp_path, trained):
        with pytest.raises(SystemExit) as exit_info:
            run_cli(*args)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2, (args, err)
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, (args, err)
        assert not (tmp_path / "new").exists(), args
        assert not (tmp_path / "s.npy").exists() and not (tmp_path / "e.npz").exists(), args
    assert sorted((p.name, p.stat().st_size) for p in trained.rglob("*")) == before


def test_the_installed_command_prints_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "scorematch", "eval", str(tmp_path), "--points", "x.npy",
                             "--out", str(tmp_path / "o.npz")], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("scorematch: error:") and "Traceback" not in result.stderr


def test_help_of_every_command():
    for command in ([], ["train"], ["sample"], ["eval"], ["plot"], ["compare"], ["demo"]):
        with pytest.raises(SystemExit) as exit_info:
            run_cli(*command, "--help")
        assert exit_info.value.code == 0


def test_plot_writes_every_figure(tmp_path, trained):
    assert run_cli("plot", trained, "--out", tmp_path / "plots") == 0
    import matplotlib.image

    for name in ("density.png", "score_field.png", "samples.png", "loss.png"):
        image = matplotlib.image.imread(tmp_path / "plots" / name)
        assert image.shape[0] > 200 and image.shape[1] > 200, name


@pytest.mark.slow  # fast twin: test_sampling_cli.py::test_compare_reports_the_sampler_and_the_mode_check
def test_compare_writes_the_report(tmp_path):
    from scorematch.report import compare

    compare("8gaussians", ["dsm", "ncsn"], tmp_path / "c", steps=20, hidden=16, n_test=300, sample_steps=30)
    report = json.loads((tmp_path / "c" / "report.json").read_text())
    assert [r["objective"] for r in report["objectives"]] == ["dsm", "ncsn"]
    for row in report["objectives"]:
        for key in ("ms_per_step", "train_seconds", "final_loss", "mmd2", "c2st", "rel_fisher", "kl_grid"):
            assert isinstance(row[key], float), key
        assert 0 <= row["c2st"] <= 1 and row["rel_fisher"] >= 0 and row["kl_grid"] >= -1e-6
    text = (tmp_path / "c" / "report.md").read_text()
    assert "| dsm |" in text and "| ncsn |" in text and "![comparison of methods](comparison.png)" in text
    for name in ("comparison.png", "losses.png", "runs/dsm/model.safetensors", "runs/ncsn/config.json"):
        assert (tmp_path / "c" / name).is_file(), name


def test_compare_rejects_unknown_objectives(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli("compare", "moons", "--objectives", "dsm,xyz", "--out", tmp_path / "c")
    assert exit_info.value.code == 2 and "unknown objective(s) xyz" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_a_run_with_a_relative_data_path_works_from_another_folder(tmp_path, scaled_data, monkeypatch):
    monkeypatch.chdir(scaled_data.parent)
    assert run_cli("train", scaled_data.name, "--out", tmp_path / "run", *TINY) == 0
    monkeypatch.chdir(tmp_path)
    assert run_cli("plot", "run", "--out", "plots") == 0 and (tmp_path / "plots" / "samples.png").is_file()
    np.save(tmp_path / "one.npy", np.array([[10.0, -3.0]]))
    assert run_cli("eval", "run", "--points", "one.npy", "--out", "one.npz") == 0  # a single point is fine
    assert np.load(tmp_path / "one.npz")["score"].shape == (1, 2)
