"""Data-parallel training and sharded sampling over 2 CPU processes (gloo): the single-process result on the same
global batch is reproduced up to round-off, a run resumes on another number of processes, ranks draw their own
noise, and sharded SMC pools every rank's groups. The command line joins a ``torchrun``-style process group."""

import json
import math
import socket
import sys

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

import scorematch
from scorematch import Energy, losses
from scorematch._infra.distributed import gather, noise_generator, portion, world
from scorematch.models import EnergyMLP
from scorematch.samplers.named import draw

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or sys.platform == "win32", reason="needs gloo")

STEPS, BATCH = 25, 64
GAUSS_STD = torch.tensor([1.0, 0.3], dtype=torch.float32)


def _data():
    g = torch.Generator().manual_seed(1)
    return torch.randn(500, 2, generator=g, dtype=torch.float32) * GAUSS_STD


def _train(out, steps=STEPS, resume=False):
    torch.manual_seed(0)
    model = Energy(EnergyMLP(2, hidden=16)).float()
    scorematch.fit(model, _data(), losses.explicit, steps=steps, batch_size=BATCH, lr=1e-2, ema_decay=None,
                   generator=torch.Generator().manual_seed(3), progress=False, out_dir=out, resume=resume,
                   checkpoint_every=5)
    return model.state_dict()


def _gaussian_energy():
    """E(x) = ½ Σ x_j²/s_j², whose log Z = Σ log(√(2π) s_j)."""
    return Energy(lambda x: 0.5 * (x / GAUSS_STD).pow(2).sum(-1))


def _worker(rank, store, folder):
    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        found = {"world": world()}
        state = _train(f"{folder}/run")  # 25 steps from scratch, checkpoints by rank 0
        _train(f"{folder}/half", steps=12)  # the first 12 steps, to be finished by one process
        g = torch.Generator().manual_seed(5)
        before = g.get_state().clone()
        mine = torch.randn(4, generator=noise_generator(g, "cpu"), dtype=torch.float64)
        found["noise"] = gather(mine.unsqueeze(0)).tolist()
        found["shared_untouched"] = bool(torch.equal(before, g.get_state()))
        found["gathered"] = gather(torch.arange(3 + rank, dtype=torch.float64).unsqueeze(1)).squeeze(1).tolist()
        found["portion"] = [portion(7).start, portion(7).stop]
        x, report = draw("langevin", _gaussian_energy(), 7, (2,), steps=5, seed=2)
        found["draw"] = x.tolist()
        found["draw_processes"] = report.get("processes")
        x, report = draw("smc", _gaussian_energy(), 1000, (2,), steps=5, seed=2)
        found["smc"] = {"log_z": report["smc"]["log_z"], "se": report["smc"]["log_z_se"], "n": x.shape[0],
                        "var": x.var(0).tolist()}
        if rank == 0:
            torch.save(state, f"{folder}/ddp.pt")
        with open(f"{folder}/rank{rank}.json", "w") as f:
            json.dump(found, f)
    finally:
        torch.distributed.destroy_process_group()


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    """What two processes found (one spawn for every check below)."""
    folder, previous = tmp_path_factory.mktemp("ddp"), torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        mp.spawn(_worker, args=(str(folder / "store"), str(folder)), nprocs=2)
    finally:
        torch.set_default_dtype(previous)
    return folder, [json.loads((folder / f"rank{r}.json").read_text()) for r in range(2)]


def test_two_processes_reproduce_one_on_the_same_global_batch(two):
    folder, found = two
    assert found[0]["world"] == [0, 2] and found[1]["world"] == [1, 2]
    torch.set_default_dtype(torch.float32)
    ddp = torch.load(folder / "ddp.pt")
    one = _train(None)
    worst = max(float((ddp[k] - one[k]).abs().max()) for k in one)
    print(f"largest weight difference, 2 processes against 1: {worst:.2e}")
    assert worst < 1e-5, worst
    assert (folder / "run" / "checkpoint" / "latest.json").is_file()  # written by rank 0


def test_a_run_begun_on_two_processes_resumes_on_one(two):
    folder, _ = two
    torch.set_default_dtype(torch.float32)
    assert json.loads((folder / "half" / "checkpoint" / "latest.json").read_text())["dir"].endswith("12")
    resumed = _train(folder / "half", resume=True)  # steps 13…25 in one process
    one = _train(None)
    worst = max(float((resumed[k] - one[k]).abs().max()) for k in one)
    print(f"2 processes for 12 steps then 1 for 13, against 1 for 25: {worst:.2e}")
    assert worst < 1e-5, worst


