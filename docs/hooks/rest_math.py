"""griffe extension: the docstrings' reStructuredText math (``:math:`…``` and ``.. math::`` blocks, as Sphinx
reads them) becomes ``$…$`` and ``$$…$$``, which the site renders with MathJax (pymdownx.arithmatex)."""

from __future__ import annotations

import re
import textwrap
from typing import Any

from griffe import Extension

ROLE = re.compile(r":math:`([^`]+)`")
BLOCK = re.compile(r"^([ \t]*)\.\. math::[ \t]*\n\n((?:\1[ \t]+\S.*\n|[ \t]*\n)+)", re.MULTILINE)


def convert(text: str) -> str:
    """reST math in ``text`` as arithmatex's ``$…$`` / ``$$…$$``."""
    def block(m: re.Match[str]) -> str:
        body = textwrap.dedent(m.group(2)).strip("\n")
        return f"{m.group(1)}$$\n{body}\n$$\n\n"

    return ROLE.sub(lambda m: f"${m.group(1)}$", BLOCK.sub(block, text if text.endswith("\n") else text + "\n"))


class RestMath(Extension):
    def on_object(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
