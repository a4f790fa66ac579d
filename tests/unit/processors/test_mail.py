"""E-mail: UTF-16/32 files and parts, WHATWG charset labels, attached messages, line endings, Markdown."""

import base64
from email.message import EmailMessage
from pathlib import Path

from docbatch.models import Extraction
from tests.helpers.extraction import extract_bytes


def _extract(tmp_path: Path, data: bytes, name: str = "message.eml") -> Extraction:
    return extract_bytes(tmp_path, name, data)


def _body(extraction: Extraction) -> str:
    """The text after the header lines (From/To/Cc/Date/Subject) that head every message's text."""
    headers, _, body = extraction.text.partition("\n\n")
    assert all(line.split(":", 1)[0] in {"From", "To", "Cc", "Date", "Subject"} for line in headers.splitlines())
    return body


_PLAIN = (
    "From: Dana Sample <dana@example.org>\r\n"
    "To: Team <team@example.org>\r\n"
    "Subject: Quarterly numbers\r\n"
    "Date: Mon, 06 May 2024 09:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: text/plain; charset="UTF-8"\r\n'
    "\r\n"
    "Revenue was 4.2 million.\r\n"
    "Details follow on Friday.\r\n"
)


def test_message_file_saved_as_bomless_utf16_is_read_with_its_headers(tmp_path: Path) -> None:
    extraction = _extract(tmp_path, _PLAIN.encode("utf-16-le"))
    assert extraction.text == (
        "From: Dana Sample <dana@example.org>\nTo: Team <team@example.org>\n"
        "Date: Mon, 06 May 2024 09:00:00 +0000\nSubject: Quarterly numbers\n\n"
        "Revenue was 4.2 million.\nDetails follow on Friday."
    )
    assert extraction.metadata["subject"] == "Quarterly numbers"
    assert extraction.metadata["from"] == "Dana Sample <dana@example.org>"
    assert extraction.metadata["encoding"] == "utf-16-le"
    assert extraction.warnings == []


def test_message_file_saved_as_utf16_be_with_a_bom_is_read(tmp_path: Path) -> None:
    extraction = _extract(tmp_path, _PLAIN.encode("utf-16"))
    assert extraction.title == "Quarterly numbers"
    assert "Details follow on Friday." in extraction.text
    assert "\x00" not in extraction.text


def test_body_line_endings_are_normalised(tmp_path: Path) -> None:
    extraction = _extract(tmp_path, _PLAIN.encode())
    assert "\r" not in extraction.text
    assert extraction.metadata["date"] == "2024-05-06T09:00:00+00:00"


def _message_with_part(payload: bytes, charset: str, transfer: str = "base64") -> bytes:
    body = base64.b64encode(payload) if transfer == "base64" else payload
    return (
        b"From: a@example.org\nSubject: Part test\nMIME-Version: 1.0\n"
        + f'Content-Type: text/plain; charset="{charset}"\nContent-Transfer-Encoding: {transfer}\n\n'.encode()
        + body
        + b"\n"
    )


def test_text_parts_in_utf16_and_utf32_are_decoded(tmp_path: Path) -> None:
    for charset, codec in (("utf-16", "utf-16"), ("UTF-16LE", "utf-16-le"), ("utf-32", "utf-32")):
        extraction = _extract(tmp_path, _message_with_part("Grüße aus Köln".encode(codec), charset))
        assert _body(extraction) == "Grüße aus Köln", charset


def test_bomless_utf16_part_labelled_utf16_is_decoded_whatever_its_byte_order(tmp_path: Path) -> None:
    extraction = _extract(tmp_path, _message_with_part("Big-endian body".encode("utf-16-be"), "utf-16"))
    assert _body(extraction) == "Big-endian body"


def test_iso_8859_1_part_is_read_as_windows_1252(tmp_path: Path) -> None:
    data = _message_with_part(b"\x93Quoted\x94 \x96 \x805", "iso-8859-1", transfer="8bit")
    assert _body(_extract(tmp_path, data)) == "“Quoted” – €5"


def test_part_whose_bytes_do_not_fit_its_charset_gets_a_warning(tmp_path: Path) -> None:
    data = _message_with_part("Die Straße ist \u201cgesperrt\u201d, sagt die Stadt.".encode("cp1252"), "utf-8")
    extraction = _extract(tmp_path, data)
    assert _body(extraction) == "Die Straße ist “gesperrt”, sagt die Stadt."
    assert any("declared as utf-8 is not utf-8: read as cp1252" in warning for warning in extraction.warnings)


