"""A sampler is one kernel and one table entry: a random-walk Metropolis kernel written here, registered as a
``Sampler`` with the driver :func:`~scorematch.samplers.named.from_kernel`, samples N(0, I) with the right moments
through ``draw`` and a trained run through ``scorematch sample``, with no other change."""

import json

import numpy as np
import torch

from scorematch import Energy
from scorematch.cli import main
from scorematch.samplers import Kernel, metropolis_select
from scorematch.samplers.named import SAMPLERS, Sampler, draw, from_kernel
from scorematch.samplers.state import evaluate


def random_walk(model, step_size):
    """Random-walk Metropolis: x' = x + √ε z, accepted with probability min(1, exp(E(x) − E(x')))."""

    def step(state, generator):
        z = torch.randn(state.x.shape, generator=generator, dtype=state.x.dtype, device=state.x.device)
        proposal = evaluate(model, state.x + step_size**0.5 * z, need_energy=True)
        return metropolis_select(state, proposal, state.energy - proposal.energy, generator)

    return Kernel(init=lambda x: evaluate(model, x, need_energy=True), step=step)


RWM = Sampler("rwm", "test: random-walk Metropolis (energies)", from_kernel(random_walk, 0.5, 0.3), 1500, 0.5,
              needs_energy=True)


def test_a_new_sampler_draws_through_the_library_and_the_command_line(tmp_path, capsys):
    gaussian = Energy(lambda x: 0.5 * (x**2).sum(-1))
    with SAMPLERS.registered(RWM):
        x, report = draw("rwm", gaussian, 4000, (2,), seed=0)
        # N(0, I): sample mean within 5 standard errors (ESS-corrected: ~0.05), variance within 10%
        assert x.mean(0).abs().max() < 0.1 and (x.var(0) - 1).abs().max() < 0.1, (x.mean(0), x.var(0))
        assert 0.15 < report["acceptance"] < 0.5 and report["rhat"] < 1.05   # adapted towards 0.3, converged
        assert main(["train", "moons", "--steps", "50", "--judge", "off", "--out", str(tmp_path / "run"),
                     "--quiet"]) == 0
        assert main(["sample", str(tmp_path / "run"), "--sampler", "rwm", "--n", "200", "--steps", "200",
                     "--out", str(tmp_path / "s.npy"), "--quiet"]) == 0, capsys.readouterr().err
        assert np.load(tmp_path / "s.npy").shape == (200, 2)
        assert json.loads((tmp_path / "s.json").read_text())["sampler"] == "rwm"
    assert "rwm" not in SAMPLERS
