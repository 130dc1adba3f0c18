"""``scorematch ica``: mixed logistic sources are unmixed (Amari distance to the true mixing), the files it writes,
and one-line errors that write nothing."""

import json

import numpy as np
import torch

from commands import exit_code
from commands import fails as _fails
from scorematch.classical.ica import SAMPLERS, amari_distance

A = np.array([[1.0, 0.5, 0.2], [0.3, 1.0, -0.4], [0.2, -0.6, 1.0]])


def _mixed_csv(tmp_path, n=3000):
    s = SAMPLERS["logistic"](n, 3, torch.Generator().manual_seed(0)).numpy()
    s[:, 0] *= 3  # the first source carries most of the variance
    path = tmp_path / "mix.csv"
    np.savetxt(path, s @ A.T + np.array([5.0, -2.0, 0.5]), delimiter=",", header="a,b,c", comments="")
    return path


def test_ica_unmixes_logistic_sources_and_writes_its_files(tmp_path, capsys):
    data = _mixed_csv(tmp_path)
    assert exit_code("ica", data, "--out", tmp_path / "o") == 0
    assert "3 sources (logistic) from 3000 rows" in capsys.readouterr().out
    out = tmp_path / "o"
    assert {p.name for p in out.iterdir()} == {"unmixing.csv", "mixing.csv", "sources.csv", "ica.json", "sources.png"}
    W = np.loadtxt(out / "unmixing.csv", delimiter=",", skiprows=1, usecols=(1, 2, 3))
    mixing = np.loadtxt(out / "mixing.csv", delimiter=",", skiprows=1, usecols=(1, 2, 3))
    assert amari_distance(torch.tensor(W), torch.tensor(A)) < 0.1
    assert np.allclose(W @ mixing, np.eye(3), atol=1e-6)  # A = W⁻¹ in the data's units (8 digits written)
    assert np.allclose(mixing[:, 0], 3 * A[:, 0], rtol=0.1)  # the largest source first, its sign and scale fixed
    sources = np.loadtxt(out / "sources.csv", delimiter=",", skiprows=1)
    x = np.loadtxt(data, delimiter=",", skiprows=1)
    assert np.allclose(sources, (x - x.mean(0)) @ W.T, atol=1e-6)
    assert np.allclose(sources.std(0), np.pi / np.sqrt(3), rtol=0.08)  # the logistic's sd: the model sets the scale
    summary = json.loads((out / "ica.json").read_text())
    assert summary["columns"] == ["a", "b", "c"] and summary["source"] == "logistic"
    assert summary["variance_share"] == sorted(summary["variance_share"], reverse=True)


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savetxt(tmp_path / "one.csv", rng.normal(size=(100, 1)), delimiter=",")
    _fails(capsys, "ica", tmp_path / "one.csv", "--out", tmp_path / "a", message="at least 2 columns")
    np.savetxt(tmp_path / "few.csv", rng.normal(size=(12, 3)), delimiter=",")
    _fails(capsys, "ica", tmp_path / "few.csv", "--out", tmp_path / "b", message="more rows than 5 × columns")
    x = rng.logistic(size=(200, 3))
    x[:, 2] = x[:, 0] + x[:, 1]
    np.savetxt(tmp_path / "dep.csv", x, delimiter=",")
    _fails(capsys, "ica", tmp_path / "dep.csv", "--out", tmp_path / "c", message="linearly dependent")
    x[:, 2] = 1.0
    np.savetxt(tmp_path / "const.csv", x, delimiter=",")
    _fails(capsys, "ica", tmp_path / "const.csv", "--out", tmp_path / "d", message="column 3 is constant")
    assert not any((tmp_path / f).exists() for f in "abcd")
