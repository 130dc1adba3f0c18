"""griffe extension: the docstrings' reStructuredText, as Sphinx reads it, becomes the Markdown the site renders.

- ``:math:`…``` and ``.. math::`` blocks become ``$…$`` and ``$$…$$`` (MathJax, through pymdownx.arithmatex);
- cross-reference roles (``:func:`x```, ``:class:`~a.b.C```, ``:meth:`title <target>```) become optional autorefs
  links — a link where the name is documented on a page, inline code where it is not (optional links never fail
  the build: an undocumented name is not an error);
- doctest sessions become highlighted ``pycon`` blocks (not three nested block quotes);
- simple tables (``===  ===`` borders) become Markdown tables.

Code, math and literal blocks are left as they are by the table and doctest passes.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from typing import Any

from griffe import Extension

ROLE = re.compile(r":math:`([^`]+)`")
XREF = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj):`(~?)([^`]+)`")
BLOCK = re.compile(r"^([ \t]*)\.\. math::[ \t]*\n\n((?:\1[ \t]+\S.*\n|[ \t]*\n)+)", re.MULTILINE)
BORDER = re.compile(r"^([ \t]*)(=+(?: +=+)+)[ \t]*$")
CODE_OR_MATH = re.compile(r"(``?[^`]+``?|\$[^$]+\$)")


def xref(m: re.Match[str], module: str | None = None, members: Iterable[str] = (), owner: str | None = None) -> str:
    """One cross-reference role as Markdown. ``~`` shows the last part of the name only; ``title <target>`` shows
    the title. A full ``scorematch.…`` name, a bare one that is a member of ``owner`` (a class) or one in ``module``
    becomes an optional autorefs link."""
    text = m.group(2).strip()
    titled = re.fullmatch(r"(.+?)\s*<([^>]+)>", text)
    title, target = (titled.group(1), titled.group(2)) if titled else (None, text)
    target = target.removesuffix("()")
    shown = title or (target.rsplit(".", 1)[-1] if m.group(1) else target)
    if target.startswith("scorematch."):
        full = target
    elif "." not in target and owner and target in set(members):
        full = f"{owner}.{target}"
    elif "." not in target and module:
        full = f"{module}.{target}"
    else:
        full = None
    return f'<autoref identifier="{full}" optional><code>{shown}</code></autoref>' if full else f"`{shown}`"


def _protected(lines: list[str]) -> list[bool]:
    """Which lines belong to a fenced block, a ``.. math::`` or ``::`` literal block, or a doctest session."""
    out, i = [False] * len(lines), 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if stripped.startswith("```"):
            j = next((k for k in range(i + 1, len(lines)) if lines[k].strip().startswith("```")), len(lines) - 1)
            out[i:j + 1] = [True] * (j + 1 - i)
            i = j + 1
        elif stripped.startswith(">>> "):
            j = next((k for k in range(i, len(lines)) if not lines[k].strip()), len(lines))
            out[i:j] = [True] * (j - i)
            i = j
        elif stripped.endswith("::"):  # a literal block, or a directive such as ``.. math::``
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
                j += 1
            out[i + 1:j] = [True] * (j - i - 1)
            i = j
        else:
            i += 1
    return out


def _cells(line: str, spans: list[tuple[int, int]]) -> list[str]:
    """A row's text in each column; the last column takes the rest of the line."""
    line = line.ljust(spans[-1][1])
    ends = [s for s, _ in spans[1:]] + [len(line)]
    return [line[start:end].strip() for (start, _), end in zip(spans, ends, strict=True)]


def _cell(text: str) -> str:
    """A cell's text for a pipe table: its math converted with ``|`` as ``\\vert``, a ``|`` elsewhere escaped (code
    spans keep theirs: the table does not split inside them)."""
    text = ROLE.sub(lambda m: "$" + m.group(1).replace("|", r"\vert ") + "$", text)
    return "".join(p if CODE_OR_MATH.fullmatch(p) else p.replace("|", r"\|") for p in CODE_OR_MATH.split(text))


def tables(text: str) -> str:
    """reST simple tables as Markdown pipe tables. A table ends at a border followed by a blank line or the end; a
    border before it is the header rule. A row whose first cell is blank continues the row above; blank lines
    inside are skipped."""
    lines = text.split("\n")
    skip = _protected(lines)
    out, i = [], 0
    while i < len(lines):
        m = None if skip[i] else BORDER.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        same = [k for k in range(i + 1, len(lines)) if lines[k].rstrip() == lines[i].rstrip()]
        end = next((k for k in same if k + 1 >= len(lines) or not lines[k + 1].strip()), None)
        if end is None:
            out.append(lines[i])
            i += 1
            continue
        indent, border = m.group(1), m.group(2)
        spans = [(len(indent) + a.start(), len(indent) + a.end()) for a in re.finditer(r"=+", border)]
        rule = next((k for k in same if k < end), None)
        header, body = (lines[i + 1:rule], lines[rule + 1:end]) if rule is not None else ([], lines[i + 1:end])
        rows: list[list[str]] = []
        for line in body:
            cells = _cells(line, spans)
            if rows and line.strip() and not cells[0]:
                rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
            elif line.strip():
                rows.append(cells)
        head = [" ".join(_cells(h, spans)[k] for h in header if h.strip()).strip() for k in range(len(spans))]

        def row(cells: list[str], pad: str = indent) -> str:
            return pad + "| " + " | ".join(_cell(c) for c in cells) + " |"

        out += ["", row(head), indent + "|" + "---|" * len(spans), *map(row, rows), ""]
        i = end + 1
    return "\n".join(out)


def doctests(text: str) -> str:
    """Doctest sessions (``>>>`` up to the next blank line, outside code and math blocks) as ``pycon`` blocks."""
    lines = text.split("\n")
    out, i = [], 0
    # the blocks other than sessions: a session line stands in as plain text at its own indentation
    skip = _protected([(s[: len(s) - len(s.lstrip())] + "." if s.lstrip().startswith(">>> ") else s) for s in lines])
    while i < len(lines):
        if skip[i] or not lines[i].lstrip().startswith(">>> "):
            out.append(lines[i])
            i += 1
            continue
        pad = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        j = next((k for k in range(i, len(lines)) if not lines[k].strip()), len(lines))
        body = textwrap.dedent("\n".join(lines[i:j]))
        out += [pad + "```pycon", textwrap.indent(body, pad), pad + "```"]
        i = j
    return "\n".join(out)


def convert(text: str, module: str | None = None, members: Iterable[str] = (), owner: str | None = None) -> str:
    """A docstring's reST as Markdown (see the module docstring). ``module``: where bare names are looked up;
    ``owner`` and ``members``: the class whose members bare names may be."""
    def block(m: re.Match[str]) -> str:
        body = textwrap.dedent(m.group(2)).strip("\n")
        return f"{m.group(1)}$$\n{body}\n$$\n\n"

    text = doctests(tables(text if text.endswith("\n") else text + "\n"))
    text = ROLE.sub(lambda m: f"${m.group(1)}$", BLOCK.sub(block, text))
    return XREF.sub(lambda m: xref(m, module, members, owner), text)


class RestMath(Extension):
    def on_object(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is None:
            return
        module = obj.path if obj.is_module else obj.module.path
        owner = obj if obj.is_class else obj.parent if obj.parent is not None and obj.parent.is_class else None
        members = list(owner.members) if owner is not None else []
        obj.docstring.value = convert(obj.docstring.value, module, members, owner.path if owner is not None else None)
