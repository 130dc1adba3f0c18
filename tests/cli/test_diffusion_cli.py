"""A diffusion model from the command line: ``train --objective diffusion --sde ve|vp|subvp`` writes a run whose
default sampler goes from the prior down (the reverse SDE), every diffusion sampler draws from it, its held-out
criterion is the objective's own loss, ``eval --log-prob`` gives log p by the probability-flow ODE, and the
diffusion samplers refuse a run that is not a diffusion model in one line."""

import json

import numpy as np
import pytest

from commands import TINY, exit_code, fails


@pytest.mark.parametrize("sde", ["vp", "ve", "subvp"])
def test_train_and_sample_a_diffusion_model(tmp_path, capsys, sde):
    run = tmp_path / "run"
    assert exit_code("train", "moons", "--objective", "diffusion", "--sde", sde, "--model", "score", "--out", run,
                     *TINY) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["objective"] == "diffusion" and saved["sde"] == sde
    summary = json.loads((run / "summary.json").read_text())
    assert summary["criterion"] == "val_loss" and "best_val_loss" in summary and "best_val_hyvarinen" not in summary
    samplers = ["pc", "sde", "ode"] + (["ddpm"] if sde == "vp" else [])
    for sampler in [None, *samplers]:
        name = sampler or "default"
        args = ["--sampler", sampler] if sampler else []
        assert exit_code("sample", run, "--n", "50", "--steps", "20", "--out", tmp_path / f"{name}.npy", "--quiet",
                         *args) == 0, capsys.readouterr().err
        x = np.load(tmp_path / f"{name}.npy")
        assert x.shape == (50, 2) and np.isfinite(x).all()
        report = json.loads((tmp_path / f"{name}.json").read_text())
        assert report["sampler"] == (sampler or "sde") and report["evaluations"] > 0
    capsys.readouterr()
    assert exit_code("eval", run, "--points", tmp_path / "pc.npy", "--log-prob", "--scores", "--out",
                     tmp_path / "e.npz") == 0
    out = np.load(tmp_path / "e.npz")
    assert out["log_prob"].shape == (50,) and np.isfinite(out["log_prob"]).all()
    assert np.array_equal(out["anomaly"], -out["log_prob"])
    assert "by the probability-flow ODE (exact divergence" in capsys.readouterr().out
    if sde != "vp":
        fails(capsys, "sample", run, "--sampler", "ddpm", "--n", "10", "--out", tmp_path / "d.npy",
              message="ddpm")


def test_a_diffusion_sampler_refuses_other_runs(tmp_path, capsys):
    assert exit_code("train", "moons", "--out", tmp_path / "run", *TINY) == 0
    fails(capsys, "sample", tmp_path / "run", "--sampler", "pc", "--n", "10", "--out", tmp_path / "s.npy",
          message="needs a diffusion model")


def test_ve_takes_its_sigma_range_from_the_data_unless_given(tmp_path, capsys):
    run = tmp_path / "ve"
    assert exit_code("train", "moons", "--objective", "diffusion", "--sde", "ve", "--model", "score", "--out", run,
                     *TINY) == 0
    assert "chosen from the data (ladder.json)" in capsys.readouterr().out
    rule = json.loads((run / "ladder.json").read_text())
    config = json.loads((run / "config.json").read_text())
    assert (config["sigma_max"], config["sigma"]) == (rule["sigma_max"], rule["sigma_min"])   # NCSNv2's rules
    assert exit_code("train", "moons", "--objective", "diffusion", "--sde", "ve", "--sigma-max", "7", "--out",
                     tmp_path / "given", *TINY) == 0
    assert not (tmp_path / "given" / "ladder.json").exists()
    assert json.loads((tmp_path / "given" / "config.json").read_text())["sigma_max"] == 7.0
    assert exit_code("train", "moons", "--objective", "diffusion", "--out", tmp_path / "vp", *TINY) == 0
    assert not (tmp_path / "vp" / "ladder.json").exists()   # vp: β, not σ



def test_vp_takes_beta_max_from_the_data_unless_given(tmp_path, capsys):
    """β_max: Song et al.'s 20 unless the data's largest distance would leave more than 5% of a standard deviation of
    signal at t = 1 (``schedules.vp_from_data``); a table with one far point raises it."""
    rows = np.random.default_rng(0).normal(size=(300, 2))
    rows[0] = [60.0, -60.0]  # standardized: about 8 standard deviations from the rest, in each coordinate
    np.savetxt(tmp_path / "far.csv", rows, delimiter=",")
    run = tmp_path / "vp"
    assert exit_code("train", tmp_path / "far.csv", "--objective", "diffusion", "--model", "score", "--out", run,
                     "--ties", "off", *TINY) == 0
    assert "chosen from the data (sde.json)" in capsys.readouterr().out
    rule = json.loads((run / "sde.json").read_text())
    config = json.loads((run / "config.json").read_text())
    assert config["beta_max"] == rule["beta_max"] > 20 and set(rule["reasons"]) == {"beta_min", "beta_max"}
    d = rule["largest_distance"]
    assert abs(np.exp(-(config["beta_min"] + config["beta_max"]) / 4) * d - 0.05) < 1e-9   # exactly 5% left
    assert exit_code("train", "moons", "--objective", "diffusion", "--out", tmp_path / "moons", *TINY) == 0
    assert json.loads((tmp_path / "moons" / "config.json").read_text())["beta_max"] == 20.0   # the floor
    assert exit_code("train", tmp_path / "far.csv", "--objective", "diffusion", "--beta-max", "12", "--out",
                     tmp_path / "given", "--ties", "off", *TINY) == 0
    assert not (tmp_path / "given" / "sde.json").exists()
    assert json.loads((tmp_path / "given" / "config.json").read_text())["beta_max"] == 12.0


