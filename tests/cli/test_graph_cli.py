"""``scorematch graph``: a chain's edges from a CSV, the files it writes, the λ it reports, and one-line errors
that write nothing."""

import json

import numpy as np

from commands import exit_code
from commands import fails as _fails


def _chain_csv(tmp_path, p=5, n=600):
    K = np.eye(p) + np.diag(np.full(p - 1, 0.45), 1) + np.diag(np.full(p - 1, 0.45), -1)
    x = np.random.default_rng(0).multivariate_normal(np.zeros(p), np.linalg.inv(K), size=n)
    path = tmp_path / "chain.csv"
    np.savetxt(path, x, delimiter=",", header=",".join(f"v{j}" for j in range(p)), comments="")
    return path


def test_graph_finds_a_chain_and_writes_its_files(tmp_path, capsys):
    data = _chain_csv(tmp_path)
    assert exit_code("graph", data, "--out", tmp_path / "g", "--n-lambdas", "20") == 0
    printed = capsys.readouterr().out
    assert "edges of 10 pairs" in printed and "strongest (partial correlation): " in printed
    assert {p.name for p in (tmp_path / "g").iterdir()} == {"edges.csv", "graph.json", "path.png", "graph.png"}
    lines = (tmp_path / "g" / "edges.csv").read_text().splitlines()
    assert lines[0] == "a,b,partial_correlation,precision"
    edges = {tuple(line.split(",")[:2]) for line in lines[1:]}
    assert {("v0", "v1"), ("v1", "v2"), ("v2", "v3"), ("v3", "v4")} <= edges  # every true edge
    summary = json.loads((tmp_path / "g" / "graph.json").read_text())
    assert summary["criterion"].startswith("5-fold") and summary["lambda"] > 0 and summary["p"] == 5
    # the chain's partial correlations are -K_ab/√(K_aa K_bb) = -0.45: its edges come first, strongest first
    strength = [abs(r) for _, _, r in summary["strongest"]]
    assert strength == sorted(strength, reverse=True)
    assert {tuple(e[:2]) for e in summary["strongest"][:4]} == {("v0", "v1"), ("v1", "v2"), ("v2", "v3"), ("v3", "v4")}
    assert [tuple(line.split(",")[:2]) for line in lines[1:3]] == [tuple(e[:2]) for e in summary["strongest"][:2]]


def test_a_given_lambda_above_the_first_edge_gives_no_edge(tmp_path):
    data = _chain_csv(tmp_path)
    assert exit_code("graph", data, "--out", tmp_path / "g", "--lambda", "100") == 0
    assert (tmp_path / "g" / "edges.csv").read_text().splitlines() == ["a,b,partial_correlation,precision"]


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    data = _chain_csv(tmp_path)
    _fails(capsys, "graph", data, "--out", tmp_path / "t", "--model", "truncated", message="non-negative data")
    np.savetxt(tmp_path / "one.csv", np.arange(10.0).reshape(10, 1), delimiter=",")
    _fails(capsys, "graph", tmp_path / "one.csv", "--out", tmp_path / "o", message="at least 2 columns")
    _fails(capsys, "graph", data, "--out", tmp_path / "n", "--lambda", "-1", message="--lambda must be >= 0")
    assert not any((tmp_path / d).exists() for d in ("t", "o", "n"))
