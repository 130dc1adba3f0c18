"""Every sampler: any event shape, energies and scores, same seed ⇒ same samples, no autograd graph kept,
clear errors for bad options."""

import pytest
import torch

from scorematch import Energy, Score
from scorematch.samplers import (
    annealed_langevin,
    diagnose,
    hmc,
    langevin,
    langevin_init,
    langevin_step,
    mala,
    sample,
    trajectory,
)
from scorematch.samplers.tempered import Base
from scorematch.samplers.tempering import default_betas, parallel_tempering

from nets import make_net

EVENTS = [(3,), (2, 4, 4)]


def _kernels(event):
    energy = Energy(make_net("energy", event))
    score = Score(make_net("score", event))
    return {
        "langevin-energy": langevin(energy, 0.01),
        "langevin-score": langevin(score, 0.01),
        "mala": mala(energy, 0.01),
        "hmc": hmc(energy, 0.05, 3),
        "pt": parallel_tempering(energy, Base(event, 0.0, 2.0), 0.01, default_betas(4)),
    }


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("name", ["langevin-energy", "langevin-score", "mala", "hmc", "pt"])
def test_kernel_contract(name, event):
    kernel = _kernels(event)[name]
    x0 = torch.randn(6, *event, generator=torch.Generator().manual_seed(0))
    a = sample(kernel, x0, 5, generator=torch.Generator().manual_seed(1))
    b = sample(kernel, x0, 5, generator=torch.Generator().manual_seed(1))
    c = sample(kernel, x0, 5, generator=torch.Generator().manual_seed(2))
    assert a.shape == x0.shape and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not a.requires_grad and a.grad_fn is None  # the nets' parameters require grad; samples carry no graph


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("kind", ["energy", "score"])
def test_annealed_contract(kind, event):
    model = (Energy if kind == "energy" else Score)(make_net(kind, event, conditional=True))
    x0 = torch.rand(5, *event, generator=torch.Generator().manual_seed(0))
    run = lambda seed: annealed_langevin(model, x0, [1.0, 0.5, 0.1], step_size=1e-3, steps_per_level=3,  # noqa: E731
                                         generator=torch.Generator().manual_seed(seed))
    a, b = run(1), run(1)
    assert a.shape == x0.shape and torch.isfinite(a).all() and torch.equal(a, b) and a.grad_fn is None


def test_trajectory_and_diagnostics():
    kernel = mala(Energy(lambda x: 0.5 * (x**2).sum(-1)), 0.5)
    x0 = torch.zeros(4, 2)
    path = trajectory(kernel, x0, 10, thin=3, generator=torch.Generator().manual_seed(0))
    assert path.shape == (4, 4, 2) and torch.equal(path[0], x0)
    final = sample(kernel, x0, 9, generator=torch.Generator().manual_seed(0))
    assert torch.equal(path[-1], final)
    diag = diagnose(kernel, x0, 9, generator=torch.Generator().manual_seed(0))
    assert torch.equal(diag.x, final)
    assert ((diag.acceptance_rate >= 0) & (diag.acceptance_rate <= 1)).all()
    assert ((diag.mean_accept_prob > 0) & (diag.mean_accept_prob <= 1)).all()


def test_mala_acceptance_falls_with_the_step():
    model = Energy(lambda x: 0.5 * (x**2).sum(-1))
    x0 = torch.randn(2000, 4, generator=torch.Generator().manual_seed(0))
    rates = [diagnose(mala(model, eps), x0, 20, generator=torch.Generator().manual_seed(1)).acceptance_rate.mean()
             for eps in (0.1, 1.0, 3.0)]
    assert rates[0] > rates[1] > rates[2] and rates[0] > 0.9 and rates[2] < 0.3, rates


def test_step_uses_the_documented_convention():
    # x' = x + (ε/2)s(x) + √ε z with the generator's first draw as z
    x = torch.tensor([[1.0, -2.0]])
    model = Score(lambda z: -3.0 * z)
    state, _ = langevin_step(langevin_init(x, model), model, 0.04, generator=torch.Generator().manual_seed(5))
    z = torch.randn(1, 2, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(state.x, x + 0.02 * (-3.0 * x) + 0.2 * z)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: langevin(Score(lambda x: -x), 0.0), ValueError, "step_size"),
        (lambda: mala(Score(lambda x: -x), -1.0), ValueError, "step_size"),
        (lambda: hmc(Energy(lambda x: x.sum(-1)), 0.1, 0), ValueError, "n_leapfrog"),
        (lambda: sample(mala(Score(lambda x: -x), 0.1), torch.zeros(2, 2), 3), TypeError, "needs an energy"),
        (lambda: sample(langevin(object(), 0.1), torch.zeros(2, 2), 3), TypeError, "score"),
        (lambda: sample(langevin(Score(lambda x: -x), 0.1), torch.zeros(2, 2), -1), ValueError, "steps"),
        (lambda: trajectory(langevin(Score(lambda x: -x), 0.1), torch.zeros(2, 2), 3, thin=0), ValueError, "thin"),
    ],
)
def test_bad_options(call, error, message):
    with pytest.raises(error, match=message):
        call()
