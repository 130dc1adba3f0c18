"""fit: it learns, it resumes bit for bit after an interruption, and it stops cleanly on a non-finite loss."""

import functools
import json
import math

import pytest
import torch

from scorematch import Energy, Score, losses
from scorematch._infra.checkpoint import latest_step, load_checkpoint
from scorematch.models import EnergyMLP, ScoreMLP
from scorematch.training.fit import TrainingDiverged, default_optimizer, fit, training_step

DSM = functools.partial(losses.denoising, sigma=0.2)


def _data(n=512):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(0)) * torch.tensor([1.0, 0.5]) + 1.0


def _model(seed=0):
    torch.manual_seed(seed)
    return Energy(EnergyMLP(2, hidden=16, depth=2))


def _fit(model, out, steps, **kw):
    options = dict(steps=steps, batch_size=64, generator=torch.Generator().manual_seed(1), out_dir=out,
                   checkpoint_every=10, clip_grad_norm=5.0, ema_decay=0.9, log_every=5, progress=False)
    return fit(model, _data(), DSM, **(options | kw))


def _interrupted_at(call, error):
    """DSM that raises ``error`` at its ``call``-th evaluation, as a kill in the middle of that step would."""
    calls = 0

    def objective(model, x, generator):
        nonlocal calls
        calls += 1
        if calls == call:
            raise error
        return DSM(model, x, generator=generator)

    return objective


def test_fit_learns_a_gaussian_score():
    x = _data(4000)
    model = Score(ScoreMLP(2, hidden=32))
    fit(model, x, functools.partial(losses.denoising, sigma=0.1), steps=400, lr=3e-3,
        generator=torch.Generator().manual_seed(0), progress=False)
    cov = torch.diag(torch.tensor([1.0, 0.25]) + 0.01)
    with torch.no_grad():
        truth = -(x - 1.0) @ torch.linalg.inv(cov)
        rel = (model.score(x) - truth).square().sum() / truth.square().sum()
    assert rel < 0.1, rel


def test_resume_after_an_interruption_equals_an_uninterrupted_run(tmp_path):
    whole = _model()
    _fit(whole, tmp_path / "a", 40)

    class Interrupt(Exception):
        pass

    with pytest.raises(Interrupt):  # killed in the middle of step 27; last checkpoint is step 20
        fit(_model(), _data(), _interrupted_at(27, Interrupt), steps=40, batch_size=64,
            generator=torch.Generator().manual_seed(1), out_dir=tmp_path / "b", checkpoint_every=10, clip_grad_norm=5.0,
            ema_decay=0.9, log_every=5,
            progress=False)
    assert latest_step(tmp_path / "b" / "checkpoint") == 20
    resumed = _model(seed=123)  # fresh weights: everything must come from the checkpoint
    _fit(resumed, tmp_path / "b", 40, generator=torch.Generator().manual_seed(999), resume=True)
    for (k, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    lines_a = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    lines_b = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["loss"]) for r in lines_a] == [(r["step"], r["loss"]) for r in lines_b]
    assert [r["step"] for r in lines_b] == list(range(5, 41, 5))


def test_non_finite_loss_stops_with_a_clear_message_and_keeps_the_last_checkpoint(tmp_path):
    def exploding(model, x, generator):
        exploding.calls += 1
        value = DSM(model, x, generator=generator)
        return value * float("nan") if exploding.calls >= 15 else value

    exploding.calls = 0
    model = _model()
    with pytest.raises(TrainingDiverged, match=r"became nan at step 15.*last good checkpoint \(step 10\) is intact"):
        fit(model, _data(), exploding, steps=40, batch_size=64, generator=torch.Generator().manual_seed(1),
            out_dir=tmp_path, checkpoint_every=10, progress=False)
    ck = load_checkpoint(tmp_path / "checkpoint")
    assert ck.step == 10 and all(torch.isfinite(v).all() for v in ck.model.values())
    with pytest.raises(TrainingDiverged) as info:
        exploding.calls = 0
        fit(_model(), _data(), exploding, steps=40, batch_size=64, progress=False, val_fraction=None)
    assert info.value.step == 15 and info.value.seconds > 0  # when, for compare's report


def test_a_finite_loss_with_non_finite_gradients_never_reaches_the_weights(tmp_path):
    def kinked(model, x, generator):  # finite value, NaN gradient once the step counter reaches 12
        kinked.calls += 1
        e = model.energy(x)
        return (e - e.detach()).abs().sqrt() if kinked.calls >= 12 else DSM(model, x, generator=generator)

    kinked.calls = 0
    with pytest.raises(TrainingDiverged, match=r"gradient norm became nan at step 12.*checkpoint \(step 10\)"):
        fit(_model(), _data(), kinked, steps=40, batch_size=64, generator=torch.Generator().manual_seed(1),
            out_dir=tmp_path, checkpoint_every=5, ema_decay=0.9, progress=False)
    ck = load_checkpoint(tmp_path / "checkpoint")
    assert all(torch.isfinite(v).all() for v in [*ck.model.values(), *ck.ema.values()])


def test_ema_warm_up_tracks_a_short_run():
    model = _model()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    raw = _model()
    fit(raw, _data(), DSM, steps=20, generator=torch.Generator().manual_seed(1), progress=False, ema_decay=None)
    fit(model, _data(), DSM, steps=20, generator=torch.Generator().manual_seed(1), progress=False, ema_decay=0.999)
    # with decay min(0.999, t/(t+10)) the average sits near the trained weights, not the initial ones
    moved = sum((model.state_dict()[k] - init[k]).norm() for k in init)
    trained = sum((raw.state_dict()[k] - init[k]).norm() for k in init)
    assert moved > 0.5 * trained


