import pytest

from docbatch.errors import CorruptDocument
from docbatch.processors.textdecode import decode_text


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
