"""Which files discovery leaves out, and why (the reason is recorded in the ledger)."""

from __future__ import annotations

import fnmatch
import stat
from collections.abc import Sequence


def _matches(patterns: Sequence[str], relative: str) -> bool:
    """A pattern with a slash matches the relative path; one without matches the file name at any depth."""
    name = relative.rsplit("/", 1)[-1]
    for pattern in patterns:
        target = relative if "/" in pattern else name
        if fnmatch.fnmatchcase(target, pattern):
            return True
    return False


class PathFilter:
    """Include/exclude globs plus the skip rules for names (hidden files, Office lock files)."""

    def __init__(self, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> None:
        self.include = list(include)
        self.exclude = list(exclude)

    def folder_skip_reason(self, relative: str, name: str) -> str | None:
        """Why a folder is not walked, or None to walk it."""
        if name.startswith("."):
            return "hidden folder (not walked)"
        if self.exclude and _matches(self.exclude, relative):
            return "excluded by --exclude"
        return None

    def file_skip_reason(self, relative: str, name: str) -> str | None:
        """Why a file is left out by its name alone, or None to keep it."""
        if name.startswith("~$"):
            return "Office lock file"
        if name.startswith("."):
            return "hidden file"
        if self.exclude and _matches(self.exclude, relative):
            return "excluded by --exclude"
        if self.include and not _matches(self.include, relative):
            return "not matched by --include"
        return None


def special_file_reason(mode: int) -> str | None:
    """Why a file of this st_mode must not be opened (FIFOs and devices block or never end)."""
    if stat.S_ISREG(mode):
        return None
    for test, label in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return f"not a regular file ({label})"
    return "not a regular file"
