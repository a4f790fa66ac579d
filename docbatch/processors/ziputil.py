"""Reading parts of ZIP-based documents without letting a decompression bomb through."""

from __future__ import annotations

import zipfile

from docbatch.errors import CorruptDocument, DocumentTooLarge, EncryptedDocument

MAX_PART_BYTES = 256 * 1024 * 1024
MAX_RATIO = 200  # ordinary XML compresses 5-20x; bombs reach thousands


def read_part(archive: zipfile.ZipFile, name: str) -> bytes:
    """Read one member after checking its declared size and compression ratio."""
    try:
        info = archive.getinfo(name)
    except KeyError as error:
        raise CorruptDocument(f"missing part {name!r}") from error
    if info.file_size > MAX_PART_BYTES:
        raise DocumentTooLarge(f"part {name!r} unpacks to {info.file_size} bytes")
    if info.compress_size and info.file_size > 1024 * 1024 and info.file_size / info.compress_size > MAX_RATIO:
        raise DocumentTooLarge(f"part {name!r} has a compression ratio over {MAX_RATIO} (a decompression bomb?)")
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as error:
        raise CorruptDocument(f"cannot unpack {name!r}: {error}") from error
    except RuntimeError as error:  # zipfile raises RuntimeError for encrypted members
        if "encrypted" in str(error):
            raise EncryptedDocument(f"part {name!r} is password-protected") from error
        raise CorruptDocument(f"cannot unpack {name!r}: {error}") from error
