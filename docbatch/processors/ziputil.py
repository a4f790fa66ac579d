"""Reading parts of ZIP-based documents without letting a decompression bomb through."""

from __future__ import annotations

import zipfile

from docbatch.errors import CorruptDocument, DocumentTooLarge, EncryptedDocument

MAX_PART_BYTES = 256 * 1024 * 1024
MAX_RATIO = 200  # ordinary XML compresses 5-20x; bombs reach thousands
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
MAX_PARTS = 100_000


def check_archive(archive: zipfile.ZipFile) -> None:
    """Refuse a decompression bomb before any library unpacks it: too many parts, too much unpacked in
    all, one part too large, or a part that expands far beyond what real documents do."""
    infos = archive.infolist()
    if len(infos) > MAX_PARTS:
        raise DocumentTooLarge(f"{len(infos)} parts in the ZIP container (more than {MAX_PARTS})")
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL_BYTES:
        raise DocumentTooLarge(f"unpacks to {total} bytes in all (over {MAX_TOTAL_BYTES}): a decompression bomb?")
    for info in infos:
        _check_part(info)


def _check_part(info: zipfile.ZipInfo) -> None:
    if info.file_size > MAX_PART_BYTES:
        raise DocumentTooLarge(f"part {info.filename!r} unpacks to {info.file_size} bytes")
    if info.compress_size and info.file_size > 1024 * 1024 and info.file_size / info.compress_size > MAX_RATIO:
        ratio = info.file_size // info.compress_size
        raise DocumentTooLarge(f"part {info.filename!r} expands {ratio}x (over {MAX_RATIO}x): a decompression bomb?")


def read_part(archive: zipfile.ZipFile, name: str) -> bytes:
    """Read one member after checking its declared size and compression ratio."""
    try:
        info = archive.getinfo(name)
    except KeyError as error:
        raise CorruptDocument(f"missing part {name!r}") from error
    _check_part(info)
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as error:
        raise CorruptDocument(f"cannot unpack {name!r}: {error}") from error
    except RuntimeError as error:  # zipfile raises RuntimeError for encrypted members
        if "encrypted" in str(error):
            raise EncryptedDocument(f"part {name!r} is password-protected") from error
        raise CorruptDocument(f"cannot unpack {name!r}: {error}") from error
