"""Discovery: turn PATHs and manifests into a stream of Documents, recorded Skips and failures.

Each file is one document however it was named: PATHs that are the same folder (`docs ./docs/`, an
absolute and a relative spelling, a symlink to it) or lie inside an earlier one (`docs docs/a`) are
walked once, under the first spelling; a file given directly and found again by a walk, or listed
twice in manifests, is processed once. What the run writes (its output and state folders, its log
file) is never read back as input.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from docbatch.config import SourceConfig
from docbatch.discovery.filters import PathFilter
from docbatch.discovery.items import (
    OUTPUT_MARKER,
    Discovered,
    DiscoveryFailure,
    FileIdentity,
    SeenFiles,
    identity,
    is_docbatch_folder,
)
from docbatch.discovery.manifest import ManifestRules, check_manifest, read_manifest
from docbatch.discovery.walk import WalkRules, display_name, document_from_stat, walk_root
from docbatch.errors import ConfigError

__all__ = ["Discovered", "DiscoveryFailure", "check_inputs", "check_manifests", "discover", "display_name"]


@dataclass(frozen=True, slots=True)
class _Root:
    path: Path
    real: str
    is_dir: bool
    file_identity: FileIdentity | None = None


def _conflicts(candidate: str, taken: set[str]) -> bool:
    """Two root ids conflict when one equals or contains the other: their documents' ids could meet."""
    return any(candidate == other or other.startswith(candidate + "/") or candidate.startswith(other + "/")
               for other in taken)  # fmt: skip


def _root_ids(roots: list[_Root]) -> list[str]:
    """The id each root contributes: a folder's ids are relative to it (prefixed by the folder's name
    when several folders are given); a file's id is its name. A name is lengthened by its parent
    folders while it equals or contains another root's, so two roots never give the same id."""
    folders = sum(1 for root in roots if root.is_dir)
    taken: set[str] = set()
    ids: list[str] = []
    for root in roots:
        if root.is_dir and folders == 1:
            ids.append("")
            continue
        parts = Path(root.real).parts
        depth = 1
        candidate = parts[-1] if parts[-1] != "/" else "root"
        while _conflicts(candidate, taken) and depth < len(parts) - 1:
            depth += 1
            candidate = "/".join(parts[-depth:])
        taken.add(candidate)
        ids.append(display_name(candidate))
    return ids


def _walk_reaches(outer: str, inner: str, is_file: bool, path_filter: PathFilter, left_out: frozenset[str]) -> bool:
    """Whether the walk of folder ``outer`` (a real path) yields ``inner`` (a real path inside it).
    When unsure, False: ``inner`` is then walked on its own and left out of ``outer``'s walk, which
    changes only its ids, never processes a file twice."""
    if any(pattern.anchored for pattern in (*path_filter.include, *path_filter.exclude)):
        return False  # matched against ids that depend on which roots are kept: cannot be known yet
    relative = os.path.relpath(inner, outer)
    parts = [] if relative == "." else relative.split(os.sep)
    for depth in range(len(parts) - 1 if is_file else len(parts)):
        below = "/".join(parts[: depth + 1])
        folder = os.path.join(outer, *parts[: depth + 1])
        if (
            parts[depth].startswith(".")
            or path_filter.excludes_folder(below)
            or folder in left_out
            or is_docbatch_folder(folder)
        ):
            return False
    if is_file:
        name = parts[-1]
        return path_filter.file_skip_reason(relative, name) is None and not path_filter.filters_out(relative)
    return True


