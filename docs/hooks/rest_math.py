"""griffe extension: the docstrings' reStructuredText math (``:math:`…``` and ``.. math::`` blocks, as Sphinx
reads them) becomes ``$…$`` and ``$$…$$``, which the site renders with MathJax (pymdownx.arithmatex); Sphinx's
cross-reference roles (``:func:`x```, ``:class:`~a.b.C```, …) become links where the name is a full
``scorematch.…`` path (mkdocstrings' autorefs, checked by the strict build) and inline code elsewhere."""

from __future__ import annotations

import re
import textwrap
from typing import Any

from griffe import Extension

ROLE = re.compile(r":math:`([^`]+)`")
XREF = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj):`(~?)([^`]+)`")


def xref(m: re.Match[str], module: str | None = None) -> str:
    """One cross-reference role as Markdown: ``~`` shows the last part of the name only. A full ``scorematch.…`` name,
    or a bare one in ``module``, becomes an optional autorefs link: a link where the name is on a page, code
    elsewhere."""
    target = m.group(2).strip()
    shown = target.rsplit(".", 1)[-1] if m.group(1) else target
    full = target if target.startswith("scorematch.") else f"{module}.{target}" if module and "." not in target else None
    code = f"<code>{shown}</code>"
    return f'<autoref identifier="{full}" optional>{code}</autoref>' if full else f"`{shown}`"


BLOCK = re.compile(r"^([ \t]*)\.\. math::[ \t]*\n\n((?:\1[ \t]+\S.*\n|[ \t]*\n)+)", re.MULTILINE)
DOCTEST = re.compile(r"^([ \t]*)>>> .*\n(?:\1\S.*\n)*", re.MULTILINE)


def doctest(m: re.Match[str]) -> str:
    """A doctest session (``>>>`` up to the next blank line) as a fenced ``pycon`` block, not nested quotes."""
    body = textwrap.dedent(m.group(0)).rstrip("\n")
    return f"{m.group(1)}```pycon\n{textwrap.indent(body, m.group(1))}\n{m.group(1)}```\n"


def convert(text: str, module: str | None = None) -> str:
    """reST math in ``text`` as arithmatex's ``$…$`` / ``$$…$$``, the cross-reference roles as Markdown, and
    doctest sessions as code blocks."""
    def block(m: re.Match[str]) -> str:
        body = textwrap.dedent(m.group(2)).strip("\n")
        return f"{m.group(1)}$$\n{body}\n$$\n\n"

    text = ROLE.sub(lambda m: f"${m.group(1)}$", BLOCK.sub(block, text if text.endswith("\n") else text + "\n"))
    return DOCTEST.sub(doctest, XREF.sub(lambda m: xref(m, module), text))


class RestMath(Extension):
    def on_object(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            module = obj.path if obj.is_module else obj.module.path
            obj.docstring.value = convert(obj.docstring.value, module)
