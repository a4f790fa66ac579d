"""Turning bytes of unknown encoding into text: BOMs first, then UTF-8, then charset detection."""

from __future__ import annotations

import codecs
import re

from docbatch.errors import CorruptDocument

# UTF-32 LE's BOM begins with UTF-16 LE's, so the longer BOMs are tested first.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def bom_encoding(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return None


def looks_binary(head: bytes) -> bool:
    """True for content that is not text in any common encoding (NULs or many control bytes, no BOM)."""
    if not head or bom_encoding(head):
        return False
    if b"\x00" in head:
        # UTF-16 without a BOM has a NUL in every other byte of ASCII text; real binaries are irregular.
        even, odd = head[0::2].count(0), head[1::2].count(0)
        half = len(head) // 2 or 1
        return not (odd / half > 0.3 and even == 0) and not (even / half > 0.3 and odd == 0)
    return len(_CONTROL.findall(head)) > len(head) * 0.1


def decode_text(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode to text with universal newlines; returns (text, encoding). Raises CorruptDocument."""
    encoding = bom_encoding(data)
    candidates = [encoding] if encoding else []
    if declared:
        candidates.append(declared)
    candidates.append("utf-8")
    for candidate in candidates:
        try:
            return _normalise(data.decode(candidate)), candidate
        except (UnicodeDecodeError, LookupError):
            continue
    import charset_normalizer

    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        raise CorruptDocument("cannot decode as text: binary content or an unknown encoding")
    # Short texts often read equally cleanly in several code pages, and the language-coherence score
    # that breaks the tie is weak on them (it picked DOS code pages for French). Windows-1252 is by far
    # the most common legacy encoding (browsers read Latin-1 as it too), so it wins when as clean.
    tied = [m for m in matches if m.chaos <= best.chaos + 0.01]
    chosen = next((m for m in tied if m.encoding == "cp1252"), best)
    return _normalise(str(chosen)), chosen.encoding


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
