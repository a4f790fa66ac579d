"""Recursive, streaming walk of one root folder into Documents, Skips and failures.

Symlinks are followed only while their target stays inside the root (and never twice into the same
folder, so loops end); special files are classified from lstat/stat and never opened.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from docbatch.discovery.filters import PathFilter, special_file_reason
from docbatch.discovery.items import (
    OWN_FOLDER_MARKERS,
    Discovered,
    DiscoveryFailure,
    FileIdentity,
    SeenFiles,
    identity,
    is_docbatch_folder,
)
from docbatch.models import Document, ErrorKind, Priority, Skip


def display_name(path: str) -> str:
    """A printable form of a file name that may hold undecodable bytes (shown as \\xNN)."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


def _inside(child_real: str, root_real: str) -> bool:
    return child_real == root_real or child_real.startswith(root_real.rstrip(os.sep) + os.sep)


@dataclass
class WalkRules:
    """What every walk of a run leaves out, and what it remembers.

    ``left_out``: real paths of folders passed over without a trace (the run's output and state
    folders, and input roots walked on their own). ``claimed``: files passed over without a trace
    (the run's log file, files given directly as PATHs). ``seen``: when set, every document's file
    identity is added, so that a manifest naming the same file again does not process it twice.
    """

    path_filter: PathFilter
    left_out: frozenset[str] = frozenset()
    claimed: frozenset[FileIdentity] = frozenset()
    seen: SeenFiles | None = None
    _claimed_inodes: frozenset[int] = field(init=False)

    def __post_init__(self) -> None:
        self._claimed_inodes = frozenset(inode for _, inode in self.claimed)

    def is_claimed(self, entry: os.DirEntry[str]) -> bool:
        # entry.inode() comes with the directory listing: no system call for the common case.
        if not self._claimed_inodes or entry.inode() not in self._claimed_inodes:
            return False
        try:
            return identity(entry.stat()) in self.claimed
        except OSError:
            return False

    def is_own_folder(self, entry: os.DirEntry[str]) -> bool:
        try:
            if not entry.is_dir():
                return False
        except OSError:
            return False
        return os.path.realpath(entry.path) in self.left_out


def walk_root(root: Path, prefix: str, rules: WalkRules) -> Iterator[Discovered]:
    """Yield every file below ``root`` in a stable (sorted) order; ``prefix`` starts each source id.
    Docbatch's own folders (this run's, or any holding a ledger or an output marker) are passed over
    without a trace: they hold no documents of the user's. A folder that cannot be listed is a
    failure (kind ``io``), not a skip."""
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
            yield DiscoveryFailure(
                source_id=display_name(rel_folder) or ".",
                path=Path(folder),
                error_kind=ErrorKind.IO,
                message=f"cannot read folder {display_name(folder)}: {(error.strerror or str(error)).lower()}",
            )
            continue
        if rel_folder != prefix and any(entry.name in OWN_FOLDER_MARKERS and entry.is_file() for entry in entries):
            continue  # another run's state or output folder, seen from its own listing: no extra stat
        subfolders: list[tuple[str, str]] = []
        for entry in entries:
            if rules.is_own_folder(entry) or rules.is_claimed(entry):
                continue
            relative = display_name(f"{rel_folder}/{entry.name}" if rel_folder else entry.name)
            outcome = _classify(entry, relative, root_real, visited, rules)
            if isinstance(outcome, tuple):
                subfolders.append(outcome)
            elif outcome is not None:
                yield outcome
        # Reversed so the stack pops folders in sorted order.
        stack.extend(reversed(subfolders))


def _classify(
    entry: os.DirEntry[str], relative: str, root_real: str, visited: set[str], rules: WalkRules
) -> Discovered | tuple[str, str] | None:
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
        return _unreadable(relative, path, error)
    if is_dir:
        if rules.path_filter.excludes_folder(relative):
            return None  # left out by --exclude: not part of the run
        reason = rules.path_filter.folder_skip_reason(relative, entry.name)
        if reason:
            # A hidden folder is not walked, so only here are its contents looked at: `.docbatch`
            # of an earlier run is docbatch's own, not a skipped folder of the user's.
            return None if is_docbatch_folder(entry.path) else Skip(source_id=relative, path=path, reason=reason)
        real = os.path.realpath(entry.path)
        if real in visited:
            return Skip(source_id=relative, path=path, reason="folder already walked (symlink loop)")
        visited.add(real)
        return (entry.path, relative)
    reason = rules.path_filter.file_skip_reason(relative, entry.name)
    if reason:
        return Skip(source_id=relative, path=path, reason=reason)
    if rules.path_filter.filters_out(relative):
        return None
    return document_from_stat(path, relative, seen=rules.seen)


def _unreadable(source_id: str, path: Path, error: OSError) -> DiscoveryFailure:
    reason = (error.strerror or str(error)).lower()
    message = f"cannot read {display_name(str(path))}: {reason}"
    return DiscoveryFailure(source_id=source_id, path=path, error_kind=ErrorKind.IO, message=message)


def document_from_stat(path: Path, source_id: str, *, seen: SeenFiles | None = None, **fields: object) -> Discovered:
    """Stat a file (following a link) and return a Document, a Skip for special and empty files, or a
    failure (kind ``io``) when it cannot be reached. ``seen`` collects the file's identity."""
    try:
        info = os.stat(path)
    except OSError as error:
        return _unreadable(source_id, path, error)
    reason = special_file_reason(info.st_mode)
    if reason:
        return Skip(source_id=source_id, path=path, reason=reason)
    if info.st_size == 0:
        return Skip(source_id=source_id, path=path, reason="empty file")
    if seen is not None:
        seen.add(identity(info))
    if not fields:
        # Built from a stat result, so nothing to validate; model_construct is several times faster,
        # which counts at thousands of files a second.
        return Document.model_construct(
            source_id=source_id, path=path, size=info.st_size, mtime_ns=info.st_mtime_ns, priority=Priority.NORMAL
        )
    return Document.model_validate(
        {"source_id": source_id, "path": path, "size": info.st_size, "mtime_ns": info.st_mtime_ns, **fields}
    )
