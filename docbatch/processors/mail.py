"""E-mail messages (.eml, RFC 5322 / MIME): headers, bodies, attached messages, attachment names.

The body is every inline text part in order (of a multipart/alternative, only the preferred form:
plain text, else HTML), then each attached message (``message/rfc822``, RFC 2046 §5.2.1, nested
to any depth) with its own headers and body under a marker line. Charset labels are read through
the WHATWG label table (iso-8859-1 means windows-1252, as mail clients read it), UTF-16/32 parts and
whole UTF-16/32 message files are decoded, and line endings are normalised to ``\\n``.
"""

from __future__ import annotations

import codecs
import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from typing import ClassVar

from pydantic import JsonValue

from docbatch.errors import CorruptDocument, EmptyDocument, EncryptedDocument
from docbatch.models import Extraction
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.htmlencoding import decode_html
from docbatch.processors.markup import escape_markdown
from docbatch.processors.textdecode import (
    bom_encoding,
    declared_charset_warning,
    decode_text,
    wide_unicode_encoding,
)
from docbatch.processors.web import html_fragment_text

_HEADERS = ("from", "to", "cc", "subject", "date", "message-id", "reply-to")
_SHOWN_HEADERS = ("From", "To", "Cc", "Date", "Subject")
_ENCRYPTED_TYPES = frozenset({"multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime"})
_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
_ATTACHED_MARKER = "---------- Attached message ----------"
# Header words (RFC 2047) and file names (RFC 2231) labelled iso-8859-1 are decoded by Python as
# Latin-1, where bytes 0x80-0x9F become C1 controls; WHATWG (and every mail client) reads them as
# Windows-1252. C1 controls have no business in a header, so they are mapped so everywhere.
_C1_AS_WINDOWS_1252 = {
    code: bytes([code]).decode("cp1252") for code in range(0x80, 0xA0) if code not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}
_MAX_DEPTH = 20  # attached messages nested deeper than this are listed, not rendered
_LOST_CONTENT_DEFECTS = {
    "StartBoundaryNotFoundDefect": "a multipart boundary is never found: parts may be missing",
    "CloseBoundaryNotFoundDefect": "the last multipart boundary is missing: the message may be cut short",
    "InvalidBase64PaddingDefect": "damaged base64 in a part",
    "InvalidBase64CharactersDefect": "damaged base64 in a part",
    "InvalidBase64LengthDefect": "damaged base64 in a part",
}


class EmailProcessor(Processor):
    name = "email"
    kinds: ClassVar[tuple[str, ...]] = ("eml",)
    library = "python"
    description = "headers, bodies, attached messages (nested), attachment names (stdlib email)"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        raw, file_encoding = _as_bytes_parser_input(source.read_bytes())
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)  # guaranteed by policy.default
        if message.get_content_type() in _ENCRYPTED_TYPES:
            raise EncryptedDocument(f"encrypted message ({message.get_content_type()})")
        reader = _Reader(transcoded=file_encoding is not None, wants_markdown=source.wants_markdown)
        metadata = _header_metadata(message, reader.warnings)
        if file_encoding:
            metadata["encoding"] = file_encoding
        content = reader.render(message, depth=0)
        attachments = _attachment_names(message)
        metadata["attachments"] = list[JsonValue](attachments)
        if not content.text and len(metadata) == 1 and not attachments:
            raise EmptyDocument("no headers, body or attachments")
        subject = metadata.get("subject")
        # The headers a reader sees head the text too (as they head each attached message), so that a
        # search for a sender or a date finds the message without looking into metadata.
        header_lines = "\n".join(f"{name}: {value}" for name, value in _shown_headers(message))
        text = "\n\n".join(block for block in (header_lines, content.text) if block)
        markdown = None
        if source.wants_markdown:
            markdown = "\n\n".join(block for block in (_markdown_headers(message), content.markdown) if block)
        return Extraction(
            kind="eml",
            title=subject if isinstance(subject, str) else None,
            metadata=metadata,
            text=text,
            markdown=markdown,
            warnings=list(dict.fromkeys(reader.warnings)),
        )


