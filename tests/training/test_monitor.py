"""Early stopping on the held-out criterion: the best weights come back on a target built to overfit, resume
continues the bookkeeping bit for bit, overfitting is reported once, and second-order objectives refuse ReLU energies."""

import functools
import json
import warnings

import pytest
import torch
from torch import nn

from scorematch import Energy, Score, losses
from scorematch.metrics import relative_fisher_divergence
from scorematch.models import EnergyMLP
from scorematch.training.fit import fit
from scorematch.training.monitor import Monitor, OverfittingWarning


def _overfitting_setup():
    """Explicit SM on 128 points of N(0, I₄) with a 64-wide energy: the held-out loss is lowest near step 100 and
    the exact relative Fisher divergence then grows a hundredfold (measured: 0.044 at step 100, 13 at step 1500)."""
    g = torch.Generator().manual_seed(0)
    x, val, test = torch.randn(128, 4, generator=g), torch.randn(1000, 4, generator=g), torch.randn(5000, 4, generator=g)
    torch.manual_seed(0)
    model = Energy(EnergyMLP(4, hidden=64))

    def truth(m):
        with torch.no_grad():
            return {"rel_fisher": float(relative_fisher_divergence(m.score(test), -test, test))}

    return model, x, val, truth


def test_early_stopping_recovers_the_best_weights_on_a_target_built_to_overfit():
    model, x, val, truth = _overfitting_setup()
    with pytest.warns(OverfittingWarning, match=r"rose from .* \(step \d+\) to .* at step \d+ while the training loss fell"):
        result = fit(model, x, losses.explicit, steps=1500, batch_size=64, lr=1e-3, val_data=val, eval_every=25,
                     patience=400, eval_fn=truth, generator=torch.Generator().manual_seed(1), progress=False)
    seen = [r["rel_fisher"] for r in result.history if "rel_fisher" in r]
    final = truth(model)["rel_fisher"]
    assert result.stop_reason == "patience" and result.steps == result.best_step + 400 < 1500
    assert final <= 1.5 * min(seen) and final < 0.1, (final, min(seen))
    assert seen[-1] > 3 * final  # the weights at the stop were much worse than the ones kept
    at_best = next(r for r in result.history if r["step"] == result.best_step)
    assert at_best["val_hyvarinen"] == result.best_value == min(r["val_hyvarinen"] for r in result.history
                                                                   if "val_hyvarinen" in r)


def test_resume_continues_the_monitor_exactly(tmp_path):
    def run(out, steps, objective=losses.explicit, resume=False):
        model, x, val, _ = _overfitting_setup()
        return model, fit(model, x, objective, steps=steps, batch_size=64, lr=1e-3, val_data=val, eval_every=20,
                          patience=10_000, generator=torch.Generator().manual_seed(1), progress=False, out_dir=out,
                          checkpoint_every=40, resume=resume)

    whole, a = run(tmp_path / "a", 200)

    class Interrupt(Exception):
        pass

    def interrupted(model, x, generator):
        interrupted.calls += 1
        if interrupted.calls == 130:
            raise Interrupt
        return losses.explicit(model, x, generator=generator)

    interrupted.calls = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverfittingWarning)
        with pytest.raises(Interrupt):
            run(tmp_path / "b", 200, objective=interrupted)
        resumed, b = run(tmp_path / "b", 200, resume=True)
    assert (a.best_step, a.best_value, a.overfit_step) == (b.best_step, b.best_value, b.overfit_step)
    for (k, p), (_, q) in zip(whole.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(p, q), k
    lines = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r.get("val_hyvarinen") for r in lines] == [r.get("val_hyvarinen") for r in a.history]


