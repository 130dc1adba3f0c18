"""The held-out criterion: the Hyvärinen loss against its closed form, exact or with probes fixed for the run."""

import functools
import math

import torch

from scorematch import Energy, Score, losses
from scorematch.metrics import HeldOutCriterion, hyvarinen_loss
from scorematch.models import EnergyMLP, ScoreMLP

from tolerances import assert_close


def _gaussian(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    chol = torch.tril(torch.randn(d, d, generator=g)) * 0.3 + torch.eye(d)
    return torch.randn(n, d, generator=g) @ chol.T, chol @ chol.T


def test_criterion_is_the_closed_form_of_the_hyvarinen_loss():
    """For x ~ N(0, Σ) and s(x) = −Ax: J = ½ tr(AᵀAΣ) − tr A; the estimate lies within 4 standard errors."""
    x, cov = _gaussian(50_000, 3)
    a = torch.tensor([[1.0, 0.2, 0.0], [0.2, 0.8, 0.1], [0.0, 0.1, 1.5]])
    values = hyvarinen_loss(Score(lambda z: -z @ a.T), x)
    exact = 0.5 * torch.trace(a.T @ a @ cov) - torch.trace(a)
    se = values.std() / math.sqrt(x.shape[0])
    assert abs(values.mean() - exact) < 4 * se, (values.mean(), exact, se)
    crit = HeldOutCriterion(x, max_points=x.shape[0])
    assert_close(torch.tensor(crit(Score(lambda z: -z @ a.T))["val_hyvarinen"]), values.mean())


def test_the_true_score_has_the_lowest_criterion():
    """J(s) − J(s*) = ½E‖s − s*‖² ≥ 0: the true score beats a perturbed one."""
    x, cov = _gaussian(50_000, 2)
    prec = torch.linalg.inv(cov)
    crit = HeldOutCriterion(x, max_points=x.shape[0])
    best = crit(Score(lambda z: -z @ prec))["val_hyvarinen"]
    for scale in (0.8, 1.2):
        assert crit(Score(lambda z, s=scale: -s * z @ prec))["val_hyvarinen"] > best


def test_probes_are_fixed_for_the_run_and_unbiased():
    """Above max_exact_dim the trace is Hutchinson's with probes drawn once: the same value at every call, and
    within a few standard errors of the exact value."""
    torch.manual_seed(0)
    model = Score(ScoreMLP(6, hidden=16))
    x = torch.randn(3000, 6, generator=torch.Generator().manual_seed(1))
    estimated = HeldOutCriterion(x, max_exact_dim=4, n_probes=1)
    exact = HeldOutCriterion(x, max_exact_dim=64)
    first, second = estimated(model)["val_hyvarinen"], estimated(model)["val_hyvarinen"]
    exact_value = exact(model)["val_hyvarinen"]
    assert first == second and estimated.exact is False and exact.exact is True
    per_point = hyvarinen_loss(model, x).detach()
    hutch = hyvarinen_loss(model, x, probes=estimated._probes).detach()
    se = (hutch - per_point).std() / math.sqrt(x.shape[0])
    assert abs(first - exact_value) < 5 * se


def test_energy_mlps_get_the_exact_trace_in_any_dimension():
    crit = HeldOutCriterion(torch.randn(100, 64), max_exact_dim=4)
    crit(Energy(EnergyMLP(64, hidden=16)))
    assert crit.exact is True


def test_the_objectives_own_held_out_loss_uses_fixed_noise():
    torch.manual_seed(0)
    model = Energy(EnergyMLP(2, hidden=16))
    crit = HeldOutCriterion(torch.randn(500, 2), objective=functools.partial(losses.denoising, sigma=0.3))
    a, b = crit(model), crit(model)
    assert a == b and set(a) == {"val_hyvarinen", "val_loss"}


def test_a_subset_of_at_most_max_points_is_used():
    crit = HeldOutCriterion(torch.randn(1000, 2), max_points=100)
    assert crit.x.shape == (100, 2)
