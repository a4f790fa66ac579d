"""The parts of an RTF document that striprtf drops: footnotes and endnotes, comments, headers and footers.

striprtf treats these destinations (RTF 1.9.1: ``\\footnote``, ``\\annotation``, ``\\header*``,
``\\footer*``) as ignorable, so their text vanished from successes. Rather than write an RTF reader of
our own, each such group is marked with private-use sentinels, its destination word removed, and the
document converted once: striprtf then decodes the group's text with the document's own
fonts and code pages, and the sentinels cut it out again.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Destination word -> (section it is listed under, sentinel code point opening it).
_SECTIONS = {"footnote": ("Footnotes", 0xE000), "annotation": ("Comments", 0xE002)}
_HEADER_FOOTER = ("Headers and footers", 0xE004)
# Any marked group, from its opening sentinel to the first closing one (groups are never nested).
_MARKED_GROUP = re.compile("[\ue000\ue002\ue004].*?[\ue001\ue003\ue005]", re.DOTALL)
_GROUP_START = re.compile(r"\{(?:\\\*)?\\(footnote|annotation|header[lrf]?|footer[lrf]?)(?![a-z])")


def split_side_texts(raw: str, convert: Callable[[str], str]) -> tuple[str, dict[str, list[str]]]:
    """(body text, section title -> the texts of its groups in document order) from one striprtf pass;
    empty texts are left out and identical headers and footers kept once. ``raw`` is the RTF as
    latin-1 text; ``convert`` runs striprtf."""
    groups = _groups(raw)
    if not groups:
        return convert(raw), {}
    pieces: list[str] = []
    position = 0
    for word, start, word_end, end in groups:
        opening = _section(word)[1]
        # "\uN?" with the default \uc1: the "?" is the fallback character a reader skips.
        pieces += [raw[position:start], f"{{\\u{opening}?", raw[word_end : end - 1], f"\\u{opening + 1}?}}"]
        position = end
    pieces.append(raw[position:])
    marked = convert("".join(pieces))
    found: dict[str, list[str]] = {}
    for title, opening in {*_SECTIONS.values(), _HEADER_FOOTER}:
        pattern = re.compile(f"{chr(opening)}(.*?){chr(opening + 1)}", re.DOTALL)
        texts = [" ".join(match.group(1).split()) for match in pattern.finditer(marked)]
        texts = [text for text in texts if text]
        if title == _HEADER_FOOTER[0]:
            texts = list(dict.fromkeys(texts))
        if texts:
            found[title] = texts
    # The body is what striprtf gives with those groups left out, as it leaves them out by itself.
    return _MARKED_GROUP.sub("", marked), found


def _section(word: str) -> tuple[str, int]:
    return _SECTIONS.get(word, _HEADER_FOOTER)


def _groups(raw: str) -> list[tuple[str, int, int, int]]:
    """(destination word, group start, end of its opening control words, group end) of each outermost
    side group; a group inside another (a comment in a footnote) stays part of the outer one."""
    groups: list[tuple[str, int, int, int]] = []
    last_end = 0
    for match in _GROUP_START.finditer(raw):
        if match.start() < last_end:
            continue
        end = group_end(raw, match.start())
        groups.append((match.group(1), match.start(), match.end(), end))
        last_end = end
    return groups


def group_end(raw: str, start: int) -> int:
    """Index just past the brace closing the group that opens at ``start`` (escaped braces and
    backslashes skipped); the end of the text when the file is cut short."""
    depth = 0
    index = start
    length = len(raw)
    while index < length:
        char = raw[index]
        if char == "\\":
            index += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return length


def sections_text(sections: dict[str, list[str]]) -> str:
    """The sections as text: a title line, then one line per note (numbered for notes and comments)."""
    blocks = []
    for title in ("Footnotes", "Comments", "Headers and footers"):
        texts = sections.get(title)
        if not texts:
            continue
        if title == "Headers and footers":
            lines = texts
        else:
            lines = [f"[{number}] {text}" for number, text in enumerate(texts, start=1)]
        blocks.append("\n".join([title, *lines]))
    return "\n\n".join(blocks)