def test_monitor_state_round_trips_and_patience_stops():
    m = Monitor(lambda model: {}, patience=30, tolerance=0.1)
    weights = {"w": torch.zeros(2)}
    history = [{"step": s, "loss": 1.0 / s} for s in range(10, 80, 10)]
    assert not m.update(10, {"val_hyvarinen": 1.0}, history, weights)
    assert not m.update(20, {"val_hyvarinen": 0.5}, history, weights)
    assert not m.update(30, {"val_hyvarinen": float("nan")}, history, weights)
    assert not m.update(40, {"val_hyvarinen": 0.55}, history, weights)
    copy = Monitor(lambda model: {}, patience=30)
    copy.load_state(json.loads(json.dumps(m.state())), m.best_weights)
    assert copy.state() == m.state()
    with pytest.warns(OverfittingWarning):
        assert m.update(50, {"val_hyvarinen": 0.7}, history, weights) and m.stop_reason == "patience"
    assert m.best_step == 20 and m.overfit_step == 50  # 0.7 > 0.5 + 0.1 while the training loss fell


@pytest.mark.parametrize("objective", [losses.explicit, functools.partial(losses.sliced, variance_reduction=True),
                                       losses.finite_difference_sliced])
@pytest.mark.parametrize("activation", [nn.ReLU, nn.LeakyReLU, nn.Hardtanh, nn.ReLU6])
def test_second_order_objectives_refuse_piecewise_linear_energies(objective, activation):
    net = nn.Sequential(nn.Linear(2, 8), activation(), nn.Linear(8, 1))
    with pytest.raises(ValueError, match=rf"piecewise-linear activations \(1 \({activation.__name__}\)\)"):
        fit(Energy(net), torch.randn(64, 2), objective, steps=2, progress=False)


def test_first_order_objectives_and_score_nets_may_use_relu():
    relu = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    fit(Energy(relu), torch.randn(64, 2), functools.partial(losses.denoising, sigma=0.1), steps=2, progress=False)
    score = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    fit(Score(score), torch.randn(64, 2), losses.explicit, steps=2, progress=False)


def test_fit_holds_out_a_fixed_tenth_of_tensor_data_by_default():
    x = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
    dsm = functools.partial(losses.denoising, sigma=0.3)
    kept = fit(Energy(EnergyMLP(2, hidden=8)), x, dsm, steps=200, progress=False, eval_every=50)
    assert kept.best_step in (50, 100, 150, 200) and "val_hyvarinen" in kept.history[-1]
    off = fit(Energy(EnergyMLP(2, hidden=8)), x, dsm, steps=200, progress=False, eval_every=50, val_fraction=None)
    assert off.best_step is None and "val_hyvarinen" not in off.history[-1]
    with pytest.raises(ValueError, match="val_fraction must lie in"):
        fit(Energy(EnergyMLP(2, hidden=8)), x, dsm, steps=2, progress=False, val_fraction=1.5)


def test_resuming_a_run_stopped_by_patience_changes_nothing(tmp_path):
    def run(resume):
        model, x, val, _ = _overfitting_setup()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OverfittingWarning)
            return model, fit(model, x, losses.explicit, steps=1500, batch_size=64, lr=1e-3, val_data=val,
                              eval_every=25, patience=400, generator=torch.Generator().manual_seed(1), progress=False,
                              out_dir=tmp_path, resume=resume)

    first, a = run(False)
    again, b = run(True)
    assert a.stop_reason == b.stop_reason == "patience" and a.steps == b.steps < 1500 and a.best_step == b.best_step
    assert all(torch.equal(p, q) for p, q in zip(first.state_dict().values(), again.state_dict().values(), strict=True))


def test_noise_conditional_models_train_with_the_default_hold_out_and_refuse_bare_val_data():
    from scorematch.models import NoiseConditionalEnergyMLP

    ncsn = functools.partial(losses.multiscale_denoising, sigmas=[1.0, 0.1])
    model = Energy(NoiseConditionalEnergyMLP(2, hidden=8))
    assert fit(model, torch.randn(300, 2), ncsn, steps=20, progress=False).best_step is None
    with pytest.raises(ValueError, match="noise-conditional model is judged at one σ"):
        fit(model, torch.randn(300, 2), ncsn, steps=20, progress=False, val_data=torch.randn(30, 2))