def test_a_dataloader_and_an_eval_function():
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(_data()), batch_size=32, shuffle=False)
    calls = []

    def evaluate(model):
        calls.append(1)
        return {"mean_energy": model.energy(_data()[:10]).mean()}

    result = fit(_model(), loader, DSM, steps=12, log_every=3, eval_fn=evaluate, eval_every=6, progress=False,
                 generator=torch.Generator().manual_seed(0))
    assert [r["step"] for r in result.history] == [3, 6, 9, 12]
    assert "mean_energy" in result.history[1] and "mean_energy" not in result.history[0]
    assert len(calls) == 2


def test_leftover_temporary_folder_does_not_break_loading(tmp_path):
    _fit(_model(), tmp_path, 10)
    (tmp_path / "checkpoint" / ".step-00000020.half.tmp").mkdir()  # a kill while writing the next checkpoint
    assert load_checkpoint(tmp_path / "checkpoint").step == 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [(dict(steps=0), "steps"), (dict(batch_size=0), "batch_size"), (dict(ema_decay=1.0), "ema_decay"),
     (dict(clip_grad_norm=-1.0), "clip_grad_norm"), (dict(resume=True), "resume=True needs out_dir"),
     (dict(lr=0.0), "lr")],
)
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit(_model(), _data(), DSM, progress=False, **kwargs)


def test_the_default_optimizer_is_fused_adam_and_steps_like_plain_adam():
    a, b = _model(3).double(), _model(3).double()
    fused, plain = default_optimizer(a.parameters(), 1e-2), torch.optim.Adam(b.parameters(), lr=1e-2)
    assert fused.defaults["fused"] and not plain.defaults["fused"]
    x = _data(64).double()
    for opt, model in ((fused, a), (plain, b)):
        step = training_step(model, DSM, opt, clip_grad_norm=1.0)
        for i in range(5):
            loss, norm = step(x, torch.Generator().manual_seed(i))
            assert torch.isfinite(loss) and torch.isfinite(norm)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12)


def test_training_step_leaves_the_weights_alone_on_a_non_finite_loss():
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    step = training_step(model, lambda m, x, generator: m.energy(x) * math.inf, default_optimizer(model.parameters(), 0.1))
    loss, norm = step(_data(8), None)
    assert not torch.isfinite(loss) and torch.isnan(norm)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before, strict=True))


def test_cosine_schedule_follows_the_formula_and_resumes_exactly(tmp_path):
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    fit(model, _data(), DSM, steps=30, optimizer=opt, lr_schedule="cosine", progress=False, val_fraction=None)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 29 / 30)), rel=1e-12)
    whole = _model()
    _fit(whole, tmp_path / "a", 40, lr_schedule="cosine")
    with pytest.raises(KeyboardInterrupt):
        fit(_model(), _data(), _interrupted_at(25, KeyboardInterrupt), steps=40, batch_size=64,
            generator=torch.Generator().manual_seed(1), out_dir=tmp_path / "b", checkpoint_every=10, clip_grad_norm=5.0,
            ema_decay=0.9, log_every=5,
            progress=False, lr_schedule="cosine")
    resumed = _model(seed=5)
    _fit(resumed, tmp_path / "b", 40, lr_schedule="cosine", resume=True)
    for (k, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_a_run_in_stages_follows_the_schedule_of_its_total():
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    fit(model, _data(), DSM, steps=10, schedule_steps=20, optimizer=opt, lr_schedule="cosine", progress=False)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 9 / 20)), rel=1e-12)


def test_timed_evaluations_come_at_the_stated_training_times_and_are_not_counted():
    """``eval_seconds``: an evaluation whenever the training clock passes 0.1, 0.2, 0.4, … s and then every
    interval; the evaluation's own time (here 0.05 s each) is left out of the clock."""
    from scorematch.training.evaluation import next_mark as _next_mark

    assert [_next_mark(1.0, t) for t in (0.0, 0.1, 0.25, 0.85, 1.0, 3.4)] == [0.1, 0.2, 0.4, 1.0, 2.0, 4.0]
    import time

    def slow_probe(model):
        time.sleep(0.05)
        return {"probe": 1.0}

    def slow_objective(model, x, generator):
        time.sleep(0.004)
        return DSM(model, x, generator=generator)

    t0 = time.perf_counter()
    result = fit(_model(), _data(), slow_objective, steps=80, batch_size=32, eval_fn=slow_probe, eval_seconds=0.25,
                 generator=torch.Generator().manual_seed(0), progress=False, val_fraction=None, log_every=1)
    wall = time.perf_counter() - t0
    expected, mark = [], 0.1  # the first step at or past each mark: 0.1, 0.2, then every 0.25 s
    for r in result.history:
        if r["seconds"] >= mark:
            expected.append(r["step"])
            mark = _next_mark(0.25, r["seconds"])
    timed = [r["step"] for r in result.history if "probe" in r]
    assert timed == expected and len(timed) >= 3
    assert wall - result.seconds >= 0.9 * 0.05 * len(timed)  # the evaluations' time is not training time
    with pytest.raises(ValueError, match="eval_seconds needs eval_fn"):
        fit(_model(), _data(), DSM, steps=2, eval_seconds=1.0, progress=False)
