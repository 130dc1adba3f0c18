"""``compare`` with the methods score matching is compared with and the network-free estimators: every row filled,
quality against time measured and drawn, NCE's log Z next to AIS, and a diverged method reported, not fatal."""

import itertools
import json

import pytest

from scorematch.report import compare

ALL = ["esm", "cd", "pcd", "nce", "kde", "stein", "spectral-stein"]


def _compare(out, names):
    compare("8gaussians", names, out, steps=40, hidden=16, n_test=200, sample_steps=20, eval_seconds=0.05,
            progress=False)
    return out, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return _compare(tmp_path_factory.mktemp("cmp") / "c", ["nce", "kde"])


def test_every_row_is_filled(report):
    _check_rows(report[1], ["nce", "kde"])


@pytest.mark.slow  # fast twin: test_every_row_is_filled (two of the seven)
def test_every_method_fills_its_row_in_one_report(tmp_path):
    _check_rows(_compare(tmp_path / "c", ALL)[1], ALL)


def _check_rows(rep, names):
    rows = {r["objective"]: r for r in rep["objectives"]}
    assert list(rows) == names
    for name, row in rows.items():
        for key in ("train_seconds", "mmd2", "c2st", "rel_fisher", "final_quality"):
            assert isinstance(row[key], float), (name, key)
        assert row["diverged"] is None and row["quality_curve"], name
        assert row["family"] == {"esm": "score matching", "kde": "estimator", "stein": "estimator",
                                 "spectral-stein": "estimator"}.get(name, "baseline")
    for name in {"esm", "cd", "pcd", "nce"} & set(names):
        curve = rows[name]["quality_curve"]
        assert len(curve) >= 1 and all(b[0] > a[0] for a, b in itertools.pairwise(curve)), name  # the last: at the end
        assert isinstance(rows[name]["kl_grid"], float) and isinstance(rows[name]["mode_tv"], float)
        assert isinstance(rows[name]["ms_per_step"], float)
    for name in {"kde", "stein", "spectral-stein"} & set(names):
        assert rows[name]["ms_per_step"] is None and rows[name]["sampler"] == "langevin"
        assert rows[name]["quality_curve"] == [[rows[name]["train_seconds"], rows[name]["final_quality"]]]


def test_nce_reports_its_learned_log_z_next_to_ais(report):
    _, rep = report
    nce = next(r for r in rep["objectives"] if r["objective"] == "nce")
    assert all(isinstance(nce[k], float) for k in ("log_z_learned", "log_z_ais", "test_loglik_nce", "test_loglik_ais"))
    assert 0 < nce["log_z_ais_se"] < 0.5  # AIS converged on this energy
    # (after 40 steps the two log Z differ: test_gaussian_recovery checks the learned one against the exact one)


def test_the_report_shows_quality_against_time(report):
    out, _ = report
    text = (out / "report.md").read_text()
    assert "## Quality against time" in text and "| s to rel. Fisher ≤ 0.1 |" in text
    assert "![quality against time](quality.png)" in text and "| nce | 0." in text.split("learned log Z")[1]
    import matplotlib.image

    image = matplotlib.image.imread(out / "quality.png")
    assert image.shape[0] > 300 and image.shape[1] > 500


def test_a_diverged_method_is_reported_with_when_and_the_rest_goes_on(tmp_path, monkeypatch):
    from scorematch.report import contestants
    from scorematch.training.fit import TrainingDiverged

    real = contestants.train_run

    def diverging(cfg, folder, **kw):
        if cfg.objective != "cd":
            return real(cfg, folder, **kw)
        folder.mkdir(parents=True)
        (folder / "metrics.jsonl").write_text(json.dumps({"step": 5, "loss": 1.0, "seconds": 0.2, "quality": 0.9,
                                                          "energy_range": 5e3}) + "\n")
        raise TrainingDiverged("the objective became nan at step 7: training stopped", 7, 0.3)

    monkeypatch.setattr(contestants, "train_run", diverging)
    compare("8gaussians", ["cd", "esm"], tmp_path / "c", steps=20, hidden=16, n_test=200, sample_steps=20,
            progress=False)
    rows = json.loads((tmp_path / "c" / "report.json").read_text())["objectives"]
    assert rows[0]["diverged"] == "non-finite at step 7 (0.3 s of training)" and rows[0]["quality_curve"] == [[0.2, 0.9]]
    assert rows[0]["energy_runaway"].startswith("energies ran away at 0.2 s (step 5")
    assert rows[1]["diverged"] is None and isinstance(rows[1]["rel_fisher"], float)
    text = (tmp_path / "c" / "report.md").read_text()
    assert "| cd | baseline |" in text and "non-finite at step 7" in text and (tmp_path / "c" / "quality.png").is_file()


def test_the_command_line_passes_objective_settings_to_every_method(tmp_path, monkeypatch, report):
    import scorematch.report
    from scorematch.cli import main

    seen = {}
    monkeypatch.setattr(scorematch.report, "compare", lambda *a, **kw: seen.update(kw) or tmp_path / "report.md")
    assert main(["compare", "moons", "--objectives", "kde,cd", "--sigma", "0.3", "--mcmc-steps", "3", "--out",
                 str(tmp_path / "c"), "--quiet"]) == 0
    assert seen["settings"] == {"sigma": 0.3, "mcmc_steps": 3}
    assert report[1]["settings"]["sigma"] == 0.1 and report[1]["settings"]["noise_ratio"] == 4  # recorded
