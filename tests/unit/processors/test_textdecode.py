import pytest

from docbatch.errors import CorruptDocument
from docbatch.processors.textdecode import codec_for_label, decode_text, wide_unicode_encoding


def test_latin1_text_is_detected_not_mangled() -> None:
    text, encoding = decode_text("Chère Madame, merci pour les livres à la bibliothèque.".encode("latin-1"))
    assert text == "Chère Madame, merci pour les livres à la bibliothèque."
    assert encoding == "cp1252"


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-32"])
def test_bom_decides_the_encoding(codec: str) -> None:
    text, _ = decode_text("Grüße\r\nzweite Zeile".encode(codec))
    assert text == "Grüße\nzweite Zeile"


def test_undecodable_bytes_are_corrupt() -> None:
    with pytest.raises(CorruptDocument, match="cannot decode"):
        decode_text(bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D]) * 3 + b"\x00\x01\x02\x03" * 50)


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("iso-8859-1", "cp1252"),
        (" Latin1 ", "cp1252"),
        ("US-ASCII", "cp1252"),
        ("l1", "cp1252"),
        ("utf8", "utf-8"),
        ("unicode-1-1-utf-8", "utf-8"),
        ("x-sjis", "cp932"),
        ("gb2312", "gb18030"),
        ("iso-8859-9", "cp1254"),
        ("tis-620", "cp874"),
        ("utf-16", "utf-16-le"),
        ("ks_c_5601-1987", "cp949"),
        ("x-mac-cyrillic", "mac-cyrillic"),
        ("utf-32", "utf-32"),  # not in the WHATWG table, but Python reads it
    ],
)
def test_charset_labels_follow_the_whatwg_table(label: str, codec: str) -> None:
    assert codec_for_label(label) == codec


def test_unknown_and_replacement_labels_have_no_codec() -> None:
    assert codec_for_label("no-such-charset") is None
    assert codec_for_label("iso-2022-kr") is None  # WHATWG's "replacement" encoding


def test_declared_latin1_reads_c1_bytes_as_windows_1252() -> None:
    text, encoding = decode_text(b"\x93Fresh\x94 \x96 \x805\x85", declared="iso-8859-1")
    assert text == "“Fresh” – €5…"
    assert encoding == "cp1252"


def test_unassigned_windows_1252_byte_does_not_discard_the_declaration() -> None:
    # 0x81 has no character in Windows-1252; WHATWG decodes it as U+0081 rather than failing.
    text, encoding = decode_text("caf\xe9 \x81 \x93ok\x94".encode("latin-1"), declared="windows-1252")
    assert text == "café \x81 “ok”"
    assert encoding == "cp1252"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_bomless_utf16_and_utf32_are_recognised_by_their_nul_bytes(codec: str) -> None:
    data = "Subject: plain ASCII text\nand a second line with Zoë in it.\n".encode(codec)
    assert wide_unicode_encoding(data) == codec
    text, used = decode_text(data)
    assert text == "Subject: plain ASCII text\nand a second line with Zoë in it.\n"
    assert "\x00" not in text and used == codec


def test_nul_free_text_is_not_taken_for_utf16() -> None:
    assert wide_unicode_encoding(b"plain bytes without any NUL") is None


def test_utf8_bytes_under_a_legacy_label_are_read_as_utf8() -> None:
    text, encoding = decode_text("I’m in Zürich".encode(), declared="iso-8859-1")
    assert (text, encoding) == ("I’m in Zürich", "utf-8")


def test_ascii_text_keeps_its_declared_label() -> None:
    assert decode_text(b"plain", declared="koi8-r") == ("plain", "koi8-r")
