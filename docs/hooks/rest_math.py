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


BORDER = re.compile(r"^([ \t]*)(=+(?: +=+)+)[ \t]*$")


def _cells(line: str, spans: list[tuple[int, int]]) -> list[str]:
    """A row's text in each column; the last column takes the rest of the line."""
    ends = [s for s, _ in spans[1:]] + [len(line)]
    return [line[start:end].strip() for (start, _), end in zip(spans, ends, strict=True)]


def tables(text: str) -> str:
    """reST simple tables (``===  ===`` borders, an optional header rule) as Markdown pipe tables; a row whose first
    cell is blank continues the row above."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        m = BORDER.match(lines[i])
        end = next((j for j in range(i + 1, len(lines)) if lines[j].rstrip() == lines[i].rstrip()), None)
        if not m or end is None:
            out.append(lines[i])
            i += 1
            continue
        indent, border = m.group(1), m.group(2)
        spans = [(len(indent) + a.start(), len(indent) + a.end()) for a in re.finditer(r"=+", border)]
        body = lines[i + 1:end]
        header, rows = None, []
        after = end + 1
        if after < len(lines) and any(lines[k].rstrip() == lines[i].rstrip() for k in range(after, len(lines))):
            nxt = next(k for k in range(after, len(lines)) if lines[k].rstrip() == lines[i].rstrip())
            if all(BORDER.match(x) is None for x in lines[after:nxt]) and all(x.strip() for x in lines[after:nxt]):
                header, body, end = body, lines[after:nxt], nxt  # top, header rows, rule, body, bottom
        for line in body:
            cells = _cells(line.ljust(spans[-1][1]), spans)
            if rows and not cells[0]:
                rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
            elif line.strip():
                rows.append(cells)
        head = [" ".join(_cells(h.ljust(spans[-1][1]), spans)[k] for h in header).strip() for k in range(len(spans))] \
            if header else [""] * len(spans)
        fmt = lambda cells, pad=indent: pad + "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"  # noqa: E731
        out += ["", fmt(head), indent + "|" + "---|" * len(spans), *map(fmt, rows), ""]
        i = end + 1
    return "\n".join(out)


def convert(text: str, module: str | None = None) -> str:
    """reST math in ``text`` as arithmatex's ``$…$`` / ``$$…$$``, the cross-reference roles as Markdown, and
    doctest sessions as code blocks."""
    def block(m: re.Match[str]) -> str:
        body = textwrap.dedent(m.group(2)).strip("\n")
        return f"{m.group(1)}$$\n{body}\n$$\n\n"

    text = ROLE.sub(lambda m: f"${m.group(1)}$", BLOCK.sub(block, text if text.endswith("\n") else text + "\n"))
    return tables(DOCTEST.sub(doctest, XREF.sub(lambda m: xref(m, module), text)))


class RestMath(Extension):
    def on_object(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            module = obj.path if obj.is_module else obj.module.path
            obj.docstring.value = convert(obj.docstring.value, module)
