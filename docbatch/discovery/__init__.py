"""Discovery: turn PATHs and manifests into a stream of Documents and recorded Skips."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from docbatch.config import SourceConfig
from docbatch.discovery.filters import PathFilter
from docbatch.discovery.manifest import read_manifest
from docbatch.discovery.walk import display_name, document_from_stat, walk_root
from docbatch.models import Document, Skip

__all__ = ["discover", "display_name"]


def _root_ids(paths: list[Path]) -> list[str]:
    """The id each PATH contributes: a folder's ids are relative to it (prefixed by the folder's name
    when several folders are given); a file's id is its name, lengthened by its parent folders when
    two files would share one."""
    folders = sum(1 for path in paths if path.is_dir())
    taken: set[str] = set()
    ids: list[str] = []
    for path in paths:
        resolved = path.resolve()
        if path.is_dir() and folders == 1:
            ids.append("")
            continue
        parts = resolved.parts
        depth = 1
        candidate = parts[-1] if parts[-1] != "/" else "root"
        while candidate in taken and depth < len(parts) - 1:
            depth += 1
            candidate = "/".join(parts[-depth:])
        taken.add(candidate)
        ids.append(display_name(candidate))
    return ids


def discover(sources: SourceConfig, own_folders: tuple[Path, ...] = ()) -> Iterator[Document | Skip]:
    """Yield documents lazily, root by root, so work can start before the walk ends.

    ``own_folders`` (the run's output and state folders) are never walked into: what a run writes
    is never read back as input (`cd docs && docbatch run .` puts docbatch-out/ inside the input).
    """
    path_filter = PathFilter(sources.include, sources.exclude)
    left_out = frozenset(os.path.realpath(folder) for folder in own_folders)
    for path, root_id in zip(sources.paths, _root_ids(sources.paths), strict=True):
        if path.is_dir():
            items: Iterator[Document | Skip] = walk_root(path, root_id, path_filter, left_out)
        else:
            items = iter([document_from_stat(path, root_id)])
        # Ids from walks are unique by construction (distinct prefixes), so only manifests are checked;
        # this keeps the coordinator's memory flat on huge trees.
        yield from items
    seen: set[str] = set()
    for manifest in sources.manifests:
        yield from _unique(read_manifest(manifest), seen)


def _unique(items: Iterator[Document | Skip], seen: set[str]) -> Iterator[Document | Skip]:
    """A source id is a document's identity: a second manifest row claiming an id is skipped, not merged."""
    for item in items:
        if item.source_id in seen:
            yield Skip(
                source_id=f"{item.source_id}#dup",
                path=item.path,
                reason=f"duplicate source id {item.source_id!r}",
            )
            continue
        seen.add(item.source_id)
        yield item
