"""Choosing λ: the refit behind the extended BIC is the unpenalised minimiser on the support, the criterion is its
formula, and it recovers a chain; held-out loss and eBIC through the command line."""

import json

import numpy as np
import pytest

from commands import exit_code
from scorematch.classical.ggm import choose_lambda, ebic, gaussian_rows, score_matching_lasso
from scorematch.classical.ggm.select import refit


def _chain(p=8, n=800, seed=0):
    """Centred chain data, each column scaled to standard deviation 1 (as eBIC needs; the graph is unchanged)."""
    K = np.eye(p) + np.diag(np.full(p - 1, 0.4), 1) + np.diag(np.full(p - 1, 0.4), -1)
    x = np.random.default_rng(seed).multivariate_normal(np.zeros(p), np.linalg.inv(K), size=n)
    return (x - x.mean(0)) / x.std(0), K


def test_the_refit_is_the_unpenalised_minimiser_on_the_support():
    x, _ = _chain()
    q = gaussian_rows(x, centre=False)
    S = x.T @ x / len(x)
    full = refit(q, np.ones((8, 8)))
    assert np.allclose(full, np.linalg.inv(S), rtol=1e-10, atol=1e-12)  # every edge: S^-1
    assert np.allclose(refit(q, np.eye(8)), np.diag(1 / np.diag(S)), rtol=1e-12)  # no edge: 1/S_aa
    path = score_matching_lasso(x, n_lambdas=10)
    K = path.precisions[5]
    fit = refit(q, K)
    assert ((fit != 0) == (K != 0)).all()
    assert np.abs(fit - K).max() > 1e-3  # the refit undoes the shrinkage
    grad = S @ fit + fit @ S  # the gradient vanishes on the support (λ = 0 there)
    on = (fit != 0) & ~np.eye(8, dtype=bool)
    assert np.abs(grad[on]).max() < 1e-10 and np.abs(np.diag(S @ fit) - 1).max() < 1e-10


def test_ebic_is_its_formula_and_infinite_where_the_refit_is_not_unique():
    x, _ = _chain()
    q = gaussian_rows(x, centre=False)
    path = score_matching_lasso(x, n_lambdas=6)
    n, p = x.shape
    got = ebic(q, path, n, gamma=1.0)
    S = x.T @ x / n
    for value, K in zip(got, path.precisions, strict=True):
        fit = refit(q, K)
        loss = 0.5 * np.trace(fit @ S @ fit) - np.trace(fit)
        edges = np.count_nonzero(np.triu(K, 1))
        assert np.isclose(value, 2 * n * loss + edges * (np.log(n) + 4 * np.log(p)), rtol=1e-12)
    few = x[:5]  # 5 rows, 8 columns: S is singular and a full graph's refit has no unique minimiser
    qf = gaussian_rows(few, centre=False)
    dense = score_matching_lasso(few, lambdas=np.array([0.0]), centre=False, max_steps=200)
    assert np.isinf(ebic(qf, dense, 5)[0])
    for bad in (-1, np.inf, np.nan):
        with pytest.raises(ValueError, match="gamma"):
            ebic(q, path, n, gamma=bad)


def test_ebic_recovers_a_chain_and_is_sparser_than_held_out_loss():
    for seed in (0, 1):
        x, K = _chain(seed=seed)
        a, b = np.triu_indices(8, 1)
        found = {}
        for criterion in ("cv", "ebic"):
            lam, scores = choose_lambda(x, criterion=criterion, n_lambdas=25)
            est = score_matching_lasso(x, lambdas=np.array([lam])).precisions[0]
            found[criterion] = np.abs(est[a, b]) > 0
            assert scores.shape == (25,) and np.isfinite(scores).all()
        truth = K[a, b] != 0
        # every one of the 7 edges, at most 1 of the 21 non-edges (seed 0 keeps one at |K_ab| = 0.013)
        assert found["ebic"][truth].all() and (found["ebic"] & ~truth).sum() <= 1, seed
        assert found["cv"][truth].all() and found["cv"].sum() >= found["ebic"].sum(), seed
    with pytest.raises(ValueError, match="criterion"):
        choose_lambda(x, criterion="aic")


def test_ebic_refuses_columns_not_scaled_to_one():
    """The loss scales as 1/c² when x does as c and the edge count does not: on raw units eBIC's choice would
    follow the units (c = 0.1, 1, 10 chose 25, 8 and 0 edges before this check)."""
    x, _ = _chain()
    with pytest.raises(ValueError, match="standard deviation 1"):
        choose_lambda(10 * x, criterion="ebic")
    choose_lambda(10 * x, criterion="cv", n_lambdas=5)  # held-out loss compares λ in one unit: no such need


def test_graph_command_chooses_by_ebic(tmp_path, capsys):
    x, _ = _chain(p=5, n=600)
    data = tmp_path / "chain.csv"
    np.savetxt(data, x, delimiter=",")
    assert exit_code("graph", data, "--out", tmp_path / "g", "--criterion", "ebic", "--gamma", "1") == 0
    assert "extended BIC, γ = 1" in capsys.readouterr().out
    summary = json.loads((tmp_path / "g" / "graph.json").read_text())
    assert summary["criterion"] == "extended BIC, γ = 1" and summary["edges"] in (4, 5)  # the chain's 4, ± 1
    assert exit_code("graph", data, "--out", tmp_path / "h", "--criterion", "ebic", "--gamma", "-0.5") == 2
    assert exit_code("graph", data, "--out", tmp_path / "h", "--gamma", "1") == 2  # γ without eBIC would be ignored
    assert "--criterion ebic" in capsys.readouterr().err
    assert not (tmp_path / "h").exists()
