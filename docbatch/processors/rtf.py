"""RTF through striprtf, with the two things it gets wrong put right before it reads the file:
fonts without a declared character set, and the side texts (notes, comments, headers, footers) it drops
(see rtf_notes)."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import JsonValue

from docbatch.errors import CorruptDocument
from docbatch.models import Extraction
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.rtf_notes import group_end, sections_text, split_side_texts

_BARE_BIN = re.compile(r"\\bin(?![0-9A-Za-z-])")
_FONT_TABLE = re.compile(r"\{\\fonttbl")
_FONT_ENTRY = re.compile(r"\{(?:\\\*)?\\f(\d+)")
# RTF 1.9.1 \fcharsetN values for the ANSI code pages a document may declare with \ansicpgN.
_CHARSET_OF_CODEPAGE = {
    "cp1252": 0, "cp932": 128, "cp949": 129, "cp1361": 130, "cp936": 134, "cp950": 136, "cp1253": 161,
    "cp1254": 162, "cp1258": 163, "cp1255": 177, "cp1256": 178, "cp1257": 186, "cp1251": 204,
    "cp874": 222, "cp1250": 238,
}  # fmt: skip


def complete_font_charsets(raw: str, encoding: str) -> str:
    """Give every font-table entry without ``\\fcharset`` the character set of the document's code
    page. striprtf pairs each font with the next ``\\fcharset`` it finds, so one font without one
    takes the next font's (a Cyrillic font's 204 lent to an Arial without any) and the other font's
    text is decoded with the wrong code page, silently. Entries are left alone when the document's
    code page has no RTF character set."""
    charset = _CHARSET_OF_CODEPAGE.get(encoding)
    table = _FONT_TABLE.search(raw)
    if charset is None or table is None:
        return raw
    end = group_end(raw, table.start())
    pieces, position = [], table.start()
    for entry in _FONT_ENTRY.finditer(raw, table.end(), end):
        closing = raw.find(";", entry.end(), end)
        if closing == -1 or "\\fcharset" in raw[entry.end() : closing]:
            continue
        pieces += [raw[position : entry.end()], f"\\fcharset{charset}"]
        position = entry.end()
    return raw[: table.start()] + "".join(pieces) + raw[position:]


class RtfProcessor(Processor):
    name = "rtf"
    kinds: ClassVar[tuple[str, ...]] = ("rtf",)
    library = "striprtf"
    description = "RTF text with control words removed; footnotes, comments, headers and footers in sections"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        from striprtf.striprtf import rtf_to_text

        # RTF is 7-bit ASCII with escapes; latin-1 maps every byte, so decoding cannot fail here.
        raw = source.read_bytes().decode("latin-1")
        if not raw.lstrip().startswith("{\\rtf"):
            raise CorruptDocument("not an RTF file: it does not start with {\\rtf")
        codepage = re.search(r"\\ansicpg(\d+)", raw[:2048])
        encoding = f"cp{codepage.group(1)}" if codepage else "cp1252"
        # "\bin" must carry the byte count of the binary data that follows (RTF 1.9.1, "\binN"); some
        # writers put hex picture data after a bare "\bin", on which striprtf fails. Without the word
        # the data is read as the hex it is, inside a picture group whose content is dropped anyway.
        raw = _BARE_BIN.sub("", raw)
        raw = complete_font_charsets(raw, encoding)

        def convert(rtf: str) -> str:
            try:
                return str(rtf_to_text(rtf, encoding=encoding, errors="replace"))
            except LookupError:
                return str(rtf_to_text(rtf, encoding="cp1252", errors="replace"))

        try:
            text, sections = split_side_texts(raw, convert)
        except (ValueError, IndexError) as error:
            raise CorruptDocument(f"the RTF control words cannot be parsed ({error})") from error
        text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip("\n")
        # Notes, comments, headers and footers after the body, in marked sections (as for Word).
        text = "\n\n".join(block for block in (text, sections_text(sections)) if block)
        warnings = [] if raw.count("{") == raw.count("}") else ["unbalanced braces: the file may be cut short"]
        pictures = raw.count("{\\pict")
        if pictures and not text.strip():
            warnings.append(f"no text, only {pictures} picture{'s' if pictures > 1 else ''} (not read: no OCR)")
        metadata: dict[str, JsonValue] = {"codepage": encoding}
        for title, texts in sections.items():
            metadata[title.lower().replace(" ", "_")] = len(texts)
        return Extraction(kind="rtf", metadata=metadata, text=text, warnings=warnings)
