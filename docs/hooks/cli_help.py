"""mkdocs hook: the command line page's ``<!-- help: COMMAND -->`` markers become that command's ``--help``, so the
page can never disagree with the parser."""

from __future__ import annotations

import re

MARK = re.compile(r"<!-- help: ?([a-z]*) -->")


def _help(command: str) -> str:
    from scorematch.cli.options import build_parser

    parser = build_parser()
    if command:
        parser = next(a for a in parser._subparsers._group_actions if a.choices).choices[command]
    text = parser.format_help().replace("\n\n\n", "\n\n")
    return f"```text\n{text.rstrip()}\n```"


def on_page_markdown(markdown: str, page, config, files) -> str:
    return MARK.sub(lambda m: _help(m.group(1)), markdown)
