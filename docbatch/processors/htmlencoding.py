"""The character encoding of an HTML or XHTML file, as a browser determines it.

HTML Living Standard §13.2.3 "Determining the character encoding": a byte-order mark first, then the
transport layer's charset (none for files on disk; a MIME part's charset for e-mail), then the
prescan of the first 1024 bytes for ``<meta charset>`` or ``<meta http-equiv="Content-Type"
content="...; charset=...">`` (§13.2.3.2), then detection. An XHTML file with an XML declaration
(XML 1.0 §4.3.3) names its encoding there. Every label goes through the WHATWG label table.
"""

from __future__ import annotations

import re

from docbatch.processors.textdecode import bom_encoding, decode_text, whatwg_encoding

_PRESCAN_BYTES = 1024
_WHITESPACE = b"\t\n\f\r "
_XML_DECLARATION = re.compile(rb"""<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_META_ENDS = frozenset({b"\t", b"\n", b"\f", b"\r", b" ", b"/"})
_CHARSET_IN_CONTENT = re.compile(rb"charset", re.IGNORECASE)


def decode_html(data: bytes, transport_charset: str | None = None) -> tuple[str, str]:
    """Decode an HTML/XHTML document; returns (text with universal newlines, Python codec).

    ``transport_charset`` is a charset label from outside the file (a MIME Content-Type parameter).
    Raises CorruptDocument when no encoding reads the bytes.
    """
    return decode_text(data, declared_html_charset(data, transport_charset))


def declared_html_charset(data: bytes, transport_charset: str | None = None) -> str | None:
    """The charset label that governs an HTML/XHTML document without a BOM: the transport layer's,
    else its XML declaration's, else its <meta>'s; None when it has a BOM or declares nothing."""
    if bom_encoding(data):
        return None
    return transport_charset or xml_declared_encoding(data) or prescan_meta_charset(data)


def xml_declared_encoding(data: bytes) -> str | None:
    """The ``encoding`` of an XML declaration at the very start of ``data``, or None."""
    if not data.startswith(b"<?xml"):
        return None
    match = _XML_DECLARATION.match(data[:_PRESCAN_BYTES])
    return match.group(1).decode("ascii") if match else None


def prescan_meta_charset(data: bytes) -> str | None:
    """The charset label a ``<meta>`` in the first 1024 bytes declares, per HTML §13.2.3.2 (comments
    and other tags' attribute values are skipped, so a "<meta" inside them does not count), or None.

    Returns the WHATWG encoding name's label as found; UTF-16 labels become "utf-8" and
    x-user-defined becomes "windows-1252", as the standard says (a prescan that found ASCII bytes
    proves the file is not UTF-16).
    """
    head = data[:_PRESCAN_BYTES]
    position = 0
    while position < len(head):
        if head.startswith(b"<!--", position):
            end = head.find(b"-->", position + 2)
            if end < 0:
                return None
            position = end + 3
            continue
        if head[position : position + 5].lower() == b"<meta" and head[position + 5 : position + 6] in _META_ENDS:
            charset, position = _meta_charset(head, position + 6)
            if charset is not None:
                return charset
            continue
        if _starts_tag(head, position):
            position = _skip_tag(head, position)
            continue
        if head[position : position + 2] in (b"<!", b"</", b"<?"):
            end = head.find(b">", position)
            if end < 0:
                return None
            position = end + 1
            continue
        position += 1
    return None


def _starts_tag(head: bytes, position: int) -> bool:
    if head[position : position + 1] != b"<":
        return False
    offset = position + 2 if head[position + 1 : position + 2] == b"/" else position + 1
    return head[offset : offset + 1].isalpha()


def _skip_tag(head: bytes, position: int) -> int:
    """Past a tag's name and attributes (so that attribute values are not scanned as markup)."""
    while position < len(head) and head[position] not in _WHITESPACE and head[position] != ord(">"):
        position += 1
    while True:
        attribute, position = _attribute(head, position)
        if attribute is None:
            return position + 1


def _meta_charset(head: bytes, position: int) -> tuple[str | None, int]:
    """The charset a <meta> element's attributes declare (§13.2.3.2 step "<meta"), and where it ends."""
    seen: set[bytes] = set()
    got_pragma = False
    need_pragma: bool | None = None
    charset: str | None = None
    while True:
        attribute, position = _attribute(head, position)
        if attribute is None:
            break
        name, value = attribute
        if name in seen:
            continue
        seen.add(name)
        if name == b"http-equiv" and value == b"content-type":
            got_pragma = True
        elif name == b"content" and charset is None:
            found = _charset_from_content(value)
            if found is not None and whatwg_encoding(found):
                charset, need_pragma = found, True
        elif name == b"charset":
            label = value.decode("ascii", errors="replace")
            charset, need_pragma = (label if whatwg_encoding(label) else None), False
    if need_pragma is None or (need_pragma and not got_pragma) or charset is None:
        return None, position
    encoding = whatwg_encoding(charset)
    if encoding in ("UTF-16BE", "UTF-16LE"):
        return "utf-8", position
    if encoding == "x-user-defined":
        return "windows-1252", position
    return charset, position


def _attribute(head: bytes, position: int) -> tuple[tuple[bytes, bytes] | None, int]:
    """Read one attribute (§13.2.3.2 "get an attribute"): ((lower-cased name, value), next position),
    or (None, position of the ">" or the end) when the tag has no more attributes."""
    end = len(head)
    while position < end and (head[position] in _WHITESPACE or head[position] == ord("/")):
        position += 1
    if position >= end or head[position] == ord(">"):
        return None, position
    name = bytearray()
    while position < end:
        byte = head[position]
        if byte == ord("=") and name:
            value, position = _attribute_value(head, position + 1)
            return (bytes(name), value), position
        if byte in _WHITESPACE:
            while position < end and head[position] in _WHITESPACE:
                position += 1
            if position < end and head[position] == ord("="):
                value, position = _attribute_value(head, position + 1)
                return (bytes(name), value), position
            return (bytes(name), b""), position
        if byte in b"/>":
            return (bytes(name), b""), position
        name.append(_lower(byte))
        position += 1
    return None, end


def _attribute_value(head: bytes, position: int) -> tuple[bytes, int]:
    end = len(head)
    while position < end and head[position] in _WHITESPACE:
        position += 1
    if position >= end:
        return b"", end
    quote = head[position]
    value = bytearray()
    if quote in b"\"'":
        closing = head.find(bytes([quote]), position + 1)
        if closing < 0:
            return b"", end
        return head[position + 1 : closing].lower(), closing + 1
    if quote == ord(">"):
        return b"", position
    while position < end and head[position] not in _WHITESPACE and head[position] != ord(">"):
        value.append(_lower(head[position]))
        position += 1
    return bytes(value), position


def _lower(byte: int) -> int:
    return byte + 0x20 if 0x41 <= byte <= 0x5A else byte


def _charset_from_content(content: bytes) -> str | None:
    """HTML §2.5.6.8 "extracting a character encoding from a meta element": the label after
    "charset=" in a Content-Type-like string, or None."""
    position = 0
    while True:
        match = _CHARSET_IN_CONTENT.search(content, position)
        if match is None:
            return None
        position = match.end()
        while position < len(content) and content[position] in _WHITESPACE:
            position += 1
        if content[position : position + 1] != b"=":
            continue
        position += 1
        while position < len(content) and content[position] in _WHITESPACE:
            position += 1
        rest = content[position:]
        if rest[:1] in (b'"', b"'"):
            closing = rest.find(rest[:1], 1)
            return rest[1:closing].decode("ascii", errors="replace") if closing > 0 else None
        label = re.split(rb"[\t\n\f\r ;]", rest, maxsplit=1)[0]
        return label.decode("ascii", errors="replace") or None
