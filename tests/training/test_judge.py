"""The global judge (scorematch.training.judge): the held-out log-likelihood chooses the weights a run keeps, and a model
that cannot be normalised gets no number from train, eval or sample (exit code 3, nothing written)."""

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from commands import exit_code
from scorematch import Energy
from scorematch.training.judge import HeldOut, choose, heldout_log_likelihood


def _held(mean, problems=()):
    return HeldOut(mean, 0.1, mean, 0.0, 0.01, 10, "smc", tuple(problems), 0.0)


def test_choose_keeps_the_best_normalisable_candidate_and_loads_its_weights():
    model = nn.Linear(1, 1, bias=False)
    snaps = [{"weight": torch.full((1, 1), float(k))} for k in range(8)]
    model.load_state_dict({"weight": torch.full((1, 1), 100.0)})  # the weights training kept (best_step 800)
    scores = {100.0: -5.0, 1.0: -3.0, 3.0: -1.0, 5.0: -2.0, 7.0: 9.0}  # snapshot 7 is best but not normalisable

    def judge(m):
        w = float(m.weight.detach())
        return _held(scores[w], ["far"] if w == 7.0 else ())

    step, held, records = choose(model, snaps, [100 * (k + 1) for k in range(8)], 800, judge)
    assert [r["step"] for r in records] == [800, 200, 400, 600]  # the kept weights, then ¼, ½, ¾ (the last is kept)
    assert step == 400 and held.mean == -1.0 and float(model.weight.detach()) == 3.0


def test_choose_keeps_the_trained_weights_when_nothing_can_be_normalised():
    model = nn.Linear(1, 1, bias=False)
    kept = model.weight.detach().clone()
    step, held, _ = choose(model, [{"weight": torch.ones(1, 1)}], [100], 50, lambda m: _held(0.0, ["far"]))
    assert step == 50 and not held.normalisable and math.isnan(held.to_dict()["mean"] or math.nan)
    assert torch.equal(model.weight, kept)


