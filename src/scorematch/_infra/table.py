"""A table of names: entries registered once under their name, looked up with a one-line error.

The command line and run folders speak in names (objectives, model kinds, samplers, their settings); each is an
entry of a :class:`Table`, registered next to what it builds (:mod:`scorematch.runs.registry`,
:mod:`scorematch.samplers.named`). Everything that lists names reads a table.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Colour:
...     name: str
...     help: str = ""
>>> colours = Table("colour")
>>> _ = colours.register(Colour("red")); _ = colours.register(Colour("blue"))
>>> list(colours), colours["red"]
(['red', 'blue'], Colour(name='red', help=''))
>>> colours["green"]
Traceback (most recent call last):
...
ValueError: unknown colour 'green'; choose one of: red, blue
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["Named", "Table"]


class Named(Protocol):
    """An entry: anything with a ``name`` and a ``help`` text."""

    name: str
    help: str


T = TypeVar("T", bound=Named)


class Table(Generic[T]):
    """Entries by name, in the order registered. ``table[name]`` raises ``ValueError`` listing the known names.

    ``gathered``: entries declared in other rooms (a model kind's own settings), read at every lookup and listed
    before the table's own; a name declared twice raises ``ValueError``."""

    def __init__(self, what: str, *, gathered: Callable[[], Iterable[T]] | None = None):
        self.what = what
        self._own: dict[str, T] = {}
        self._gathered = gathered

    @property
    def _entries(self) -> dict[str, T]:
        if self._gathered is None:
            return self._own
        found: dict[str, T] = {}
        for entry in [*self._gathered(), *self._own.values()]:
            if found.setdefault(entry.name, entry) is not entry:
                raise ValueError(f"the {self.what} {entry.name!r} is declared twice")
        return found

    def register(self, entry: T) -> T:
        """Add ``entry``; a name already taken raises ``ValueError``. Returns the entry."""
        if entry.name in self._entries:
            raise ValueError(f"the {self.what} {entry.name!r} is already registered")
        self._own[entry.name] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Remove the entry ``name`` (unknown names, or names gathered from elsewhere, raise ``ValueError``)."""
        if name not in self._own:
            self[name]
            raise ValueError(f"the {self.what} {name!r} is declared elsewhere and cannot be removed here")
        del self._own[name]

    @contextmanager
    def registered(self, entry: T) -> Iterator[T]:
        """``entry`` registered for the ``with`` block only (a plug-in for a test or a script)."""
        self.register(entry)
        try:
            yield entry
        finally:
            self._own.pop(entry.name, None)

    def __getitem__(self, name: str) -> T:
        entries = self._entries
        try:
            return entries[name]
        except (KeyError, TypeError):
            raise ValueError(f"unknown {self.what} {name!r}; choose one of: {', '.join(entries)}") from None

    def __contains__(self, name: Any) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[T]:
        """The entries, in the order registered."""
        return list(self._entries.values())

    def names(self) -> tuple[str, ...]:
        """The names, in the order registered."""
        return tuple(self._entries)
