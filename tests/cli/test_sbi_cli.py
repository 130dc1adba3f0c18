"""``scorematch sbi``: the files it writes for each method, simulations saved and reused, and one-line errors for
bad simulators and bad requests that leave nothing behind."""

import json

import numpy as np
import pytest
from tests.commands import exit_code, fails

FAST = ["--simulations", "200", "--steps", "30", "--samples", "200", "--quiet"]
UNIFORM = ("import torch\n"
           "prior = torch.distributions.Independent(torch.distributions.Uniform(torch.zeros(2, dtype=torch.float64),"
           " torch.ones(2, dtype=torch.float64)), 1)\n"
           "parameter_names = ['rate', 'shift']\n")


def test_npse_writes_its_files_and_its_simulations_are_reused(tmp_path):
    out = tmp_path / "a"
    assert exit_code("sbi", "two_moons", "--method", "npse", *FAST, "--steps", "400", "--calibration", "3",
                     "--out", out) == 0
    assert {p.name for p in out.iterdir()} == {"simulations.npz", "posterior.csv", "pairplot.png", "report.json",
                                               "report.md"}
    draws = np.loadtxt(out / "posterior.csv", delimiter=",", skiprows=1)
    assert (out / "posterior.csv").read_text().splitlines()[0] == "theta1,theta2"
    assert draws.shape == (200, 2) and (np.abs(draws) <= 1).all()            # inside the prior's box
    report = json.loads((out / "report.json").read_text())
    assert 0.4 <= report["c2st"] <= 1 and 0 <= report["coverage_error"] <= 1 and report["simulations"] == 200
    again = tmp_path / "b"
    assert exit_code("sbi", "two_moons", "--method", "npse", *FAST, "--steps", "400", "--calibration", "0",
                     "--out", again,
                     "--simulations-from", out / "simulations.npz") == 0
    with np.load(out / "simulations.npz") as a, np.load(again / "simulations.npz") as b:
        assert np.array_equal(a["theta"], b["theta"]) and np.array_equal(a["x"], b["x"])


def test_fsm_on_a_task_file_with_iid_observations(tmp_path):
    (tmp_path / "sim.py").write_text(UNIFORM + "def simulator(theta, generator):\n"
                                     "    return theta + 0.1 * torch.randn(theta.shape, generator=generator, "
                                     "dtype=theta.dtype)\n")
    np.save(tmp_path / "obs.npy", np.array([[0.3, 0.6], [0.35, 0.62], [0.28, 0.55]]))
    out = tmp_path / "o"
    assert exit_code("sbi", tmp_path / "sim.py", "--method", "fsm", "--observation", tmp_path / "obs.npy", *FAST,
                     "--out", out) == 0
    assert (out / "posterior.csv").read_text().splitlines()[0] == "rate,shift"
    report = json.loads((out / "report.json").read_text())
    assert report["observations"] == 3 and "c2st" not in report and "coverage_error" not in report
    assert report["method"] == "fsm"


def test_iid_observations_go_to_npse_for_a_box_prior_and_to_fsm_for_others(tmp_path):
    """The default method for several observations: npse where the diffused prior's score is known (a box),
    fsm for a Gamma prior (asking for npse there is refused: test_bad_requests_are_one_line_errors)."""
    sim = "def simulator(theta, generator):\n    return theta + 0.1 * torch.randn(theta.shape, generator=generator, " \
          "dtype=theta.dtype)\n"
    np.save(tmp_path / "obs.npy", np.array([[0.3, 0.6], [0.35, 0.62], [0.28, 0.55]]))
    (tmp_path / "box.py").write_text(UNIFORM + sim)
    assert exit_code("sbi", tmp_path / "box.py", "--observation", tmp_path / "obs.npy", *FAST, "--out",
                     tmp_path / "a") == 0
    assert json.loads((tmp_path / "a" / "report.json").read_text())["method"] == "npse"
    (tmp_path / "gamma.py").write_text(UNIFORM.replace("Uniform(torch.zeros(2, dtype=torch.float64),",
                                                       "Gamma(torch.ones(2, dtype=torch.float64),") + sim)
    assert exit_code("sbi", tmp_path / "gamma.py", "--observation", tmp_path / "obs.npy", *FAST, "--out",
                     tmp_path / "b") == 0
    assert json.loads((tmp_path / "b" / "report.json").read_text())["method"] == "fsm"


