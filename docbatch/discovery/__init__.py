"""Discovery: turn PATHs and manifests into a stream of Documents and recorded Skips."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from docbatch.config import SourceConfig
from docbatch.discovery.filters import PathFilter
from docbatch.discovery.manifest import read_manifest
from docbatch.discovery.walk import display_name, document_from_stat, walk_root
from docbatch.models import Document, Skip

__all__ = ["discover", "display_name"]


def _root_prefixes(paths: list[Path]) -> list[str]:
    """With one root, ids are relative to it; with several, each id starts with its root's name (made unique)."""
    if len(paths) == 1:
        return [""]
    prefixes: list[str] = []
    for path in paths:
        name = path.resolve().name or "root"
        candidate, counter = name, 2
        while candidate in prefixes:
            candidate, counter = f"{name}-{counter}", counter + 1
        prefixes.append(candidate)
    return prefixes


def discover(sources: SourceConfig) -> Iterator[Document | Skip]:
    """Yield documents lazily, root by root, so work can start before the walk ends."""
    path_filter = PathFilter(sources.include, sources.exclude)
    for path, prefix in zip(sources.paths, _root_prefixes(sources.paths), strict=True):
        if path.is_dir():
            items: Iterator[Document | Skip] = walk_root(path, prefix, path_filter)
        else:
            source_id = display_name(f"{prefix}/{path.name}" if prefix else path.name)
            items = iter([document_from_stat(path, source_id)])
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
            yield Skip(source_id=f"{item.source_id}#dup", path=item.path, reason=f"duplicate source id {item.source_id!r}")
            continue
        seen.add(item.source_id)
        yield item
