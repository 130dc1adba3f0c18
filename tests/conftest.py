"""Numerical checks run in float64 unless a test says otherwise (see tolerances.py)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny run folder (moons, 20 steps) shared by a module's tests; modules that need another define their own."""
    from commands import TINY, exit_code

    run = tmp_path_factory.mktemp("trained") / "run"
    assert exit_code("train", "moons", "--out", run, *TINY) == 0
    return run
