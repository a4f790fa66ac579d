"""Word's automatic list and heading numbers, computed as the reader sees them.

Word does not store the numbers it shows in front of list items and numbered headings: it computes
them from ``word/numbering.xml`` (ECMA-376 Part 1 §17.9). A paragraph refers to a numbering instance
(``w:num``, by ``w:numId``) and a level (``w:ilvl``, 0-8), directly or through its style. The instance
points at an abstract definition (``w:abstractNum``) whose levels (``w:lvl``) give the start value
(``w:start``), the number format (``w:numFmt``: decimal, lowerLetter, upperRoman, bullet, ...), the
label template (``w:lvlText``, where ``%1`` .. ``%9`` stand for the current counters of levels 1-9)
and when a level restarts (``w:lvlRestart``; by default whenever a higher level advances). An instance
may override a level's start (``w:lvlOverride/w:startOverride``) or its whole definition.

Counters belong to the abstract definition, so instances that share one continue each other's
numbering, as in Word; an instance with a start override restarts that level the first time it is used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from docbatch.processors.word_styles import NumberingReference, Styles, W, int_val, val

_LEVELS = 9
_ROMAN = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
          (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))  # fmt: skip
_ORDINAL_SUFFIX = {1: "st", 2: "nd", 3: "rd"}
_CARDINALS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
              "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")  # fmt: skip
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ENCLOSED_CIRCLE_START = 0x2460  # ① is U+2460; Unicode encloses 1-20 in that block


@dataclass(frozen=True)
class Level:
    """One ``w:lvl``: start value, number format, label template, restart rule (the 1-based level whose
    use restarts this one; None for the default "any higher level", 0 for never), legal style
    (``w:isLgl``: every number shown as decimal), the style linked to the level, the separator after
    the label (``w:suff``: "tab", "space" or "nothing")."""

    start: int = 0
    number_format: str = "decimal"
    text: str | None = None
    restart_after: int | None = None
    legal: bool = False
    style_id: str | None = None
    suffix: str = "tab"


@dataclass(frozen=True)
class ListLabel:
    """The number or bullet shown before a paragraph: ``text`` as displayed (e.g. "2.1.", "b)", "•"),
    ``level`` 0-8, ``bullet`` for bullet levels, ``ordinal`` the level's own counter when the label
    is nothing but that counter in decimal with "." or ")" (so Markdown can write an ordered item),
    ``delimiter`` that "." or ")", ``separated`` False when the level puts nothing after its label."""

    text: str
    level: int
    bullet: bool
    ordinal: int | None = None
    delimiter: str = "."
    separated: bool = True


@dataclass
class _Instance:
    abstract_id: str
    start_overrides: dict[int, int]
    level_overrides: dict[int, Level]
    restarted: set[int]


def _parse_level(element: Any) -> tuple[int, Level]:
    level_index = _int_attr(element, "ilvl")
    restart = element.find(f"{W}lvlRestart")
    legal = element.find(f"{W}isLgl")
    return level_index, Level(
        start=int_val(element.find(f"{W}start")) or 0,
        number_format=val(element.find(f"{W}numFmt"), "decimal") or "decimal",
        text=val(element.find(f"{W}lvlText")),
        restart_after=int_val(restart) if restart is not None else None,
        legal=legal is not None and val(legal, "1") not in ("0", "false", "off"),
        style_id=val(element.find(f"{W}pStyle")),
        suffix=val(element.find(f"{W}suff"), "tab") or "tab",
    )


def _int_attr(element: Any, name: str) -> int:
    try:
        return int(element.get(f"{W}{name}", "0"))
    except ValueError:
        return 0


class Numbering:
    """The numbering definitions of a document and the running counters.

    ``root`` is the ``w:numbering`` element (None when the document has no numbering part); ``styles``
    resolves numbering styles (``w:numStyleLink``). Call :meth:`label` once per numbered paragraph, in
    reading order: each call advances the counters.
    """

    def __init__(self, root: Any | None, styles: Styles) -> None:
        self._abstract: dict[str, dict[int, Level]] = {}
        self._style_links: dict[str, str] = {}
        self._instances: dict[str, _Instance] = {}
        self._counters: dict[str, list[int | None]] = {}
        self._styles = styles
        if root is None:
            return
        for abstract in root.iter(f"{W}abstractNum"):
            abstract_id = abstract.get(f"{W}abstractNumId", "")
            self._abstract[abstract_id] = dict(_parse_level(lvl) for lvl in abstract.findall(f"{W}lvl"))
            link = val(abstract.find(f"{W}numStyleLink"))
            if link:
                self._style_links[abstract_id] = link
        for num in root.iter(f"{W}num"):
            self._instances[num.get(f"{W}numId", "")] = _read_instance(num)

    def _definition(self, num_id: str, depth: int = 0) -> tuple[str, _Instance] | None:
        """The abstract definition id actually holding the levels of instance ``num_id``, following a
        numbering-style link (an abstract definition that only says "use the numbering of style X")."""
        instance = self._instances.get(num_id)
        if instance is None or depth > 5:
            return None
        link = self._style_links.get(instance.abstract_id)
        if link is not None:
            linked = self._styles.numbering_of(link)
            if linked is not None and linked.num_id and linked.num_id != num_id:
                found = self._definition(linked.num_id, depth + 1)
                if found is not None:
                    return found[0], instance
        return instance.abstract_id, instance

    def level_for_style(self, num_id: str, style_id: str | None) -> int:
        """The level of instance ``num_id`` linked to paragraph style ``style_id`` (0 when none is)."""
        definition = self._definition(num_id)
        if definition is None or style_id is None:
            return 0
        levels = self._abstract.get(definition[0], {})
        return next((index for index, level in sorted(levels.items()) if level.style_id == style_id), 0)

    def label(self, reference: NumberingReference, style_id: str | None) -> ListLabel | None:
        """Advance the counter for ``reference`` and return the label the paragraph shows (None when
        the reference numbers nothing: numId 0, an unknown instance, or a level with format "none"
        and no literal text)."""
        if not reference.num_id or reference.num_id == "0":
            return None
        definition = self._definition(reference.num_id)
        if definition is None:
            return None
        abstract_id, instance = definition
        level_index = (
            reference.level if reference.level is not None else self.level_for_style(reference.num_id, style_id)
        )
        level_index = min(max(level_index, 0), _LEVELS - 1)
        levels = {**self._abstract.get(abstract_id, {}), **instance.level_overrides}
        counters = self._counters.setdefault(abstract_id, [None] * _LEVELS)
        self._advance(counters, levels, instance, level_index)
        return _render(levels, counters, level_index)

    def _advance(self, counters: list[int | None], levels: dict[int, Level], instance: _Instance, index: int) -> None:
        level = levels.get(index, Level())
        if index in instance.start_overrides and index not in instance.restarted:
            instance.restarted.add(index)
            counters[index] = instance.start_overrides[index]
        else:
            current = counters[index]
            counters[index] = level.start if current is None else current + 1
        for deeper in range(index + 1, _LEVELS):
            restart_after = levels.get(deeper, Level()).restart_after
            # lvlRestart names the 1-based level whose use restarts this one; 0 means never.
            if restart_after is None or (restart_after > 0 and index < restart_after):
                counters[deeper] = None


def _read_instance(num: Any) -> _Instance:
    start_overrides: dict[int, int] = {}
    level_overrides: dict[int, Level] = {}
    for override in num.findall(f"{W}lvlOverride"):
        index = _int_attr(override, "ilvl")
        start = int_val(override.find(f"{W}startOverride"))
        if start is not None:
            start_overrides[index] = start
        definition = override.find(f"{W}lvl")
        if definition is not None:
            level_overrides[index] = _parse_level(definition)[1]
            if start is not None:
                level_overrides[index] = replace(level_overrides[index], start=start)
    return _Instance(
        abstract_id=val(num.find(f"{W}abstractNumId"), "") or "",
        start_overrides=start_overrides,
        level_overrides=level_overrides,
        restarted=set(),
    )


def _render(levels: dict[int, Level], counters: list[int | None], index: int) -> ListLabel | None:
    level = levels.get(index, Level())
    if level.number_format == "bullet":
        return ListLabel(text="•", level=index, bullet=True, separated=level.suffix != "nothing")
    template = level.text if level.text is not None else f"%{index + 1}."
    parts: list[str] = []
    position = 0
    while position < len(template):
        char = template[position]
        if char == "%" and position + 1 < len(template) and template[position + 1] in "123456789":
            referenced = int(template[position + 1]) - 1
            ref_level = levels.get(referenced, Level())
            value = counters[referenced] if counters[referenced] is not None else ref_level.start
            number_format = "decimal" if level.legal else ref_level.number_format
            parts.append(format_number(value or 0, number_format))
            position += 2
        else:
            parts.append(char)
            position += 1
    text = "".join(parts).strip()
    if not text:
        return None
    own = counters[index]
    delimiter = text[-1] if text[-1] in ".)" else ""
    # Markdown can only write "N." or "N)" items; any other label is kept as text.
    plain = own is not None and level.number_format == "decimal" and delimiter and text == f"{own}{delimiter}"
    ordinal = own if plain else None
    return ListLabel(
        text=text,
        level=index,
        bullet=False,
        ordinal=ordinal,
        delimiter=delimiter or ".",
        separated=level.suffix != "nothing",
    )


def format_number(value: int, number_format: str) -> str:
    """``value`` in a ``w:numFmt`` format (ECMA-376 Part 1 §17.18.59 ST_NumberFormat). Formats this
    module does not know (mostly East Asian counting systems) fall back to decimal digits."""
    if number_format in ("lowerLetter", "upperLetter"):
        letters = _letters(value)
        return letters.upper() if number_format == "upperLetter" else letters
    if number_format in ("lowerRoman", "upperRoman"):
        roman = _roman(value)
        return roman.upper() if number_format == "upperRoman" else roman
    if number_format == "decimalZero":
        return f"{value:02d}" if value >= 0 else str(value)
    if number_format == "ordinal":
        suffix = "th" if 10 <= value % 100 <= 20 else _ORDINAL_SUFFIX.get(value % 10, "th")
        return f"{value}{suffix}"
    if number_format in ("cardinalText", "ordinalText"):
        words = _english_words(value)
        return (_ordinal_words(words) if number_format == "ordinalText" else words).capitalize()
    if number_format == "decimalEnclosedCircle" and 1 <= value <= 20:
        return chr(_ENCLOSED_CIRCLE_START + value - 1)
    if number_format == "none":
        return ""
    return str(value)


def _letters(value: int) -> str:
    """Word's letter numbering: a..z, then aa..zz, then aaa.. (the letter repeated, not base 26)."""
    if value <= 0:
        return str(value)
    return chr(ord("a") + (value - 1) % 26) * ((value - 1) // 26 + 1)


def _roman(value: int) -> str:
    if value <= 0 or value >= 4000:
        return str(value)
    digits = []
    for amount, symbol in _ROMAN:
        count, value = divmod(value, amount)
        digits.append(symbol * count)
    return "".join(digits)


def _english_words(value: int) -> str:
    if value < 0 or value >= 1000:
        return str(value)
    if value < 20:
        return _CARDINALS[value]
    if value < 100:
        tens, units = divmod(value, 10)
        return _TENS[tens - 2] + (f"-{_CARDINALS[units]}" if units else "")
    hundreds, rest = divmod(value, 100)
    return f"{_CARDINALS[hundreds]} hundred" + (f" {_english_words(rest)}" if rest else "")


_IRREGULAR_ORDINALS = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                       "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}  # fmt: skip


def _ordinal_words(words: str) -> str:
    head, _, last = words.rpartition(" ") if " " in words else ("", "", words)
    stem, dash, unit = last.rpartition("-")
    word = unit or last
    if word in _IRREGULAR_ORDINALS:
        ordinal = _IRREGULAR_ORDINALS[word]
    elif word.endswith("y"):
        ordinal = word[:-1] + "ieth"
    else:
        ordinal = word + "th"
    last = f"{stem}{dash}{ordinal}" if dash else ordinal
    return f"{head} {last}".strip()
