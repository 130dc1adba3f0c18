"""What every lesson in ``examples/`` shares: its two options and where its figure goes.

``--smoke`` runs a small, fast version (what the tests run; the checks still apply, with looser numbers where a
number is statistical); ``--out DIR`` is where the figure is written: ``docs/examples`` by default, a temporary
folder with ``--smoke`` so that a quick run never replaces a committed figure.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "examples"


class Lesson(argparse.Namespace):
    smoke: bool
    out: Path

    def figure(self, name: str) -> Path:
        """The path of the figure ``name`` (a ``.png``) in ``out``, its folder made."""
        self.out.mkdir(parents=True, exist_ok=True)
        return self.out / name


def options(doc: str | None) -> Lesson:
    """Parse ``--smoke`` and ``--out`` (the module docstring ``doc`` is the help)."""
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    parser.add_argument("--smoke", action="store_true", help="a small, fast run (for the tests)")
    parser.add_argument("--out", type=Path, help="folder of the figure (default: docs/examples; a temporary "
                        "folder with --smoke)")
    args = parser.parse_args(namespace=Lesson())
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="scorematch-lesson-")) if args.smoke else DOCS
    return args
