"""Word paragraph styles: which styles are headings or titles and which carry list numbering.

A paragraph's formatting comes from its own properties (``w:pPr``) and, for whatever it does not set,
from its paragraph style and that style's ``w:basedOn`` ancestors (ECMA-376 Part 1 §17.7.2, style
hierarchy; §17.7.4.17 ``w:style``). A paragraph without ``w:pStyle`` uses the default paragraph style
(``w:default="1"``). Only the properties text extraction needs are resolved here: the outline level
(§17.3.1.20 ``w:outlineLvl``), the numbering reference (§17.3.1.19 ``w:numPr``) and the style names
"Title" and "heading N" that Word gives its built-in styles whatever the user interface language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_HEADING_NAME = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
_MAX_CHAIN = 50  # basedOn chains deeper than this are cut (they can only come from a loop)


@dataclass(frozen=True)
class NumberingReference:
    """A ``w:numPr``: ``num_id`` (a ``w:num`` id; "0" switches numbering off) and ``level`` (0-8, None
    when unset: the level then comes from the numbering level linked to the style, or 0)."""

    num_id: str | None
    level: int | None


@dataclass(frozen=True)
class ResolvedStyle:
    """What a paragraph style amounts to after its ``basedOn`` chain: ``outline_level`` 0-8 (None for
    body text), ``numbering`` (None when no style in the chain numbers paragraphs), ``is_title``."""

    style_id: str | None
    outline_level: int | None
    numbering: NumberingReference | None
    is_title: bool


@dataclass(frozen=True)
class _Style:
    name: str
    based_on: str | None
    outline_level: int | None
    numbering: NumberingReference | None


def val(element: Any, default: str | None = None) -> str | None:
    """The ``w:val`` attribute of ``element`` (``default`` when the element or attribute is absent)."""
    if element is None:
        return default
    value = element.get(f"{W}val")
    return default if value is None else str(value)


def int_val(element: Any) -> int | None:
    """``w:val`` as an integer, None when absent or not a number."""
    value = val(element)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def outline_level(properties: Any) -> int | None:
    """The outline level 0-8 set in ``w:pPr``/``w:outlineLvl`` (9 means body text and gives None)."""
    if properties is None:
        return None
    level = int_val(properties.find(f"{W}outlineLvl"))
    return level if level is not None and 0 <= level <= 8 else None


def numbering_reference(properties: Any) -> NumberingReference | None:
    """The ``w:numPr`` of a ``w:pPr`` element, None when there is none."""
    if properties is None:
        return None
    num_pr = properties.find(f"{W}numPr")
    if num_pr is None:
        return None
    level = int_val(num_pr.find(f"{W}ilvl"))
    return NumberingReference(num_id=val(num_pr.find(f"{W}numId")), level=level)


class Styles:
    """The paragraph and numbering styles of ``word/styles.xml`` (``root`` is its ``w:styles`` element,
    None for a document without styles)."""

    def __init__(self, root: Any | None) -> None:
        self._styles: dict[str, _Style] = {}
        self.default_paragraph_style: str | None = None
        self._resolved: dict[str | None, ResolvedStyle] = {}
        for style in root.iter(f"{W}style") if root is not None else ():
            style_id = style.get(f"{W}styleId")
            if style_id is None or style.get(f"{W}type", "paragraph") not in ("paragraph", "numbering"):
                continue
            properties = style.find(f"{W}pPr")
            self._styles[style_id] = _Style(
                name=val(style.find(f"{W}name"), "") or "",
                based_on=val(style.find(f"{W}basedOn")),
                outline_level=outline_level(properties),
                numbering=numbering_reference(properties),
            )
            if style.get(f"{W}default") in ("1", "true", "on") and style.get(f"{W}type", "paragraph") == "paragraph":
                self.default_paragraph_style = style_id

    def numbering_of(self, style_id: str) -> NumberingReference | None:
        """The numbering a numbering style (``w:numStyleLink`` target) points at."""
        return self.resolve(style_id).numbering

    def resolve(self, style_id: str | None) -> ResolvedStyle:
        """The style ``style_id`` (the default paragraph style when None) with its chain applied."""
        if style_id is None or style_id not in self._styles:
            style_id = self.default_paragraph_style if style_id is None else style_id
        if style_id in self._resolved:
            return self._resolved[style_id]
        level: int | None = None
        numbering: NumberingReference | None = None
        is_title = False
        seen: set[str] = set()
        current = style_id
        while current is not None and current in self._styles and current not in seen and len(seen) < _MAX_CHAIN:
            seen.add(current)
            style = self._styles[current]
            heading = _HEADING_NAME.match(style.name.strip())
            if level is None:
                level = style.outline_level if style.outline_level is not None else _heading_level(heading)
            numbering = numbering or style.numbering
            is_title = is_title or style.name.strip().lower() == "title"
            current = style.based_on
        resolved = ResolvedStyle(style_id=style_id, outline_level=level, numbering=numbering, is_title=is_title)
        self._resolved[style_id] = resolved
        return resolved


def _heading_level(match: re.Match[str] | None) -> int | None:
    return int(match.group(1)) - 1 if match else None