def test_ranks_draw_their_own_noise_without_moving_the_shared_stream(two):
    _, found = two
    noise = torch.tensor(found[0]["noise"])
    assert noise.shape == (2, 4) and not torch.allclose(noise[0], noise[1])
    assert found[0]["noise"] == found[1]["noise"]  # gathered alike on both
    assert found[0]["shared_untouched"] and found[1]["shared_untouched"]


def test_gather_joins_uneven_shares_in_rank_order(two):
    _, found = two
    assert found[0]["gathered"] == [0, 1, 2, 0, 1, 2, 3] == found[1]["gathered"]
    assert found[0]["portion"] == [0, 4] and found[1]["portion"] == [4, 7]


def test_a_sharded_draw_returns_every_sample_on_every_rank(two):
    _, found = two
    assert len(found[0]["draw"]) == 7 and found[0]["draw"] == found[1]["draw"]
    assert found[0]["draw_processes"] == 2
    # the starting points are the single-process ones: 5 Langevin steps of size 2e-3 move them by well under 1
    x0 = torch.randn(7, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float32)
    assert (torch.tensor(found[0]["draw"]) - x0).abs().max() < 1.0


def test_sharded_smc_pools_the_groups_of_every_rank(two):
    _, found = two
    exact = float(sum(math.log(math.sqrt(2 * math.pi) * s) for s in GAUSS_STD.tolist()))
    smc = found[0]["smc"]
    assert smc == found[1]["smc"]  # one pooled answer on every rank
    assert smc["n"] == 1000
    assert abs(smc["log_z"] - exact) < 4 * smc["se"] + 0.02, (smc, exact)
    var = torch.tensor(smc["var"])
    assert torch.allclose(var, GAUSS_STD.double() ** 2, rtol=0.15), var


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli_worker(rank, port, folder):
    import os

    from commands import exit_code

    os.environ.update(WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    codes = [exit_code("train", "8gaussians", "--steps", 30, "--out", f"{folder}/run", "--quiet")]
    os.environ["MASTER_PORT"] = str(port + 1)
    codes.append(exit_code("sample", f"{folder}/run", "--n-samples", 101, "--sampler", "mala", "--steps", 20,
                           "--quiet"))
    with open(f"{folder}/cli{rank}.json", "w") as f:
        json.dump(codes, f)


def test_the_command_line_trains_and_samples_under_a_launchers_process_group(tmp_path):
    """As ``torchrun --nproc_per_node=2 -m scorematch train …`` runs it: the launcher's environment variables."""
    from commands import exit_code

    torch.set_default_dtype(torch.float32)  # as the command runs
    try:
        mp.spawn(_cli_worker, args=(_free_port(), str(tmp_path)), nprocs=2)
        assert exit_code("train", "8gaussians", "--steps", 30, "--out", tmp_path / "one", "--quiet") == 0
    finally:
        torch.set_default_dtype(torch.float64)
    assert [json.loads((tmp_path / f"cli{r}.json").read_text()) for r in range(2)] == [[0, 0], [0, 0]]
    run = tmp_path / "run"
    assert json.loads((run / "summary.json").read_text())["steps_done"] == 30
    assert not list(run.rglob("*.tmp"))
    report = json.loads((run / "samples.json").read_text())
    assert report["n"] == 101 and report["processes"] == 2
    from safetensors.torch import load_file

    a, b = load_file(run / "model.safetensors"), load_file(tmp_path / "one" / "model.safetensors")
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst < 1e-5, worst  # the command line's 2-process run is the 1-process run


def test_eval_under_a_launcher_runs_on_rank_zero_only(trained, tmp_path, monkeypatch, capsys):
    from commands import exit_code

    np.save(tmp_path / "p.npy", np.zeros((5, 2)))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert exit_code("eval", trained, "--points", tmp_path / "p.npy", "--out", tmp_path / "e1.npz") == 0
    assert not (tmp_path / "e1.npz").exists() and "rank 0 only" in capsys.readouterr().err
    monkeypatch.setenv("RANK", "0")
    assert exit_code("eval", trained, "--points", tmp_path / "p.npy", "--out", tmp_path / "e0.npz") == 0
    assert (tmp_path / "e0.npz").exists()