def test_utf8_bytes_labelled_iso_8859_1_are_read_as_utf8_with_a_warning(tmp_path: Path) -> None:
    data = _message_with_part("Hi! I’m Ihor — café".encode(), "iso-8859-1", transfer="8bit")
    extraction = _extract(tmp_path, data)
    assert _body(extraction) == "Hi! I’m Ihor — café"
    assert extraction.warnings == ["a text/plain part declared as iso-8859-1 is not iso-8859-1: read as utf-8"]


def _message(subject: str, sender: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "board@example.org"
    message["Subject"] = subject
    message["Date"] = "Mon, 06 May 2024 10:00:00 +0000"
    message.set_content(body)
    return message


def test_attached_messages_nested_two_levels_appear_with_headers_and_bodies(tmp_path: Path) -> None:
    innermost = _message("Original figures", "Kim <kim@example.org>", "Costs were 3.1 million.")
    innermost.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="figures.pdf")
    middle = _message("Fwd: Original figures", "Dana <dana@example.org>", "See the figures below.")
    middle.add_attachment(innermost)
    outer = _message("Fwd: Fwd: Original figures", "Lee <lee@example.org>", "Forwarding the thread.")
    outer.add_attachment(middle, filename="thread.eml")
    extraction = _extract(tmp_path, outer.as_bytes())
    text = extraction.text
    assert _body(extraction).startswith("Forwarding the thread.\n\n---------- Attached message ----------\n")
    assert "From: Dana <dana@example.org>\nTo: board@example.org\n" in text
    assert "Subject: Fwd: Original figures\n\nSee the figures below." in text
    assert "Subject: Original figures\n\nCosts were 3.1 million." in text
    assert text.index("Forwarding the thread.") < text.index("See the figures below.") < text.index("Costs were")
    assert text.count("---------- Attached message ----------") == 2
    assert extraction.metadata["attachments"] == ["thread.eml", "Original figures", "figures.pdf"]
    assert extraction.title == "Fwd: Fwd: Original figures"


def test_markdown_has_header_lines_then_paragraphs(tmp_path: Path) -> None:
    outer = _message("Plans", "Lee <lee@example.org>", "First paragraph\nstill first.\n\n- not a list")
    outer.add_attachment(_message("Old plans", "Kim <kim@example.org>", "Old body."))
    markdown = _extract(tmp_path, outer.as_bytes()).markdown
    assert markdown is not None
    assert markdown.startswith(
        "**From:** Lee \\<lee@example.org\\>\\\n**To:** board@example.org\\\n"
        "**Date:** Mon, 06 May 2024 10:00:00 +0000\\\n**Subject:** Plans\n\n"
        "First paragraph\\\nstill first.\n\n\\- not a list\n\n---\n\n**Attached message**\n\n**From:** Kim"
    )
    assert markdown.endswith("**Subject:** Old plans\n\nOld body.")


def test_digest_messages_are_all_read(tmp_path: Path) -> None:
    data = (
        b'From: list@example.org\nSubject: Digest\nMIME-Version: 1.0\nContent-Type: multipart/digest; boundary="d"\n\n'
        b"--d\n\nFrom: eve@example.org\nSubject: One\n\nFirst message.\n"
        b"--d\n\nFrom: frank@example.org\nSubject: Two\n\nSecond message.\n--d--\n"
    )
    extraction = _extract(tmp_path, data)
    assert "Subject: One\n\nFirst message." in extraction.text
    assert "Subject: Two\n\nSecond message." in extraction.text
    assert extraction.metadata["attachments"] == ["One", "Two"]


def test_encoded_attachment_names_are_listed(tmp_path: Path) -> None:
    message = _message("Rechnung für März", "jb@example.org", "Hallo, anbei die Rechnung für März.")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="Rechnung März.pdf")
    extraction = _extract(tmp_path, message.as_bytes())
    assert extraction.metadata["attachments"] == ["Rechnung März.pdf"]
    assert _body(extraction) == "Hallo, anbei die Rechnung für März."


def test_latin1_encoded_words_and_file_names_read_as_windows_1252(tmp_path: Path) -> None:
    data = (
        b"From: a@example.org\nSubject: =?iso-8859-1?Q?=93Offer=94_caf=E9_=80_5?=\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nBody.\n'
        b"--b\nContent-Type: text/plain\nContent-Disposition: attachment; filename*=iso-8859-1''%93list%94.txt\n\n"
        b"x\n--b--\n"
    )
    extraction = _extract(tmp_path, data)
    assert extraction.title == "“Offer” café € 5"
    assert extraction.metadata["attachments"] == ["“list”.txt"]
