"""Dual averaging: the frozen step size gives the target acceptance on Gaussians (MALA and HMC), and the
recursion is the stated one."""

import math

import pytest
import torch

from scorematch import Energy
from scorematch.samplers import adapt_step_size, diagnose, hmc, mala
from scorematch.samplers.adapt import dual_averaging_init, dual_averaging_update


def _gaussian(scales):
    prec = 1 / torch.tensor(scales) ** 2
    return Energy(lambda x: 0.5 * (x.square() * prec).sum(-1)), torch.tensor(scales)


@pytest.mark.parametrize(("kernel", "target"), [(lambda m, e: mala(m, e), 0.57), (lambda m, e: hmc(m, e, 10), 0.75)],
                         ids=["mala", "hmc"])
def test_the_frozen_step_size_reaches_the_target_acceptance(kernel, target):
    """Badly scaled 8-D Gaussian, chains started at exact draws, a poor initial guess 1e-4; after 400 warm-up steps
    the mean acceptance at the frozen ε over 300 steps is within 0.06 of the target (measured: MALA 0.575 for
    0.57, HMC 0.721 for 0.75)."""
    model, scales = _gaussian([1.0, 0.5, 0.3, 0.2, 1.0, 0.7, 0.4, 0.1])
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(512, 8, generator=g) * scales
    result = adapt_step_size(lambda eps: kernel(model, eps), x0, 400, step_size=1e-4, target_accept=target, generator=g)
    after = diagnose(kernel(model, result.step_size), result.state.x, 300, generator=g)
    assert abs(float(after.mean_accept_prob.mean()) - target) < 0.06, (result.step_size, after.mean_accept_prob.mean())
    assert result.accept_prob.shape == (400,)


def test_the_recursion_matches_its_formula():
    s = dual_averaging_init(0.2)
    alphas = [0.9, 0.1, 0.5]
    h, log_bar = 0.0, math.log(0.2)
    mu = math.log(2.0)
    for t, a in enumerate(alphas, start=1):
        s = dual_averaging_update(s, a, 0.6)
        h = (1 - 1 / (t + 10)) * h + (0.6 - a) / (t + 10)
        log_eps = mu - math.sqrt(t) / 0.05 * h
        log_bar = t ** -0.75 * log_eps + (1 - t ** -0.75) * log_bar
        assert s.log_step == pytest.approx(log_eps, rel=1e-12) and s.log_step_avg == pytest.approx(log_bar, rel=1e-12)


@pytest.mark.parametrize(("kwargs", "message"), [(dict(target_accept=1.0), "target_accept"),
                                                 (dict(step_size=0.0), "step_size")])
def test_bad_options(kwargs, message):
    model, _ = _gaussian([1.0])
    with pytest.raises(ValueError, match=message):
        adapt_step_size(lambda eps: mala(model, eps), torch.zeros(4, 1), 5, **kwargs)


@pytest.mark.parametrize("scale", [0.01, 100.0])
def test_adaptation_follows_the_scale_of_the_target(scale):
    """Isotropic 4-D Gaussians of standard deviation 0.01 and 100 from the same first guess (0.01): the frozen ε
    gives MALA's target acceptance within 0.06, and ε scales with the variance."""
    model, _ = _gaussian([scale] * 4)
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(256, 4, generator=g) * scale
    result = adapt_step_size(lambda eps: mala(model, eps), x0, 400, step_size=0.01, generator=g)
    after = diagnose(mala(model, result.step_size), result.state.x, 200, generator=g)
    assert abs(float(after.mean_accept_prob.mean()) - 0.57) < 0.06
    assert 0.2 < result.step_size / scale**2 < 5


def test_a_chain_stuck_far_in_the_tail_restarts_during_warm_up():
    """At x = 50 on p ∝ exp(−x⁴/4) the gradient is 125,000: MALA with a step fit for the bulk overshoots by
    thousands and never moves. The warm-up puts the chain where a moving chain is; with ``window=None`` it stays."""
    from scorematch.samplers import mala

    model = Energy(lambda x: 0.25 * (x**4).sum(-1))
    x0 = torch.randn(64, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x0[0] = 50.0
    stay = adapt_step_size(lambda e: mala(model, e), x0, 200, step_size=0.5, window=None,
                           generator=torch.Generator().manual_seed(1))
    assert stay.state.x[0, 0] == 50.0
    moved = adapt_step_size(lambda e: mala(model, e), x0, 200, step_size=0.5,
                            generator=torch.Generator().manual_seed(1))
    assert moved.state.x[0, 0].abs() < 3 and torch.isfinite(moved.state.energy).all()
    assert torch.allclose(moved.state.energy, 0.25 * moved.state.x.pow(4).sum(-1))  # the state was copied whole
    assert moved.restarts >= 1 and stay.restarts == 0
    # never in the last window: with one window of 50 steps nothing restarts, so no chain is handed on as a copy
    once = adapt_step_size(lambda e: mala(model, e), x0, 50, step_size=0.5, generator=torch.Generator().manual_seed(1))
    assert once.restarts == 0 and once.state.x[0, 0] == 50.0


def test_restart_stuck_copies_whole_states_from_moving_chains():
    from scorematch.samplers.adapt import restart_stuck
    from scorematch.samplers.state import State

    x = torch.arange(6.0).reshape(6, 1)
    state = State(x, -x, 0.5 * x[:, 0] ** 2)
    moved = torch.tensor([True, False, True, True, False, True])
    new, k = restart_stuck(state, moved, torch.Generator().manual_seed(0))
    assert k == 2 and torch.equal(new.x[moved], x[moved])
    assert set(new.x[~moved, 0].tolist()) <= {0.0, 2.0, 3.0, 5.0}
    assert torch.equal(new.score, -new.x) and torch.equal(new.energy, 0.5 * new.x[:, 0] ** 2)
    assert restart_stuck(state, torch.zeros(6, dtype=torch.bool))[0] is state  # nobody to copy: unchanged
    other = (x, -x)  # a state of another kind (e.g. parallel tempering's): left alone
    assert restart_stuck(other, moved) == (other, 0)


def test_the_sample_report_says_how_many_chains_restarted():
    from scorematch.samplers import mala
    from scorematch.samplers.named import from_kernel

    model = Energy(lambda x: 0.25 * (x**4).sum(-1))
    x0 = torch.randn(32, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x0[:3] = 50.0
    _, report = from_kernel(lambda m, e: mala(m, e), 0.5, 0.57)(model, x0, 200, None, torch.Generator().manual_seed(2),
                                                            False)
    notes = [n for n in report.get("notes", []) if "chain restarts in warm-up" in n]
    assert notes and int(notes[0].split()[0]) >= 3, report  # the 3 placed at x = 50, and any the first steps threw
