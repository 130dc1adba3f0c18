"""Every lesson in ``examples/`` runs in its ``--smoke`` mode, passes its own checks and writes its figure."""

import runpy
import sys
from pathlib import Path

import matplotlib
import pytest
import torch

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LESSONS = sorted(EXAMPLES.glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("script", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs_in_smoke_mode(script, tmp_path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.setattr(sys, "argv", [str(script), "--smoke", "--out", str(tmp_path)])
    monkeypatch.syspath_prepend(str(EXAMPLES))
    previous = torch.get_default_dtype()
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        torch.set_default_dtype(previous)
        import matplotlib.pyplot as plt

        plt.close("all")
    figures = list(tmp_path.glob("*.png"))
    assert figures and all(f.stat().st_size > 10_000 for f in figures), figures


def test_every_lesson_has_its_figure_in_the_docs():
    docs = EXAMPLES.parent / "docs" / "examples"
    for script in LESSONS:
        text = script.read_text()
        names = [part.split('"')[1] for part in text.split('args.figure(')[1:]]
        assert names, script
        for name in names:
            assert (docs / name).is_file(), (script.name, name)