def _as_bytes_parser_input(data: bytes) -> tuple[bytes, str | None]:
    """A message file saved as UTF-16 or UTF-32 (with a BOM or recognised by its NUL bytes) re-encoded
    as UTF-8 so that the MIME parser sees its headers; returns (bytes, the file's encoding or None)."""
    bom = bom_encoding(data)
    encoding = bom if bom in ("utf-16", "utf-32") else wide_unicode_encoding(data)
    if encoding is None:
        return (data[len(codecs.BOM_UTF8) :] if bom == "utf-8-sig" else data), None
    try:
        return data.decode(encoding).encode("utf-8"), encoding
    except UnicodeDecodeError as error:
        raise CorruptDocument(f"the message file is {encoding} but broken at byte {error.start}") from error


def _header_metadata(message: EmailMessage, warnings: list[str]) -> dict[str, JsonValue]:
    metadata: dict[str, JsonValue] = {}
    for name in _HEADERS:
        value = _header(message, name, warnings)
        if value:
            metadata[name.replace("-", "_")] = value
    date = _iso_date(message)
    if date:
        metadata["date"] = date
    return metadata


def _header(message: Message, name: str, warnings: list[str]) -> str | None:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError) as error:  # malformed header values
        warnings.append(f"header {name}: {error}")
        return None
    text = " ".join(str(value).split()) if value is not None else ""
    return text.translate(_C1_AS_WINDOWS_1252) or None


def _iso_date(message: Message) -> str | None:
    """The Date header as ISO 8601 (RFC 5322 §3.3 parsed by the header's own datetime), or None."""
    try:
        header = message.get("date")
        moment = getattr(header, "datetime", None)
    except (ValueError, IndexError, TypeError):
        return None
    return moment.isoformat() if moment is not None else None


@dataclass
class _Content:
    text: str = ""
    markdown: str = ""


@dataclass
class _Reader:
    """Renders a message's readable parts; ``transcoded`` means the file was UTF-16/32 and its unencoded
    parts are now UTF-8 whatever charset they declare."""

    transcoded: bool
    wants_markdown: bool = True
    warnings: list[str] = field(default_factory=list)

    def render(self, message: Message, depth: int) -> _Content:
        texts: list[str] = []
        markdowns: list[str] = []
        attached: list[Message] = []
        self._collect(message, texts, markdowns, attached)
        for defect in message.defects:
            reason = _LOST_CONTENT_DEFECTS.get(type(defect).__name__)
            if reason:
                self.warnings.append(reason)
        for inner in attached:
            if depth + 1 > _MAX_DEPTH:
                self.warnings.append(f"attached messages nested deeper than {_MAX_DEPTH} levels are not shown")
                break
            nested = self.render(inner, depth + 1)
            header_lines = [f"{name}: {value}" for name, value in _shown_headers(inner)]
            texts.append("\n".join([_ATTACHED_MARKER, *header_lines, "", nested.text]).strip("\n"))
            if self.wants_markdown:
                blocks = ("---", "**Attached message**", _markdown_headers(inner), nested.markdown)
                markdowns.append("\n\n".join(block for block in blocks if block))
        return _Content("\n\n".join(texts), "\n\n".join(markdowns))

    def _collect(self, part: Message, texts: list[str], markdowns: list[str], attached: list[Message]) -> None:
        """Walk ``part`` in order: readable inline text into texts/markdowns, attached messages aside."""
        content_type = part.get_content_type()
        if content_type in _MESSAGE_TYPES:
            attached.extend(_inner_messages(part))
            return
        if part.is_multipart():
            children = [child for child in part.get_payload() if isinstance(child, Message)]
            if content_type == "multipart/alternative":
                children = _preferred_alternative(children)
            elif content_type in ("multipart/related", "multipart/signed"):
                children = children[:1]  # the root (RFC 2387) or the signed content (RFC 1847)
            for child in children:
                self._collect(child, texts, markdowns, attached)
            return
        if part.get_filename() or part.get_content_disposition() == "attachment":
            return  # listed by name only
        if part.get_content_maintype() != "text":
            return
        text, markdown = self._part_text(part)
        if text.strip():
            texts.append(text.strip("\n"))
            markdowns.append(markdown)

    def _part_text(self, part: Message) -> tuple[str, str]:
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        content_type = part.get_content_type()
        charset = part.get_param("charset")
        label = charset if isinstance(charset, str) else None
        if self.transcoded and part.get("content-transfer-encoding", "").lower() not in ("base64", "quoted-printable"):
            label = "utf-8"
        try:
            if content_type == "text/html":
                html, used = decode_html(data, transport_charset=label)
                text, markdown = html_fragment_text(html, wants_markdown=self.wants_markdown)
            else:
                text, used = decode_text(data, declared=label)
                markdown = _plain_markdown(text) if self.wants_markdown else ""
        except CorruptDocument:
            self.warnings.append(f"a {content_type} part could not be decoded as text: skipped")
            return "", ""
        warning = declared_charset_warning(label, used, f"a {content_type} part")
        if warning:
            self.warnings.append(warning)
        return text, markdown


