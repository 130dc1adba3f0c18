"""Smoke test of ``make bench``'s script: a quick run writes a complete report (peers are not installed in the
test environment, so only scorematch's columns are timed); bad options fail in one line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_quick_run_writes_every_row(tmp_path):
    out = tmp_path / "B.md"
    done = run("--quick", "--threads", "1", "--peers", "", "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    for objective in ("esm", "ssm", "ssm-vr", "dsm", "fd-ssm", "ncsn"):
        assert f"| 2 | {objective} | " in text
    assert "## Langevin sampling" in text and "\n| 16 | " in text
    assert "## Targets" in text and "1 thread," in text
    assert not list(tmp_path.glob("*.tmp"))


def test_unknown_peer_is_one_line_and_exit_2(tmp_path):
    done = run("--quick", "--peers", "ebm", "--out", str(tmp_path / "B.md"))
    assert done.returncode == 2
    assert "unknown peer(s) ebm" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "B.md").exists()


def quality(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "quality.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.parametrize("objectives", ["esm", pytest.param("esm,dsm auto", marks=pytest.mark.slow)])  # esm: fast twin
def test_quality_quick_run_writes_the_report(tmp_path, objectives):
    """``make quality``'s quick run: one target, short runs, no peers (not installed in the test environment)."""
    out = tmp_path / "Q.md"
    done = quality("--quick", "--peers", "", "--objectives", objectives, "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "## banana (2)" in text and "## Summary" in text
    for name in objectives.split(","):
        assert f"| scorematch {name} |" in text


def test_quality_refuses_an_unknown_peer_in_one_line(tmp_path):
    done = quality("--quick", "--peers", "ebm", "--out", str(tmp_path / "Q.md"))
    assert done.returncode == 2 and "unknown peer(s)/objective(s)/target(s) ebm" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "Q.md").exists()


def _digits_cost(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "digits_cost.py"), *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)


def test_the_digits_cost_table_has_a_row_per_objective(tmp_path):
    out = tmp_path / "cost.md"
    done = _digits_cost("--budget", "0.2", "--repeats", "1", "--sizes", "8", "--models", "mlp", "--out", str(out))
    assert done.returncode == 0, done.stderr
    rows = [line for line in out.read_text().splitlines() if line.startswith("| 64 | mlp |")]
    assert [r.split(" | ")[2] for r in rows] == ["esm", "ssm", "ssm-vr", "fd-ssm", "dsm"]
    assert all(float(r.split(" | ")[3]) > 0 and int(r.split(" | ")[4]) >= 1 for r in rows)


@pytest.mark.slow  # fast twin: test_the_digits_cost_table_has_a_row_per_objective
def test_the_digits_cost_table_covers_both_sizes_and_models(tmp_path):
    out = tmp_path / "cost.md"
    done = _digits_cost("--budget", "1", "--repeats", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    for d in (64, 784):
        for model in ("mlp", "conv"):
            assert text.count(f"| {d} | {model} |") == 5, (d, model)


def test_digits_quality_measures_an_image_run_against_its_references(tmp_path, monkeypatch, capsys):
    import importlib.util

    from scorematch.cli import main as cli

    spec = importlib.util.spec_from_file_location("digits_quality", ROOT / "bench" / "digits_quality.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr("scorematch.metrics.digits.CLASSIFIER_STEPS", 200)  # the plumbing, not the classifier
    run = tmp_path / "run"
    assert cli(["train", "digits", "--objective", "ncsn", "--out", str(run), "--steps", "5", "--conv-width", "8",
                "--conv-blocks", "1", "--n-sigmas", "3", "--sigma-max", "5", "--sigma", "0.2", "--quiet"]) == 0
    out = tmp_path / "q.md"
    assert script.main([str(run), "--n", "20", "--seeds", "1,2", "--out", str(out)]) == 0
    text = out.read_text()
    assert "| seed 1 |" in text and "| seed 2 |" in text and "**mean of 2**" in text
    assert "*real digits* (reference)" in text and "*gaussian* (reference)" in text
    assert script.main([str(run), "--n", "1"]) == 2 and "--n" in capsys.readouterr().err


def test_diffusion_quality_judges_each_method_by_the_truth(tmp_path):
    """``bench/diffusion_quality.py --quick``: a diffusion run on 8gaussians, its default sampler and the ODE, each row
    with the KL gap by the ODE, C2ST and the samples' weights against the exact ones; bad options fail in one line."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("diffusion_quality", ROOT / "bench" / "diffusion_quality.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out, raw = tmp_path / "d.md", tmp_path / "d.json"
    assert script.main(["--quick", "--methods", "diffusion vp (score", "--diffusion-samplers", "ode", "--out", str(out),
                        "--json", str(raw)]) == 0
    rows = json.loads(raw.read_text())["results"]["8gaussians"]
    assert [r["sampler"] for r in rows] == ["sde", "ode"]
    for r in rows:
        assert r["weights_true"] == pytest.approx([0.125] * 8) and 0 <= r["weights_tv"] <= 1
        assert abs(r["kl_gap"] - (r["exact_loglik"] - r["loglik"])) < 1e-9 and 0.4 <= r["c2st"] <= 1
    assert "| diffusion vp (score, ode) |" in out.read_text()
    assert script.main(["--targets", "moons"]) == 2


def test_sbi_bench_resumes_and_renders_every_row(tmp_path, capsys):
    """``bench/sbi_bench.py`` at a tiny budget with the library's methods (sbi is in the bench environment only):
    one row per method and observation count, C2ST in [0.4, 1], the iid rows on two_moons, the calibration error
    (none for the exact floor, never bold); a second run finds everything done and trains nothing; a bad method is
    one line, exit 2."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("sbi_bench", ROOT / "bench" / "sbi_bench.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out, raw = tmp_path / "s.md", tmp_path / "s.json"
    argv = ["--tasks", "two_moons", "--simulations", "300", "--observations", "1", "--samples", "200",
            "--methods", "npse,fsm,exact", "--steps", "40", "--iid", "3", "--calibration", "2", "--json", str(raw),
            "--out", str(out)]
    assert script.main(argv) == 0
    rows = json.loads(raw.read_text())
    assert set(rows) == {f"two_moons|300|{m}|{k}" for m in ("npse", "fsm", "exact") for k in (1, 3)}
    assert all(0.4 <= r["c2st"]["1"] <= 1 for r in rows.values())
    assert 0 <= rows["two_moons|300|npse|1"]["calibration"] <= 1 and "calibration" not in rows["two_moons|300|exact|1"]
    assert rows["two_moons|300|exact|1"]["c2st"]["1"] < 0.6  # two sets of exact draws
    capsys.readouterr()
    assert script.main(argv) == 0 and "training" not in capsys.readouterr().out
    assert "| two_moons | 300 | 3 | fsm |" in out.read_text() and "| exact | **" not in out.read_text()
    assert script.main(["--methods", "npe"]) == 2 and "unknown method" in capsys.readouterr().err
