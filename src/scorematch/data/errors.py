"""The one error the data loaders raise; see :mod:`scorematch.data`."""

__all__ = ["DataError"]


class DataError(ValueError):
    """Unusable data: the message is one line naming the file and, where it applies, the row and column."""