def _inner_messages(part: Message) -> list[Message]:
    """The message a message/rfc822 part carries. Parsed already unless the part was (against RFC 2046
    §5.2.1) given a base64 or quoted-printable transfer encoding; then its decoded bytes are parsed."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [inner for inner in payload if isinstance(inner, Message)]
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes) or not data.strip():
        return []
    return [email.message_from_bytes(data, policy=email.policy.default)]


def _preferred_alternative(children: list[Message]) -> list[Message]:
    """Of a multipart/alternative, the form to read: plain text, else HTML, else the richest other
    (RFC 2046 §5.1.4 orders alternatives from plainest to richest)."""
    for wanted in ("text/plain", "text/html"):
        for child in children:
            if child.get_content_type() == wanted and child.get_content_disposition() != "attachment":
                return [child]
    return children[-1:]


def _shown_headers(message: Message) -> list[tuple[str, str]]:
    shown = []
    for name in _SHOWN_HEADERS:
        value = _header(message, name, [])
        if value:
            shown.append((name, value))
    return shown


def _markdown_headers(message: Message) -> str:
    """``**From:** ...`` lines (hard line breaks between them)."""
    lines = [f"**{name}:** {escape_markdown(value)}" for name, value in _shown_headers(message)]
    return "\\\n".join(lines)


def _plain_markdown(text: str) -> str:
    """Plain text as Markdown: paragraphs where the text has blank lines, its line breaks kept as
    hard breaks, everything escaped so that nothing renders as markup it is not."""
    paragraphs = []
    for block in text.split("\n\n"):
        lines = [escape_markdown(line.strip()) for line in block.split("\n") if line.strip()]
        if lines:
            paragraphs.append("\\\n".join(lines))
    return "\n\n".join(paragraphs)


def _filename(part: Message) -> str | None:
    name = part.get_filename()
    return name.translate(_C1_AS_WINDOWS_1252) if name else None


def _attachment_names(message: Message) -> list[str]:
    """Every attachment by its file name (RFC 2231/2047 decoded) or content type, and every attached
    message by its file name or subject, in order, including those inside attached messages."""
    names: list[str] = []
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type in _MESSAGE_TYPES and part.is_multipart():
            inner = next(iter(_inner_messages(part)), None)
            subject = _header(inner, "subject", []) if inner is not None else None
            names.append(_filename(part) or subject or content_type)
        elif not part.is_multipart() and (part.get_filename() or part.get_content_disposition() == "attachment"):
            names.append(_filename(part) or content_type)
    return names
