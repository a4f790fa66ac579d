import zipfile
from pathlib import Path

import pytest

from docbatch.errors import CorruptDocument, EncryptedDocument, UnsupportedDocument
from docbatch.processors.sniff import detect
from tests.helpers.extraction import extract_bytes

PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"


def _detect(tmp_path: Path, name: str, content: bytes) -> tuple[str, str | None]:
    path = tmp_path / name
    path.write_bytes(content)
    found = detect(path, path.suffix.lower().lstrip("."), content[:4096])
    return found.kind, found.warning


def test_a_pdf_renamed_txt_is_still_a_pdf(tmp_path: Path) -> None:
    kind, warning = _detect(tmp_path, "report.txt", PDF_HEAD)
    assert kind == "pdf"
    assert warning is not None and "extension .txt" in warning


def test_html_saved_as_pdf_is_read_as_html_with_a_warning(tmp_path: Path) -> None:
    kind, warning = _detect(tmp_path, "page.pdf", b"<!DOCTYPE html><html><body>hi</body></html>")
    assert kind == "html"
    assert warning is not None


def test_random_bytes_named_pdf_are_corrupt(tmp_path: Path) -> None:
    with pytest.raises(CorruptDocument, match="not a valid pdf"):
        _detect(tmp_path, "x.pdf", bytes(range(256)) * 4)


def test_unknown_binary_is_unsupported(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedDocument):
        _detect(tmp_path, "photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)))


def test_ole_container_named_docx_is_a_password_protected_office_file(tmp_path: Path) -> None:
    with pytest.raises(EncryptedDocument):
        _detect(tmp_path, "secret.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)


def test_zip_content_decides_between_office_formats(tmp_path: Path) -> None:
    path = tmp_path / "slides.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ppt/presentation.xml", "<p/>")
    found = detect(path, "docx", path.read_bytes()[:4096])
    assert found.kind == "pptx"


def test_text_with_unknown_extension_is_text_and_utf16_is_not_binary(tmp_path: Path) -> None:
    assert _detect(tmp_path, "README", b"plain words\n")[0] == "text"
    assert _detect(tmp_path, "notes.txt", "hello world".encode("utf-16-le"))[0] == "text"


def test_a_few_stray_nuls_leave_a_text_file_text_but_binaries_stay_binary(tmp_path: Path) -> None:
    assert _detect(tmp_path, "one.csv", b"a,b\n1,\x002\n")[0] == "csv"
    assert _detect(tmp_path, "lines.txt", b"hello world\nsecond\x00line\n" * 50)[0] == "text"
    compressed = bytes((value * 167 + 13) % 256 for value in range(4096))  # every byte value, evenly spread
    with pytest.raises(CorruptDocument, match="not a valid text file"):
        _detect(tmp_path, "packed.txt", compressed)
    with pytest.raises(UnsupportedDocument):
        _detect(tmp_path, "table.bin", b"\x00\x00\x00\x01ab" * 600)


def test_a_stray_nul_is_removed_with_a_counted_warning_not_a_lost_document(tmp_path: Path) -> None:
    extraction = extract_bytes(tmp_path, "one-nul.txt", b"hello world\x00\n")
    assert extraction.text == "hello world\n"
    assert extraction.warnings[0].startswith("removed 1 control character")
