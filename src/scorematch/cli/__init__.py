"""The ``scorematch`` command: the parser and its options (``options``) and the commands (``commands``), the only
place where strings on a command line become objects, through the tables of names (:mod:`scorematch.runs.registry`)."""

from .commands import main

__all__ = ["main"]
