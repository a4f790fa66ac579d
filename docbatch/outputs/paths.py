"""Mapping a source id to its output file, proven to stay inside the output root."""

from __future__ import annotations

import functools
import os
import re
import stat
from pathlib import Path, PurePosixPath

from docbatch.config import OutputFormat
from docbatch.errors import DocumentError
from docbatch.models import ErrorKind

REPORT_NAME = "report.json"
JSONL_STREAM_NAME = "documents.jsonl"
_SUFFIX = {OutputFormat.JSON: ".json", OutputFormat.MD: ".md", OutputFormat.TXT: ".txt"}
# A manifest row outside the manifest's folder (`../x.pdf`) keeps `..` in its id; its output goes
# below `%2E%2E` (`..` percent-encoded) instead. A real folder of that name gets one more `%25` (an
# encoded `%`), so the mapping stays one-to-one and such outputs never meet an in-folder one.
_PARENT = "%2E%2E"
_ESCAPED_PARENT = re.compile(r"(%25)*%2E%2E")


def _output_part(part: str) -> str:
    if part == "..":
        return _PARENT
    if _ESCAPED_PARENT.fullmatch(part):
        return "%25" + part
    return part


class UnsafeOutputPath(DocumentError):
    """Raised when a source id would put its output outside the output root (e.g. '../x' in a manifest)."""

    kind = ErrorKind.INTERNAL


def output_path(root: Path, source_id: str, fmt: OutputFormat) -> Path:
    """`a/report.pdf` -> `<root>/a/report.pdf.json`: the tree mirrored, the source extension kept;
    `../x.pdf` -> `<root>/%2E%2E/x.pdf.json`. Raises UnsafeOutputPath for an empty id, a NUL byte, or a
    path that a symlink in the output tree would take outside ``root`` or onto the report."""
    if fmt is OutputFormat.JSONL:
        return root / JSONL_STREAM_NAME
    parts = [_output_part(part) for part in PurePosixPath(source_id).parts if part not in ("", ".", "/")]
    if not parts or "\x00" in source_id:
        raise UnsafeOutputPath(f"source id {source_id!r} cannot be mapped to a path inside the output folder")
    candidate = root.joinpath(*parts[:-1], parts[-1] + _SUFFIX[fmt])
    resolved_root = _resolved(str(root))
    # The folders are resolved once each (a batch writes many outputs into the same few folders); the
    # file itself is resolved every time, since it may be a link planted in the output tree.
    folder = _resolved(str(candidate.parent))
    resolved = _resolved_file(os.path.join(folder, candidate.name))
    if os.path.commonpath([resolved_root, resolved]) != resolved_root or resolved in (
        os.path.join(resolved_root, REPORT_NAME),
        os.path.join(resolved_root, JSONL_STREAM_NAME),
    ):
        raise UnsafeOutputPath(f"output for {source_id!r} would land outside the output folder or on the report")
    return candidate


def output_key(path: str) -> str:
    """An output file's identity whatever the spelling of -o (relative, absolute, through a symlink):
    its folder's real path joined with its name. Relative paths are read from the working directory."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(_resolved(folder), name)


def _resolved_file(path: str) -> str:
    """The real path of ``path`` whose folder is already resolved: only the file itself can still be
    a link (one lstat, where realpath would lstat every component of the path again)."""
    try:
        is_link = stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:  # not there yet (the usual case) or unreadable: nothing to follow
        return path
    return os.path.realpath(path) if is_link else path


@functools.lru_cache(maxsize=4096)
def _resolved(folder: str) -> str:
    return os.path.realpath(folder)
