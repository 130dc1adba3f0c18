"""sample / eval --log-prob / plot / compare as a user meets them: diagnostics beside the samples, warnings when
chains are stuck, log p normalised by SMC (checked against the grid), the mode check in reports."""

import json
import math

import numpy as np
import pytest
import torch

from scorematch.cli import main
from scorematch.metrics import grid_metrics
from scorematch.metrics.modes import mode_check
from scorematch.models.analytic import eight_gaussians
from scorematch.runs.run import load_run


def run_cli(*args) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def energy_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "e"
    assert run_cli("train", "8gaussians", "--out", run, "--steps", "400", "--hidden", "32", "--quiet") == 0
    return run


def test_sample_writes_its_diagnostics_and_says_whether_to_trust_them(tmp_path, energy_run, capsys):
    assert run_cli("sample", energy_run, "--n", "500", "--out", tmp_path / "s.npy") == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "s.json").read_text())
    assert np.load(tmp_path / "s.npy").shape == (500, 2) and "smc" in out and "converged" in out
    assert report["sampler"] == "smc" and report["trusted"] and report["warnings"] == []
    assert report["smc"]["weights_ess"] > 100 and report["smc"]["log_z_se"] < 0.3 and 0.3 < report["acceptance"] < 0.8

    assert run_cli("sample", energy_run, "--n", "300", "--sampler", "mala", "--steps", "200",
                   "--out", tmp_path / "m.npy") == 0
    captured = capsys.readouterr()
    report = json.loads((tmp_path / "m.json").read_text())
    assert not report["trusted"] and report["rhat"] > 1.01 and "not converged" in captured.out
    assert "scorematch: warning: chains have not mixed" in captured.err and "--sampler smc" in captured.err


def test_log_prob_is_normalised_by_smc_and_agrees_with_the_grid(tmp_path, energy_run, capsys):
    x = eight_gaussians().sample(50, torch.Generator().manual_seed(0)).numpy()
    np.save(tmp_path / "x.npy", x)
    assert run_cli("eval", energy_run, "--points", tmp_path / "x.npy", "--out", tmp_path / "e.npz", "--log-prob") == 0
    out = np.load(tmp_path / "e.npz")
    np.testing.assert_allclose(out["log_prob"], -out["energy"] - out["log_z"], rtol=0, atol=1e-9)
    run = load_run(energy_run)
    grid = grid_metrics(run.energy, box=((-8, 8), (-8, 8)), resolution=400, dtype=torch.float64)
    assert abs(float(out["log_z"]) - grid.log_z) < 4 * float(out["log_z_se"]) + 0.02
    assert "log Z" in capsys.readouterr().out


def test_log_prob_and_energy_samplers_refuse_a_score_model(tmp_path, capsys):
    run = tmp_path / "s"
    assert run_cli("train", "moons", "--model", "score", "--objective", "dsm", "--out", run, "--steps", "20",
                   "--hidden", "16", "--quiet") == 0
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    for args, message in ((("eval", run, "--points", tmp_path / "x.npy", "--out", tmp_path / "e.npz", "--log-prob"),
                           "log p needs an energy model"),
                          (("sample", run, "--n", "10", "--sampler", "smc", "--out", tmp_path / "s.npy"),
                           "the smc sampler needs an energy model")):
        with pytest.raises(SystemExit) as exit_info:
            run_cli(*args)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "e.npz").exists() and not (tmp_path / "s.npy").exists()
    assert run_cli("sample", run, "--n", "10", "--steps", "5", "--out", tmp_path / "l.npy") == 0
    assert "cannot recover the weights between separated modes" in capsys.readouterr().err


def test_plot_takes_n_steps_quiet_and_prints_its_stages(tmp_path, energy_run, capsys):
    assert run_cli("plot", energy_run, "--out", tmp_path / "p", "--n", "300", "--steps", "3", "--log") == 0
    out = capsys.readouterr().out
    assert "sampling 300 points (smc)" in out and "drawing density.png" in out
    assert run_cli("plot", energy_run, "--out", tmp_path / "q", "--n", "200", "--quiet") == 0
    assert "sampling" not in capsys.readouterr().out
    for name in ("density.png", "score_field.png", "samples.png", "loss.png"):
        assert (tmp_path / "q" / name).is_file()


