"""Markdown building blocks shared by the processors that know their document's structure.

The output follows CommonMark 0.31 (paragraphs separated by blank lines, ATX headings) and the GitHub
Flavored Markdown table extension (a header row, then a delimiter row of ``---`` cells).
"""

from __future__ import annotations

import re

# Characters that start block syntax at the beginning of a line, or inline syntax anywhere (``&``
# starts an entity reference: "&copy;" would render as the sign).
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>|&])")
# A list or heading marker, or a line of dashes or equals signs (a thematic break or a setext
# underline, which would turn the text into a rule or the paragraph before it into a heading).
_BLOCK_START = re.compile(
    r"^(\s*)(#{1,6}|[>+\-=]|\d+[.)])(?=\s|$)"  # a heading, quote or list marker
    r"|^(\s*)([-=])(?=[\s\-=]*$)"  # a thematic break or setext underline
    r"|^(\s*)(~)(?=~~)"  # a fenced code block (backtick fences are escaped as inline specials)
)


def escape_markdown(text: str) -> str:
    """Escape ``text`` so that a Markdown renderer shows it literally (one line or many).

    Backslash-escapes the inline specials (backslash, backtick, ``*``, ``_``, brackets, angle
    brackets, pipe, ampersand) and a block marker at the start of a line (``#`` to ``######``, ``>``,
    ``-``, ``+``, ``=``, ``1.``, a line of ``---`` or ``===``, a ``~~~`` fence), per CommonMark §2.4
    (any ASCII punctuation may be backslash-escaped).
    """
    lines = []
    for line in text.split("\n"):
        escaped = _INLINE_SPECIAL.sub(r"\\\1", line)
        lines.append(_BLOCK_START.sub(_escape_block_marker, escaped))
    return "\n".join(lines)


def _escape_block_marker(match: re.Match[str]) -> str:
    indent, marker = next((match.group(i), match.group(i + 1)) for i in (1, 3, 5) if match.group(i + 1))
    if marker[0].isdigit():
        return f"{indent}{marker[:-1]}\\{marker[-1]}"
    return f"{indent}\\{marker}"


def markdown_table(rows: list[list[str]]) -> str:
    """A GFM pipe table from rows of cell texts; the first row is the header.

    Rows shorter than the widest are padded with empty cells; line breaks inside a cell become
    ``<br>`` (a pipe table cell cannot span lines) and pipes are escaped. An empty ``rows`` gives "".
    A table with a single row still gets a header rule (GFM needs one to render a table at all).
    """
    if not rows:
        return ""
    width = max(len(row) for row in rows) or 1
    rendered = []
    for row in rows:
        cells = [_table_cell(cell) for cell in row] + [""] * (width - len(row))
        rendered.append("| " + " | ".join(cells) + " |")
    rendered.insert(1, "|" + "|".join([" --- "] * width) + "|")
    return "\n".join(rendered)


def _table_cell(text: str) -> str:
    lines = [escape_markdown(" ".join(line.split())) for line in text.strip().splitlines()]
    return "<br>".join(line for line in lines if line)


def paragraphs_markdown(text: str) -> str:
    """Plain text as Markdown paragraphs: every non-empty line becomes its own escaped paragraph, so a
    renderer neither merges lines nor reads stray markup in them."""
    return "\n\n".join(escape_markdown(line.strip()) for line in text.splitlines() if line.strip())


def heading(text: str, level: int) -> str:
    """An ATX heading of ``level`` 1-6 (deeper levels are clamped to 6)."""
    return "#" * max(1, min(level, 6)) + " " + escape_markdown(" ".join(text.split()))
