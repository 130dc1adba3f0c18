"""Writing a report folder all at once: files are drawn into a temporary folder and moved into the report's folder
only when every one of them succeeded, so a failure leaves no file and no empty folder."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["staged"]


@contextmanager
def staged(out: Path, prefix: str = "scorematch-") -> Iterator[Path]:
    """A temporary folder to write into; when the block ends without an error its files move into ``out``
    (created then), and otherwise they are dropped."""
    with tempfile.TemporaryDirectory(prefix=prefix) as work:
        yield Path(work)
        out.mkdir(parents=True, exist_ok=True)
        for f in sorted(Path(work).iterdir()):
            shutil.move(str(f), str(out / f.name))