def test_compare_reports_the_sampler_and_the_mode_check(tmp_path, capsys):
    from scorematch.report import compare

    compare("8gaussians", ["esm"], tmp_path / "c", steps=100, hidden=16, n_test=300)
    row = json.loads((tmp_path / "c" / "report.json").read_text())["objectives"][0]
    assert row["sampler"] == "smc" and isinstance(row["sampler_trusted"], bool)
    assert len(row["mode_mass_density"]) == 8 and math.isclose(sum(row["mode_mass_density"]), 1, abs_tol=1e-6)
    assert 0 <= row["mode_tv"] <= 1 and row["modes_agree"] == (row["mode_tv"] <= row["mode_tv_limit"])
    for key in ("ms_per_step", "train_seconds", "final_loss", "mmd2", "c2st", "rel_fisher", "kl_grid"):
        assert isinstance(row[key], float), key
    assert 0 <= row["c2st"] <= 1 and row["rel_fisher"] >= 0 and row["kl_grid"] >= -1e-6
    assert "| converged |" in (tmp_path / "c" / "report.md").read_text()
    # the samples' share per true component against the exact weights (1/8 each), and two verdicts kept apart
    assert len(row["weights_samples"]) == 8 and row["weights_true"] == pytest.approx([0.125] * 8)
    assert row["weights_right"] == (row["weights_tv"] <= row["weights_tv_limit"])
    assert set(row["verdict"]) == {"sampler", "fit"} and row["verdict"]["fit"].split(":")[0] in ("good", "poor")
    text = (tmp_path / "c" / "report.md").read_text()
    assert "| weights TV (truth) |" in text and f"| esm | {row['verdict']['sampler']} | {row['verdict']['fit']} |" in text
    for name in ("comparison.png", "losses.png", "runs/esm/model.safetensors", "runs/esm/config.json"):
        assert (tmp_path / "c" / name).is_file(), name
    out = capsys.readouterr().out
    assert "[1/1] esm: training (100 steps)" in out and "[1/1] esm: sampling and measuring (smc" in out


def test_mode_check_flags_samples_that_miss_the_density_s_weights():
    target = eight_gaussians()
    g = torch.Generator().manual_seed(0)
    x = target.sample(4000, g)
    fair = mode_check(target, x[:1000], target.component, box=((-4, 4), (-4, 4)))
    lopsided = mode_check(target, x[target.component(x) < 4][:1000], target.component, box=((-4, 4), (-4, 4)))
    assert fair.agree and fair.tv < 0.06
    assert not lopsided.agree and lopsided.tv == pytest.approx(0.5, abs=0.01)


def test_an_unknown_objective_name_is_refused_not_replaced():
    from scorematch.runs.config import TrainConfig
    from scorematch.runs.registry import build_objective

    cfg = TrainConfig(data="moons")
    object.__setattr__(cfg, "objective", "xyz")  # a name the table does not hold, past the config's own check
    with pytest.raises(ValueError, match="unknown objective 'xyz'; choose one of: esm, ssm"):
        build_objective(cfg)


def test_a_value_that_could_not_be_measured_is_shown_missing_with_its_reason():
    from scorematch.report.markdown import markdown

    row = {"objective": "esm", "mmd2": None, "c2st": None, "sampler": "smc", "sampler_trusted": False,
           "missing": "MMD²/C2ST not measured: only 3 of 300 samples are finite"}
    text = markdown("moons", 10, "energy", 0, [row], {"mmd2": 0.0, "c2st": 0.5}, False, 300, False)
    assert "| esm |" in text and "| — | — |" in text and "only 3 of 300 samples are finite" in text
    assert "| **no** |" in text
