"""Office Math (OMML) as readable linear text.

Word stores equations as Office Math Markup (ECMA-376 Part 1 §22.1, namespace
``http://schemas.openxmlformats.org/officeDocument/2006/math``): a tree of fractions (``m:f``),
scripts (``m:sSup``, ``m:sSub``, ``m:sSubSup``, ``m:sPre``), radicals (``m:rad``), n-ary operators
(``m:nary``), delimiters (``m:d``), matrices (``m:m``), functions (``m:func``) and so on, with the
characters themselves in ``m:t``. We write it in a linear form close to UnicodeMath (Unicode Technical
Note #28, "UnicodeMath, a Nearly Plain-Text Encoding of Mathematics"), the form Word itself offers
for typing equations: ``(a+b)/c``, ``x^2``, ``x_i``, ``√(x)``, ``∑_(i=1)^n x_i``; a script or operand
longer than one symbol is put in parentheses. Matrices are written ``[a & b; c & d]``: cells joined
by "&", rows by ";" (brackets omitted inside a delimiter, which supplies its own).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

M = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_SIMPLE_OPERAND = re.compile(r"^(\w+|\W)$")
# Invisible operators (function application, invisible times/separator/plus) read best as a space
# or as nothing in plain text.
_INVISIBLE = str.maketrans({"\u2061": " ", "\u2062": "", "\u2063": "", "\u2064": ""})
_MAX_DEPTH = 200
_RADICALS = {"2": "√", "3": "∛", "4": "∜"}


def math_text(element: Any) -> str:
    """An ``m:oMath`` or ``m:oMathPara`` element (or any OMML element) as linear text; the equations
    of an ``m:oMathPara`` are put on separate lines."""
    if element.tag == f"{M}oMathPara":
        equations = [_linear(child, 0) for child in element if child.tag == f"{M}oMath"]
        return "\n".join(equation for equation in equations if equation)
    return _linear(element, 0)


def _group(text: str) -> str:
    """An operand as written after "/", "^" or "_": bare when it is one symbol or word, else in parentheses."""
    text = text.strip()
    return text if _SIMPLE_OPERAND.match(text) else f"({text})"


def _child(element: Any, name: str) -> Any:
    return element.find(f"{M}{name}")


def _part(element: Any, name: str, depth: int) -> str:
    child = _child(element, name)
    return _linear(child, depth + 1) if child is not None else ""


def _property(element: Any, properties: str, name: str) -> str | None:
    """The ``m:val`` of ``element/properties/name`` (e.g. ``m:naryPr/m:chr``); None when absent."""
    holder = _child(element, properties)
    found = holder.find(f"{M}{name}") if holder is not None else None
    if found is None:
        return None
    value = found.get(f"{M}val")
    return "" if value is None and name.endswith("Chr") else value


def _is_on(value: str | None) -> bool:
    return value is not None and value not in ("0", "off", "false")


def _flag(element: Any, properties: str, name: str) -> bool:
    holder = _child(element, properties)
    found = holder.find(f"{M}{name}") if holder is not None else None
    return found is not None and (found.get(f"{M}val") is None or _is_on(found.get(f"{M}val")))


def _fraction(element: Any, depth: int) -> str:
    numerator, denominator = _part(element, "num", depth), _part(element, "den", depth)
    if _property(element, "fPr", "type") == "noBar":
        return f"({numerator} ¦ {denominator})"  # UTN #28: a stack without a fraction bar
    return f"{_group(numerator)}/{_group(denominator)}"


def _scripts(element: Any, depth: int) -> str:
    sub, sup = _child(element, "sub"), _child(element, "sup")
    text = ""
    if sub is not None:
        text += "_" + _group(_linear(sub, depth + 1))
    if sup is not None:
        text += "^" + _group(_linear(sup, depth + 1))
    return text


def _with_scripts(element: Any, depth: int) -> str:
    return _group(_part(element, "e", depth)) + _scripts(element, depth)


def _prescripts(element: Any, depth: int) -> str:
    return f"({_scripts(element, depth)}){_group(_part(element, 'e', depth))}"


def _radical(element: Any, depth: int) -> str:
    degree = "" if _flag(element, "radPr", "degHide") else _part(element, "deg", depth).strip()
    body = _part(element, "e", depth).strip()
    if degree in _RADICALS or not degree:
        return f"{_RADICALS.get(degree, '√')}({body})"
    return f"√({degree}&{body})"  # UTN #28 writes an n-th root as √(n&x)


def _nary(element: Any, depth: int) -> str:
    operator = _property(element, "naryPr", "chr") or "∫"  # §22.1.2.20: an absent chr means an integral
    text = operator
    if not _flag(element, "naryPr", "subHide") and _child(element, "sub") is not None:
        text += "_" + _group(_part(element, "sub", depth))
    if not _flag(element, "naryPr", "supHide") and _child(element, "sup") is not None:
        text += "^" + _group(_part(element, "sup", depth))
    body = _part(element, "e", depth).strip()
    return f"{text} {body}" if body else text


def _delimiter(element: Any, depth: int) -> str:
    begin = _property(element, "dPr", "begChr")
    end = _property(element, "dPr", "endChr")
    separator = _property(element, "dPr", "sepChr")
    operands = []
    for operand in element.findall(f"{M}e"):
        content = [child for child in operand if not child.tag.endswith("Pr")]
        if len(content) == 1 and content[0].tag == f"{M}m":
            operands.append(_matrix_body(content[0], depth + 1))
        else:
            operands.append(_linear(operand, depth + 1))
    joined = (separator if separator is not None else "|").join(operands)
    return f"{'(' if begin is None else begin}{joined}{')' if end is None else end}"


def _matrix_body(element: Any, depth: int) -> str:
    rows = []
    for row in element.findall(f"{M}mr"):
        rows.append(" & ".join(_linear(cell, depth + 1).strip() for cell in row.findall(f"{M}e")))
    return "; ".join(rows)


def _matrix(element: Any, depth: int) -> str:
    return f"[{_matrix_body(element, depth)}]"


def _equation_array(element: Any, depth: int) -> str:
    return "; ".join(_linear(row, depth + 1).strip() for row in element.findall(f"{M}e"))


def _function(element: Any, depth: int) -> str:
    name = _part(element, "fName", depth).strip()
    argument = _part(element, "e", depth).strip()
    return f"{name}{argument}" if argument.startswith(("(", "[", "{")) else f"{name} {argument}"


def _accent(element: Any, depth: int) -> str:
    accent = _property(element, "accPr", "chr")
    return _group(_part(element, "e", depth)) + ("\u0302" if accent is None else accent)


def _bar(element: Any, depth: int) -> str:
    position = _property(element, "barPr", "pos") or "bot"  # §22.1.2.82: bottom unless said otherwise
    return _group(_part(element, "e", depth)) + ("\u0305" if position == "top" else "\u0332")


def _group_character(element: Any, depth: int) -> str:
    character = _property(element, "groupChrPr", "chr")
    return ("\u23df" if character is None else character) + _group(_part(element, "e", depth))


def _limit(element: Any, depth: int, mark: str) -> str:
    return _part(element, "e", depth).strip() + mark + _group(_part(element, "lim", depth))


def _phantom(element: Any, depth: int) -> str:
    # A phantom with show off only reserves space: the reader sees nothing.
    if _child(element, "phantPr") is not None and _property(element, "phantPr", "show") in ("0", "off", "false"):
        return ""
    return _part(element, "e", depth)


def _run(element: Any, depth: int) -> str:
    texts = [child.text or "" for child in element if child.tag in (f"{M}t", f"{_W}t")]
    return "".join(texts).translate(_INVISIBLE)


_HANDLERS: dict[str, Callable[[Any, int], str]] = {
    f"{M}r": _run,
    f"{M}f": _fraction,
    f"{M}sSup": _with_scripts,
    f"{M}sSub": _with_scripts,
    f"{M}sSubSup": _with_scripts,
    f"{M}sPre": _prescripts,
    f"{M}rad": _radical,
    f"{M}nary": _nary,
    f"{M}d": _delimiter,
    f"{M}m": _matrix,
    f"{M}eqArr": _equation_array,
    f"{M}func": _function,
    f"{M}acc": _accent,
    f"{M}bar": _bar,
    f"{M}groupChr": _group_character,
    f"{M}limLow": lambda element, depth: _limit(element, depth, "_"),
    f"{M}limUpp": lambda element, depth: _limit(element, depth, "^"),
    f"{M}phant": _phantom,
}


def _linear(element: Any, depth: int) -> str:
    """The element's content: a known construct through its handler, any other element (``m:e``,
    ``m:box``, ``m:borderBox``, unknown extensions) as the concatenation of its children. Properties
    (``*Pr`` elements) hold no text. Past ``_MAX_DEPTH`` levels the text is read flat."""
    if depth > _MAX_DEPTH:
        return "".join(t.text or "" for t in element.iter(f"{M}t"))
    handler = _HANDLERS.get(element.tag)
    if handler is not None:
        return handler(element, depth)
    return "".join(_linear(child, depth + 1) for child in element if not _local(child.tag).endswith("Pr"))


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
