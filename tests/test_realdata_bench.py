"""``make realdata``'s script in smoke mode (seed 0, iris and wine, 200 steps): the report has every table's rows,
the baselines' numbers are finite and in the data's units, ours is a number or a stated failure, and the anomaly
AUCs tell wine's other classes from class 0. The test environment has no pandas/statsmodels: the smoke tables come
from scikit-learn."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "realdata.py"


def _script():
    spec = importlib.util.spec_from_file_location("realdata", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_smoke_run_reports_every_table_and_method(tmp_path):
    out, js = tmp_path / "realdata.md", tmp_path / "realdata.json"
    done = run("--smoke", "--out", str(out), "--json", str(js))
    assert done.returncode == 0, done.stderr
    text, report = out.read_text(), json.loads(js.read_text())
    assert "--smoke" in text and "--steps 200" in text
    assert list(report["tables"]) == ["iris", "wine"] and report["settings"]["seeds"] == [0]
    held_out = text.split("## Held-out log-likelihood")[1].split("## Anomaly AUC")[0]
    aucs = text.split("## Anomaly AUC")[1].split("## Seconds")[0]
    assert "| iris | " in held_out and "| wine | " in held_out
    assert "| wine | " in aucs and "| iris | " not in aucs  # iris has no anomaly split

    iris, wine = report["tables"]["iris"], report["tables"]["wine"]
    assert (iris["rows"], len(iris["columns"]), iris["anomaly_rows"]) == (150, 4, 0)
    assert (wine["rows"], len(wine["columns"]), wine["anomaly_rows"]) == (59, 13, 119)
    assert min(iris["tie_shares"]) > 0.9  # measured to 0.1 cm
    for name, table in report["tables"].items():
        [seed] = table["seeds"]
        assert seed["n_train"] + seed["n_test"] == table["rows"] and seed["n_test"] == round(0.2 * table["rows"])
        methods = seed["methods"]
        for baseline in ("gaussian", "gmm", "kde"):
            assert math.isfinite(methods[baseline]["log_lik"]) and methods[baseline]["se"] > 0, (name, baseline)
        assert seed["best_baseline"] == max(("gaussian", "gmm", "kde"), key=lambda m: methods[m]["log_lik"])
        ours = methods["ours"]
        if "failure" in ours:  # a failure is reported, never a number
            assert "log_lik" not in ours and "diff" not in seed and "failed" in held_out
        else:
            assert ours["exit_code"] == 0 and math.isfinite(ours["log_lik"]) and math.isfinite(seed["diff"])
            expected = "better" if seed["diff"] > 2 * seed["diff_se"] else "worse" if seed["diff"] < -2 * seed[
                "diff_se"] else "tie"
            assert seed["verdict"] == expected
    for method in ("gaussian", "kde", "isolation_forest", "lof"):  # −log p is an anomaly score, not its negative
        assert report["tables"]["wine"]["seeds"][0]["methods"][method]["auc"] > 0.9, method

    # a run that exits 3 is shown as failed, with no number of ours anywhere in the page
    script, [seed] = _script(), wine["seeds"]
    seed["methods"]["ours"] = {"exit_code": 3, "failure": "eval exit 3: cannot be normalised", "seconds": 1.0}
    for key in ("diff", "diff_se", "verdict"):
        seed.pop(key, None)
    wine["summary"] = script.summarise(wine["seeds"])
    rows = [line for line in script.markdown(report).splitlines() if line.startswith("| wine | ")]
    assert len(rows) == 5  # tables, held-out, AUC, seconds, every seed
    assert rows[1].split(" | ")[1] == "failed on 1/1 seeds (exit 3)" and rows[1].endswith("| — | failed |")
    assert rows[2].split(" | ")[1] == "failed on 1/1 seeds (exit 3)"
    assert "failed: eval exit 3: cannot be normalised" in rows[4]


def test_baselines_are_in_the_data_units_and_ties_are_counted():
    script = _script()
    rng = np.random.default_rng(0)
    train, points = rng.normal(size=(300, 3)), rng.normal(size=(50, 3))
    for fit in (script.gaussian_log_prob, script.gmm_log_prob, script.kde_log_prob):
        log_p, _ = fit(train, points, 0)
        scaled, _ = fit(10 * train, 10 * points, 0)  # log p(10x) = log p(x) − 3 log 10
        np.testing.assert_allclose(scaled, log_p - 3 * math.log(10), rtol=1e-4, err_msg=fit.__name__)
    assert script.tie_shares(np.array([[1.0, 5.0], [1.0, 6.0], [2.0, 7.0], [3.0, 7.0]])) == [0.5, 0.5]


def test_an_unknown_table_is_one_line_and_exit_2(tmp_path):
    done = run("--tables", "iris,nope", "--out", str(tmp_path / "r.md"))
    assert done.returncode == 2 and "unknown table(s) nope" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "r.md").exists()