def _distinct_roots(paths: list[Path], path_filter: PathFilter, left_out: frozenset[str]) -> list[_Root]:
    """The PATHs that add documents, in the order given: a later PATH whose documents an earlier folder
    already yields (the same folder, a folder or file inside it) or an earlier file is left out."""
    kept: list[_Root] = []
    for path in paths:
        real = os.path.realpath(path)
        is_dir = os.path.isdir(path)
        file_identity = None
        if not is_dir:
            try:
                file_identity = identity(os.stat(path))
            except OSError:
                file_identity = None
        if any(root.file_identity is not None and root.file_identity == file_identity for root in kept):
            continue
        if any(
            root.is_dir
            and (real == root.real or real.startswith(root.real.rstrip(os.sep) + os.sep))
            and _walk_reaches(root.real, real, not is_dir, path_filter, left_out)
            for root in kept
        ):
            continue
        kept.append(_Root(path=path, real=real, is_dir=is_dir, file_identity=file_identity))
    return kept


def _inside(child: str, folder: str) -> bool:
    return child == folder or child.startswith(folder.rstrip(os.sep) + os.sep)


def check_inputs(sources: SourceConfig, *, output: Path, state: Path) -> None:
    """Refuse, before the batch, a PATH that is the output or state folder or lies inside it (`run docs
    -o docs`): the run would write into its own input and read that back. An output or state folder
    inside an input folder is fine: the walk passes over it. A PATH that is another run's output
    folder (it holds that run's marker) is refused too: its outputs and reports are not documents.
    Raises ConfigError (exit 2)."""
    for flag, own in (("-o/--output", output), ("--state", state)):
        own_real = os.path.realpath(own)
        for path in sources.paths:
            if _inside(os.path.realpath(path), own_real):
                raise ConfigError(
                    f"{path}: it is the {flag} folder {own} or inside it, and docbatch writes there; "
                    f"give {flag} a folder outside the inputs"
                )
    for path in sources.paths:
        if os.path.isdir(path) and os.path.lexists(os.path.join(path, OUTPUT_MARKER)):
            raise ConfigError(
                f"{path}: it is the output folder of a docbatch run (it holds {OUTPUT_MARKER}); its outputs "
                "are not documents: give the folder the documents came from"
            )


def check_manifests(sources: SourceConfig) -> None:
    """Read every manifest through once before the batch, so that a bad row or an unreadable manifest
    stops the run before it starts (nothing recorded). Raises ConfigError (exit 2) naming the manifest
    and the line; see ``check_manifest``."""
    for manifest in sources.manifests:
        check_manifest(manifest)


def discover(
    sources: SourceConfig, own_folders: Iterable[Path] = (), own_files: Iterable[Path] = ()
) -> Iterator[Discovered]:
    """Yield documents lazily, root by root, so work can start before the walk ends.

    ``own_folders`` (the run's output and state folders) are never walked into and ``own_files`` (its
    log file) never read: what a run writes is never read back as input (`cd docs && docbatch run .`
    puts docbatch-out/ inside the input).
    """
    path_filter = PathFilter(sources.include, sources.exclude)
    left_out = frozenset(os.path.realpath(folder) for folder in own_folders)
    written = frozenset(_identities(own_files))
    roots = _distinct_roots(sources.paths, path_filter, left_out)
    direct = frozenset(root.file_identity for root in roots if root.file_identity is not None)
    # File identities are remembered only when a manifest could name a walked file again: a walk
    # alone needs none, which keeps the coordinator's memory flat on huge trees.
    seen = SeenFiles() if sources.manifests else None
    try:
        for root, root_id in zip(roots, _root_ids(roots), strict=True):
            if root.is_dir:
                others = frozenset(other.real for other in roots if other.is_dir and other is not root)
                rules = WalkRules(path_filter, left_out | others, written | direct, seen)
                yield from walk_root(root.path, root_id, rules)
            else:
                yield document_from_stat(root.path, root_id, seen=seen)
        manifest_rules = ManifestRules(
            own_folders=left_out, claimed=written, seen=seen if seen is not None else SeenFiles()
        )
        try:
            for manifest in sources.manifests:
                yield from read_manifest(manifest, manifest_rules)
        finally:
            manifest_rules.close()
    finally:
        if seen is not None:
            seen.close()


def _identities(paths: Iterable[Path]) -> Iterator[FileIdentity]:
    for path in paths:
        try:
            yield identity(os.stat(path))
        except OSError:
            continue
