"""Recursive, streaming walk of one root folder into Documents and Skips.

Symlinks are followed only while their target stays inside the root (and never twice into the same
folder, so loops end); special files are classified from lstat/stat and never opened.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from docbatch.discovery.filters import PathFilter, special_file_reason
from docbatch.models import Document, Priority, Skip


def display_name(path: str) -> str:
    """A printable form of a file name that may hold undecodable bytes (shown as \\xNN)."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


def _inside(child_real: str, root_real: str) -> bool:
    return child_real == root_real or child_real.startswith(root_real.rstrip(os.sep) + os.sep)


def walk_root(
    root: Path, prefix: str, path_filter: PathFilter, left_out: frozenset[str] = frozenset()
) -> Iterator[Document | Skip]:
    """Yield every file below ``root`` in a stable (sorted) order; ``prefix`` starts each source id.
    Folders whose real path is in ``left_out`` (docbatch's own output and state) are passed over
    without a trace: they hold no documents of the user's."""
    root_real = os.path.realpath(root)
    visited: set[str] = {root_real}
    # An explicit stack instead of recursion: deep trees cannot hit the recursion limit.
    stack: list[tuple[str, str]] = [(str(root), prefix)]
    while stack:
        folder, rel_folder = stack.pop()
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as error:
            yield Skip(source_id=rel_folder or ".", path=Path(folder), reason=f"cannot list folder: {error.strerror}")
            continue
        subfolders: list[tuple[str, str]] = []
        for entry in entries:
            if left_out and _is_own_folder(entry, left_out):
                continue
            relative = display_name(f"{rel_folder}/{entry.name}" if rel_folder else entry.name)
            outcome = _classify(entry, relative, root_real, visited, path_filter)
            if isinstance(outcome, tuple):
                subfolders.append(outcome)
            elif outcome is not None:
                yield outcome
        # Reversed so the stack pops folders in sorted order.
        stack.extend(reversed(subfolders))


def _is_own_folder(entry: os.DirEntry[str], left_out: frozenset[str]) -> bool:
    try:
        return entry.is_dir() and os.path.realpath(entry.path) in left_out
    except OSError:
        return False


def _classify(
    entry: os.DirEntry[str], relative: str, root_real: str, visited: set[str], path_filter: PathFilter
) -> Document | Skip | tuple[str, str] | None:
    path = Path(entry.path)
    if entry.is_symlink():
        target = os.path.realpath(entry.path)
        if not os.path.exists(entry.path):
            return Skip(source_id=relative, path=path, reason="dangling symlink")
        if not _inside(target, root_real):
            return Skip(source_id=relative, path=path, reason="symlink points outside its root (not followed)")
    try:
        is_dir = entry.is_dir(follow_symlinks=True)
    except OSError as error:
        return Skip(source_id=relative, path=path, reason=f"cannot stat: {error.strerror}")
    if is_dir:
        reason = path_filter.folder_skip_reason(relative, entry.name)
        if reason:
            return Skip(source_id=relative, path=path, reason=reason)
        real = os.path.realpath(entry.path)
        if real in visited:
            return Skip(source_id=relative, path=path, reason="folder already walked (symlink loop)")
        visited.add(real)
        return (entry.path, relative)
    reason = path_filter.file_skip_reason(relative, entry.name)
    if reason:
        return Skip(source_id=relative, path=path, reason=reason)
    return document_from_stat(path, relative)


def document_from_stat(path: Path, source_id: str, **fields: object) -> Document | Skip:
    """Stat a file (following a link) and return a Document, or a Skip for special and empty files."""
    try:
        info = os.stat(path)
    except OSError as error:
        return Skip(source_id=source_id, path=path, reason=f"cannot stat: {error.strerror}")
    reason = special_file_reason(info.st_mode)
    if reason:
        return Skip(source_id=source_id, path=path, reason=reason)
    if info.st_size == 0:
        return Skip(source_id=source_id, path=path, reason="empty file")
    if not fields:
        # Built from a stat result, so nothing to validate; model_construct is several times faster,
        # which counts at thousands of files a second.
        return Document.model_construct(
            source_id=source_id, path=path, size=info.st_size, mtime_ns=info.st_mtime_ns, priority=Priority.NORMAL
        )
    return Document.model_validate(
        {"source_id": source_id, "path": path, "size": info.st_size, "mtime_ns": info.st_mtime_ns, **fields}
    )
