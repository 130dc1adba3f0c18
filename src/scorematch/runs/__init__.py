"""Run folders and what they are made from: a run's settings declared once (``config``: :class:`TrainConfig`), the
tables of names the command line and run folders speak (``registry``), the value types of the command line
(``argtypes``), training into a folder (``run``: :func:`train_run`), reading one back (``folder``: :func:`load_run`,
:class:`Run`), the folder's lock (``lock``) and the search over σ (``autosigma``)."""

from .config import TrainConfig
from .folder import Run, RunError, load_run
from .run import train_run

__all__ = ["Run", "RunError", "TrainConfig", "load_run", "train_run"]
