"""Which files discovery leaves out, and why.

--include/--exclude read like gitignore and `find`: a pattern with a slash inside matches the path
relative to its root, one without matches a name at any depth, and a trailing slash means folders
only (`drafts/` prunes the folder, never a file named drafts). A literal extension in a pattern
matches regardless of case, as docbatch reads types (`*.pdf` matches `SCAN.PDF`). What the filters
leave out is not a document of the run: it is neither recorded nor counted. Hidden files, Office
lock files and special files are skipped with a recorded reason.
"""

from __future__ import annotations

import fnmatch
import stat
from collections.abc import Sequence
from dataclasses import dataclass

_GLOB_CHARS = frozenset("*?[")


def _lower_extension(text: str) -> str:
    """`Scan.PDF` -> `Scan.pdf`: only the part after the last dot of the last component."""
    head, dot, extension = text.rpartition(".")
    if not dot or "/" in extension or not head or head.endswith("/"):
        return text
    return f"{head}.{extension.lower()}"


@dataclass(frozen=True, slots=True)
class _Pattern:
    glob: str
    anchored: bool  # a slash inside: matched against the relative path, else against the name
    folders_only: bool  # a trailing slash
    folded_extension: bool  # ends with a literal extension, compared without case

    @classmethod
    def parse(cls, text: str) -> _Pattern:
        folders_only = text.endswith("/")
        glob = text.rstrip("/") or text
        extension = glob.rpartition(".")[2] if "." in glob.rsplit("/", 1)[-1] else ""
        folded = bool(extension) and not (_GLOB_CHARS & set(extension))
        return cls(
            glob=_lower_extension(glob) if folded else glob,
            anchored="/" in glob,
            folders_only=folders_only,
            folded_extension=folded,
        )

    def matches(self, relative: str) -> bool:
        target = relative if self.anchored else relative.rsplit("/", 1)[-1]
        if self.folded_extension:
            target = _lower_extension(target)
        return fnmatch.fnmatchcase(target, self.glob)


def _matches_file(patterns: Sequence[_Pattern], relative: str) -> bool:
    """As in gitignore, a pattern names the file or one of its folders (`invoices` keeps every file
    under a folder named invoices); a folder pattern (trailing slash) only ever names a folder."""
    folders = relative.split("/")[:-1]
    for pattern in patterns:
        if not pattern.folders_only and pattern.matches(relative):
            return True
        if any(pattern.matches("/".join(folders[: depth + 1])) for depth in range(len(folders))):
            return True
    return False


class PathFilter:
    """Include/exclude globs plus the skip rules for names (hidden files, Office lock files)."""

    def __init__(self, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> None:
        self.include = [_Pattern.parse(text) for text in include]
        self.exclude = [_Pattern.parse(text) for text in exclude]

    def folder_skip_reason(self, relative: str, name: str) -> str | None:
        """Why a folder is not walked (recorded), or None to walk it. Excluded folders are not walked
        either: see :meth:`excludes_folder`."""
        if name.startswith("."):
            return "hidden folder (not walked)"
        return None

    def excludes_folder(self, relative: str) -> bool:
        """True when --exclude prunes this folder (any pattern, with or without a trailing slash)."""
        return any(pattern.matches(relative) for pattern in self.exclude)

    def file_skip_reason(self, relative: str, name: str) -> str | None:
        """Why a file is skipped by its name alone (recorded), or None to keep it."""
        if name.startswith("~$"):
            return "Office lock file"
        if name.startswith("."):
            return "hidden file"
        return None

    def filters_out(self, relative: str) -> bool:
        """True when --include/--exclude leave this file out of the run (not recorded, not counted)."""
        if self.exclude and any(not p.folders_only and p.matches(relative) for p in self.exclude):
            return True
        return bool(self.include) and not _matches_file(self.include, relative)


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
