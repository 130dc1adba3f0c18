"""The persistent-CD replay buffer: bounded, restarted at the stated rate, checkpointed, and a resumed run equals an
uninterrupted one bit for bit."""

import pytest
import torch
from safetensors.torch import load_file

from scorematch import Energy, fit
from scorematch.baselines import PersistentContrastiveDivergence
from scorematch.models import EnergyMLP


def test_the_buffer_never_grows_and_is_overwritten_in_place():
    pcd = PersistentContrastiveDivergence(buffer_size=64, steps=2, step_size=0.01)
    model = Energy(EnergyMLP(2, hidden=8))
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        pcd(model, torch.randn(48, 2, generator=g), generator=g)
        assert pcd.buffer.shape == (64, 2)
    assert set(pcd.state_dict()) == {"buffer"} and pcd.state_dict()["buffer"].numel() == 128


def test_restarts_happen_at_the_stated_rate():
    """Buffer at 0, restarts far away, one tiny step, α = 0: a chain's loss is −E(x⁻) = −½·far² when it restarted
    and 0 otherwise, so the share of restarted chains is read off the loss (binomial: 5 standard errors)."""
    far, rate, n = 100.0, 0.3, 4000
    pcd = PersistentContrastiveDivergence(buffer_size=10**5, restart_fraction=rate, steps=1, step_size=1e-12,
                                          alpha=0.0, restart=lambda k, like, g: torch.full((k, *like.shape[1:]), far))
    pcd.load_state_dict({"buffer": torch.zeros(10**5, 1)})
    loss = pcd(Energy(lambda x: 0.5 * (x**2).sum(-1)), torch.zeros(n, 1), generator=torch.Generator().manual_seed(0))
    restarted = float((loss < -far**2 / 4).double().mean())
    assert restarted == pytest.approx(rate, abs=5 * (rate * (1 - rate) / n) ** 0.5)


def _fit(out, steps, resume=False):
    torch.manual_seed(0)
    model = Energy(EnergyMLP(2, hidden=16))
    pcd = PersistentContrastiveDivergence(buffer_size=200, steps=3, step_size=0.01)
    x = torch.randn(500, 2, generator=torch.Generator().manual_seed(3))
    fit(model, x, pcd, steps=steps, batch_size=32, generator=torch.Generator().manual_seed(1), progress=False,
        out_dir=out, checkpoint_every=10, resume=resume, eval_every=10)
    return model, pcd


def test_a_resumed_pcd_run_equals_an_uninterrupted_one_bit_for_bit(tmp_path):
    whole, whole_pcd = _fit(tmp_path / "whole", 40)
    _fit(tmp_path / "parts", 20)
    saved = load_file(next((tmp_path / "parts" / "checkpoint").glob("step-*")) / "objective.safetensors")
    assert saved["buffer"].shape == (200, 2)
    parts, parts_pcd = _fit(tmp_path / "parts", 40, resume=True)
    for (name, a), b in zip(whole.state_dict().items(), parts.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert torch.equal(whole_pcd.buffer, parts_pcd.buffer)