def test_heldout_log_likelihood_of_a_gaussian_in_data_units():
    """N(0, I) in standardized units with scales s: log p(x) = log N(z) − Σ log s, its mean within 3 se."""
    z = torch.randn(3000, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    log_scale = math.log(2.0) + math.log(0.5) + math.log(10.0)
    held, log_p = heldout_log_likelihood(Energy(lambda x: 0.5 * x.square().sum(-1)), z.float(), log_scale=log_scale)
    exact = (-0.5 * z.square().sum(1) - 1.5 * math.log(2 * math.pi) - log_scale)
    assert held.normalisable and abs(held.log_z - 1.5 * math.log(2 * math.pi)) < 4 * held.log_z_se + 1e-3
    assert torch.allclose(log_p, exact, atol=5 * held.log_z_se + 1e-3)
    assert held.se == pytest.approx(math.sqrt(float(log_p.var()) / 3000 + held.log_z_se**2))
    assert held.per_column == pytest.approx(held.mean / 3)


def test_an_energy_unbounded_below_is_not_normalised():
    """E = −‖x‖: its mass runs away from the data; SMC's samples lie far out and no number is given."""
    held, _ = heldout_log_likelihood(Energy(lambda x: -x.norm(dim=-1)), torch.randn(100, 2))
    assert not held.normalisable and "beyond 10 standard deviations" in held.problems[0]
    assert math.isnan(held.mean) and held.to_dict()["mean"] is None


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("judge")
    x = np.random.default_rng(0).multivariate_normal([1.0, -2.0], [[1.0, 0.6], [0.6, 2.0]], size=800)
    np.savetxt(folder / "train.csv", x[:600], delimiter=",", header="a,b", comments="")
    np.savetxt(folder / "test.csv", x[600:], delimiter=",", header="a,b", comments="")
    return folder


def test_train_judges_by_the_held_out_log_likelihood(table, capsys):
    run = table / "run"
    assert exit_code("train", table / "train.csv", "--out", run, "--steps", "800", "--hidden", "32", "--quiet") == 0
    out = capsys.readouterr().out
    summary = json.loads((run / "summary.json").read_text())
    held = summary["heldout_loglik"]
    assert f"kept the weights of step {summary['judged_step']} by the held-out log-likelihood" in out
    assert held["problems"] == [] and held["n"] == 60 and summary["kept_weights"] == "best held-out log-likelihood"
    truth = -math.log(2 * math.pi) - 0.5 * math.log(2.0 - 0.36) - 1.0  # E log N(x; μ, Σ) = −log 2π − ½log|Σ| − 1
    assert abs(held["mean"] - truth) < 3 * held["se"] + 0.1
    assert {r["step"] for r in summary["judged_candidates"]} >= {summary["judged_step"]}
    # eval: the mean log p of held-out points with its standard error, and an anomaly column
    assert exit_code("eval", run, "--points", table / "test.csv", "--out", table / "e.csv", "--log-prob",
                     "--scores", "--particles", "2048") == 0
    printed = capsys.readouterr().out
    cols = np.genfromtxt(table / "e.csv", delimiter=",", names=True)
    log_p = cols["log_prob"]
    assert np.array_equal(cols["anomaly"], -log_p)
    se_z = float(printed.split("log Z ")[1].split(" ± ")[1].split(" ")[0])
    mean_se = math.sqrt(np.var(log_p, ddof=1) / len(log_p) + se_z**2)
    assert f"mean log p {log_p.mean():.4f} ± {mean_se:.4f} nats per point ({log_p.mean() / 2:.4f} per column)" in printed
    assert abs(log_p.mean() - truth) < 3 * mean_se + 0.1


def test_a_model_that_cannot_be_normalised_exits_3_everywhere_and_writes_nothing(table, capsys):
    """Five steps of a random energy: SMC's samples run far from the data. train keeps the run (as a diverged one
    does) and says so; eval --log-prob and sample write nothing."""
    run = table / "raw"
    assert exit_code("train", "moons", "--out", run, "--steps", "5", "--hidden", "8", "--quiet") == 3
    err = capsys.readouterr().err
    assert "scorematch: the model cannot be normalised: " in err and "standard deviations of the data" in err
    assert json.loads((run / "summary.json").read_text())["heldout_loglik"]["mean"] is None
    assert exit_code("eval", run, "--points", table / "test.csv", "--out", table / "bad.npz", "--log-prob") == 3
    assert exit_code("sample", run, "--out", table / "bad.npy") == 3
    assert not (table / "bad.npz").exists() and not (table / "bad.npy").exists() and not (table / "bad.json").exists()
    assert exit_code("eval", run, "--points", table / "test.csv", "--out", table / "ok.npz") == 0  # no log p asked
    assert exit_code("sample", run, "--out", table / "ok.npy", "--sampler", "mala", "--steps", "20") == 0


def test_a_small_table_gets_the_table_defaults_unless_the_objective_is_given(table, capsys):
    """Below SMALL_TABLE_ROWS rows: denoising at σ = 0.1, said in one line; a given --objective keeps the group out."""
    from scorematch._infra.defaults import SMALL_TABLE_ROWS, table_defaults

    assert table_defaults(SMALL_TABLE_ROWS) == {} and table_defaults(150) == {"objective": "dsm", "sigma": 0.1}
    run = table / "small"
    assert exit_code("train", table / "train.csv", "--out", run, "--steps", "300", "--hidden", "16", "--quiet") == 0
    assert "a table of 600 rows: objective dsm, sigma 0.1" in capsys.readouterr().out
    config = json.loads((run / "config.json").read_text())
    assert (config["objective"], config["sigma"]) == ("dsm", 0.1)
    given = table / "given"
    assert exit_code("train", table / "train.csv", "--out", given, "--steps", "300", "--hidden", "16", "--quiet",
                     "--objective", "esm") == 0
    assert "a table of" not in capsys.readouterr().out
    config = json.loads((given / "config.json").read_text())
    assert config["objective"] == "esm"


def test_a_draw_says_the_model_cannot_be_normalised_instead_of_a_log_z():
    """sample's one-line description, compare's and plot's verdicts read the draw's ``normalisable``."""
    from scorematch.samplers.named import describe, draw

    _, report = draw("smc", Energy(lambda x: -x.norm(dim=-1)), 256, (2,), seed=0)
    assert report["normalisable"] is False and not report["trusted"]
    assert "the model cannot be normalised (no log Z)" in describe(report) and "log Z -" not in describe(report)
    _, good = draw("smc", Energy(lambda x: 0.5 * x.square().sum(-1)), 256, (2,), seed=0)
    assert good["normalisable"] is True and "log Z 1.8" in describe(good)  # log 2π = 1.838
