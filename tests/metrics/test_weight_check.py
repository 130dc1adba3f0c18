"""The samples' weights per true component (``weight_check``) and compare's two verdicts, kept apart."""

import torch

from scorematch.metrics.modes import weight_check
from scorematch.models.analytic import GaussianMixture, rings
from scorematch.report.measures import true_weights, verdict


def test_draws_from_the_truth_pass_and_a_lost_ring_fails():
    t = rings(dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    x = t.sample(4000, g)
    ok = weight_check(x, t.component, t.weights)
    assert ok.agree and ok.tv < 0.03
    # the limit is 2.5 times the expected TV of n draws: Σ_k sqrt(2/π · 0.25 · 0.75 / 4000) / 2 · 2.5
    assert abs(ok.limit - 2.5 * 0.5 * 4 * (2 / torch.pi * 0.1875 / 4000) ** 0.5) < 1e-12
    lost = x[t.component(x) != 0]  # the inner ring gone: its quarter spread over the others
    bad = weight_check(lost, t.component, t.weights)
    assert not bad.agree and abs(bad.tv - 0.25) < 0.03 and float(bad.samples[0]) == 0.0


def test_non_finite_samples_count_as_misplaced():
    t = rings(dtype=torch.float64)
    x = t.sample(1000, torch.Generator().manual_seed(2))
    x[:100] = float("nan")
    check = weight_check(x, t.component, t.weights)
    assert check.tv >= 0.05 - 1e-9


def test_unequal_weights_in_sixteen_dimensions():
    means = torch.zeros(2, 16, dtype=torch.float64)
    means[1, 0] = 10.0
    t = GaussianMixture(torch.tensor([0.2, 0.8]), means, torch.eye(16).expand(2, 16, 16))
    x = t.sample(2000, torch.Generator().manual_seed(3))
    assert true_weights(x, t)["weights_right"]
    one_mode = x[t.component(x) == 1]
    row = true_weights(one_mode, t)
    assert not row["weights_right"] and abs(row["weights_tv"] - 0.2) < 1e-9


def test_verdicts_keep_the_sampler_apart_from_the_fit():
    row = {"sampler_trusted": True, "sampler_warnings": [], "rel_fisher": 0.02, "c2st": 0.55, "weights_right": False,
           "weights_tv": 0.25, "weights_tv_limit": 0.04}
    v = verdict(row, 0.1)
    assert v["sampler"] == "converged" and v["fit"].startswith("poor") and "weights TV 0.25" in v["fit"]
    v = verdict({**row, "weights_right": True}, 0.1)
    assert v["fit"] == "good"
    v = verdict({"sampler_trusted": False, "sampler_warnings": [], "c2st": 0.9}, None)
    assert v["sampler"] == "unchecked" and v["fit"] == "poor: C2ST 0.90 > 0.6"
    assert verdict({"diverged": "non-finite"}, 0.1)["fit"] == "diverged"
