"""The README's Python example runs and learns a ring: high energy at the centre, low on the circle."""

import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_trains_an_energy_with_a_ring_of_low_energy():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python example"
    torch.set_default_dtype(torch.float32)
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    with torch.no_grad():
        e = namespace["model"].energy(torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, -2.0], [-1.4, 1.4], [4.0, 0.0]]))
    ring = e[1:4]
    assert ring.max() < e[0] - 5 and ring.max() < e[4] - 5, e
    assert (ring.max() - ring.min()) < 5, e  # roughly flat along the circle


def test_readme_building_blocks_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    torch.set_default_dtype(torch.float32)
    namespace: dict = {}
    exec(compile(blocks[1], "README.md", "exec"), namespace)
    assert namespace["samples"].shape == (1000, 2) and torch.isfinite(namespace["samples"]).all()
    assert namespace["x"].shape == (5000, 2)


@pytest.mark.slow
def test_readme_inference_example_finds_the_posterior_mean_and_the_mle():
    """The simulation-based inference block: gaussian_linear's posterior mean x/2 (by fsm and by npse) and MLE x
    (se √0.1)."""
    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S) if "scorematch.sbi" in b)
    namespace: dict = {"print": lambda *a: None}
    exec(compile(block, "README.md", "exec"), namespace)
    x = namespace["x_obs"]
    assert float((namespace["posterior"].x.mean(0) - x / 2).abs().max()) < 0.1
    assert float((namespace["draws"].mean(0) - x / 2).abs().max()) < 0.1
    assert float((namespace["mle"].theta - x).abs().max()) < 0.1
    assert torch.allclose(namespace["mle"].se, torch.full((10,), 0.1**0.5, dtype=torch.float64), rtol=0.15)