def test_fsm_local_reports_the_exact_mle_beside_its_estimate(tmp_path):
    """gaussian_linear with one observation: the exact MLE is the observation itself."""
    out = tmp_path / "m"
    assert exit_code("sbi", "gaussian_linear", "--method", "fsm-local", "--simulations", "4000", "--quiet",
                     "--out", out) == 0
    from scorematch.sbi import get_task

    x = get_task("gaussian_linear").observation(1)[1].numpy()
    rows = np.loadtxt(out / "mle.csv", delimiter=",", skiprows=1, usecols=(1, 2, 3))
    assert np.allclose(rows[:, 2], x, atol=1e-5)
    assert (rows[:, 1] > 0).all() and (np.abs(rows[:, 0] - x) < 5 * rows[:, 1]).all()
    assert (out / "path.png").is_file()


@pytest.mark.parametrize("body, message", [
    ("    raise RuntimeError('solver failed\\nsecond line')\n", "the simulator raised RuntimeError: solver failed"),
    ("    x = theta.clone()\n    x[0, 0] = float('nan')\n    return x\n", "NaN or infinite values in 1 of"),
    ("    return theta[:1]\n", "expected (2, d), one row per θ"),
    ("    return theta.numpy()\n", "must return a torch tensor"),
])
def test_a_bad_simulator_is_one_line_and_writes_nothing(tmp_path, capsys, body, message):
    (tmp_path / "sim.py").write_text(UNIFORM + "def simulator(theta, generator):\n" + body)
    np.save(tmp_path / "obs.npy", np.array([0.3, 0.6]))
    fails(capsys, "sbi", tmp_path / "sim.py", "--observation", tmp_path / "obs.npy", *FAST, "--out",
          tmp_path / "o", message=message)
    assert not (tmp_path / "o").exists()


def test_bad_requests_are_one_line_errors(tmp_path, capsys):
    np.save(tmp_path / "two.npy", np.zeros((2, 2)))
    (tmp_path / "gamma.py").write_text(UNIFORM.replace("Uniform(torch.zeros(2, dtype=torch.float64),",
                                                       "Gamma(torch.ones(2, dtype=torch.float64),")
                                       + "def simulator(theta, generator):\n    return theta\n")
    fails(capsys, "sbi", tmp_path / "gamma.py", "--method", "npse", "--observation", tmp_path / "two.npy", *FAST,
          "--out", tmp_path / "o", message="npse composes several observations for box-uniform and Gaussian priors")
    fails(capsys, "sbi", "nosuch", "--out", tmp_path / "o", message="unknown task 'nosuch'")
    fails(capsys, "sbi", "two_moons", "--observation", tmp_path / "two.npy", "--observation-number", "2",
          "--out", tmp_path / "o", message="not both")
    np.savez(tmp_path / "sims.npz", theta=np.zeros((30, 2)), x=np.zeros((30, 2)))
    fails(capsys, "sbi", "two_moons", "--method", "fsm", "--simulations-from", tmp_path / "sims.npz", *FAST,
          "--out", tmp_path / "o", message="has no eps, sigma")
    np.save(tmp_path / "three.npy", np.zeros(3))
    fails(capsys, "sbi", "two_moons", "--observation", tmp_path / "three.npy", *FAST, "--out", tmp_path / "o",
          message="the observation has 3 numbers per row, the simulator 2")
    assert not (tmp_path / "o").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    fails(capsys, "sbi", "two_moons", *FAST, "--out", tmp_path / "full", message="not an empty folder")
