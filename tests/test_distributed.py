"""Data-parallel training over 2 CPU processes (gloo) reproduces the single-process result on the same global
batch up to round-off."""

import sys

import pytest
import torch
import torch.multiprocessing as mp

import scorematch
from scorematch import Energy, losses
from scorematch.models import EnergyMLP

STEPS, BATCH = 25, 64


def _data():
    g = torch.Generator().manual_seed(1)
    return torch.randn(500, 2, generator=g, dtype=torch.float32) * torch.tensor([1.0, 0.3])


def _train(out):
    torch.manual_seed(0)
    model = Energy(EnergyMLP(2, hidden=16)).float()
    scorematch.fit(model, _data(), losses.explicit, steps=STEPS, batch_size=BATCH, lr=1e-2, ema_decay=None,
                   generator=torch.Generator().manual_seed(3), progress=False, out_dir=out)
    return model.state_dict()


def _worker(rank, store, result, out):
    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        state = _train(out)
        if rank == 0:
            torch.save(state, result)
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.skipif(not torch.distributed.is_available() or sys.platform == "win32", reason="needs gloo")
def test_two_processes_reproduce_one_on_the_same_global_batch(tmp_path):
    torch.set_default_dtype(torch.float32)
    mp.spawn(_worker, args=(str(tmp_path / "store"), str(tmp_path / "ddp.pt"), str(tmp_path / "run")), nprocs=2)
    two = torch.load(tmp_path / "ddp.pt")
    one = _train(None)
    worst = max(float((two[k] - one[k]).abs().max()) for k in one)
    print(f"largest weight difference, 2 processes against 1: {worst:.2e}")
    assert worst < 1e-5, worst
    assert (tmp_path / "run" / "checkpoint" / "latest.json").is_file()  # written by rank 0