def test_a_diffusion_run_takes_the_multilevel_defaults_it_was_not_given(tmp_path, capsys):
    """``defaults.multilevel_defaults``: on a table 30000 steps, no patience, a 256×4 network and log-σ-uniform times,
    each unless given, said in one line; the user's choices win."""
    from scorematch._infra.defaults import multilevel_defaults

    assert exit_code("train", "moons", "--objective", "diffusion", "--model", "score", "--out", tmp_path / "a",
                     "--steps", "20", "--hidden", "8", "--judge", "off") == 0
    out = capsys.readouterr().out
    assert "this diffusion run: patience off, depth 4, times log-sigma (defaults.multilevel_defaults" in out
    saved = json.loads((tmp_path / "a" / "config.json").read_text())
    assert (saved["steps"], saved["hidden"], saved["depth"], saved["patience"], saved["times"]) == (
        20, 8, 4, None, "log-sigma")
    assert multilevel_defaults("diffusion", False)["steps"] == 30000
    assert multilevel_defaults("diffusion", True) == {"steps": 16000, "patience": None}
    assert multilevel_defaults("ncsn", False)["depth"] == 4 and multilevel_defaults("ncsn", True) == {}
    assert multilevel_defaults("esm", False) == {}
    assert exit_code("train", "moons", "--out", tmp_path / "b", *TINY) == 0   # other objectives: untouched
    assert json.loads((tmp_path / "b" / "config.json").read_text())["depth"] == 2
    assert "this diffusion run" not in capsys.readouterr().out


def test_compare_gives_a_diffusion_method_its_own_defaults_within_the_budget(tmp_path):
    """``compare``: the step budget given is every method's; the rest of ``multilevel_defaults`` applies to the diffusion
    method only, and its row carries the verdicts and the samples' weights against the exact mixture."""
    from scorematch.report import compare

    compare("8gaussians", ["esm", "diffusion"], tmp_path / "c", steps=20, n_test=200, progress=False,
            settings={"sde": "vp"})
    diffusion = json.loads((tmp_path / "c" / "runs" / "diffusion" / "config.json").read_text())
    esm = json.loads((tmp_path / "c" / "runs" / "esm" / "config.json").read_text())
    assert (diffusion["steps"], diffusion["hidden"], diffusion["depth"], diffusion["patience"], diffusion["times"]) == (
        20, 256, 4, None, "log-sigma")
    assert (esm["steps"], esm["hidden"], esm["depth"]) == (20, 128, 2)
    rows = json.loads((tmp_path / "c" / "report.json").read_text())["objectives"]
    assert [r["sampler"] for r in rows] == ["smc", "sde"] and all(len(r["weights_samples"]) == 8 for r in rows)


def test_a_diffusion_energy_is_not_judged_by_its_smallest_level_alone(tmp_path):
    """The global judge keeps the weights whose energy at one level has the best held-out log-likelihood; a diffusion
    model's samples come from its whole path (at t_min its energy can weigh separated modes wrongly while the path
    weighs them right), so its own held-out loss alone chooses."""
    assert exit_code("train", "moons", "--objective", "diffusion", "--model", "energy", "--out", tmp_path / "r",
                     "--steps", "20", "--hidden", "8", "--quiet") == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert "judged_step" not in summary and "heldout_loglik" not in summary and summary["criterion"] == "val_loss"


def test_ncsn_on_a_table_takes_the_multilevel_defaults_too(tmp_path, capsys):
    """ncsn read 1.000 on rings because patience stopped it on the held-out plateau, before its finest levels were
    learned, with a network too small for them: on a table it now runs longer, wider, without patience."""
    assert exit_code("train", "moons", "--objective", "ncsn", "--model", "score", "--out", tmp_path / "n",
                     "--steps", "20", "--judge", "off") == 0
    assert "this ncsn run: patience off, hidden 256, depth 4 (defaults.multilevel_defaults" in capsys.readouterr().out
    saved = json.loads((tmp_path / "n" / "config.json").read_text())
    assert (saved["steps"], saved["patience"], saved["hidden"], saved["depth"]) == (20, None, 256, 4)
