"""Manifests: a plain list of paths, a CSV with a `path` column, or JSONL objects.

Optional per-document fields: `id` (the source id), `priority` (low|normal|high|critical) and
`options` (an object, or a JSON string in CSV). Relative paths are taken from the manifest's folder,
`../` included. Without an `id`, a row's id is its path as written (as it always was: ledgers of
earlier runs keep their documents); `../x.pdf` stays `../x.pdf`, its output goes to `%2E%2E/x.pdf.json`.

A bad row becomes a recorded Skip; a row naming a file that cannot be read, or an id already given to
another file, is a failure of the run; a row naming a file already listed (however its path is
spelled) is not processed twice. A manifest that cannot be read (or is not UTF-8) ends the run with exit 2.
"""

from __future__ import annotations

import csv
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from docbatch.discovery.items import Discovered, DiscoveryFailure, FileIdentity, identity
from docbatch.discovery.walk import display_name, document_from_stat
from docbatch.errors import ConfigError
from docbatch.models import Document, ErrorKind, Priority, Skip
from docbatch.serialization import loads


def parse_priority(value: object) -> Priority:
    """Priority from a name (low, normal, high, critical) or its number 0-3."""
    text = str(value).strip().lower()
    if text.isdigit() and int(text) in Priority._value2member_map_:
        return Priority(int(text))
    try:
        return Priority[text.upper()]
    except KeyError:
        raise ValueError(f"unknown priority {value!r} (use low, normal, high or critical)") from None


@dataclass
class ManifestRules:
    """What the rows of all manifests of a run are checked against.

    ``own_folders`` (real paths) and ``claimed`` (file identities) are what the run itself writes; a
    row naming them is skipped. ``ids`` maps each id given so far to the row that gave it; ``seen``
    holds the identity of every file already in the run (walked, given directly or listed)."""

    own_folders: frozenset[str] = frozenset()
    claimed: frozenset[FileIdentity] = frozenset()
    ids: dict[str, str] = field(default_factory=dict)
    seen: set[FileIdentity] = field(default_factory=set)


def read_manifest(manifest: Path, rules: ManifestRules | None = None) -> Iterator[Discovered]:
    """Yield the manifest's documents in file order, reading it as a stream: a manifest of millions of
    lines never sits in memory whole. Raises ConfigError when the manifest itself cannot be read."""
    rules = rules or ManifestRules()
    try:
        handle = manifest.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise ConfigError(f"{manifest}: cannot read manifest: {error.strerror}") from error
    with handle:
        suffix = manifest.suffix.lower()
        if suffix in {".csv", ".tsv"}:
            rows = _csv_rows(manifest, handle)
        elif suffix in {".jsonl", ".ndjson"}:
            rows = _jsonl_rows(handle)
        else:
            rows = _list_rows(handle)
        base = manifest.parent
        label = manifest.name
        # A manifest docbatch wrote itself (`retry-failed`, in the state folder) repeats ids docbatch
        # gave, `../x.pdf` included; a user's `id` may not climb with `..`.
        own_ids = _real_folder(str(base)) in rules.own_folders
        try:
            for line_number, row in rows:
                item = _entry(base, label, line_number, row, own_ids=own_ids)
                checked = _check(item, f"{label}:{line_number}", rules) if isinstance(item, Document) else item
                if checked is not None:
                    yield checked
        except UnicodeDecodeError as error:
            raise ConfigError(f"{manifest}: manifest is not UTF-8 text") from error
        except OSError as error:
            raise ConfigError(f"{manifest}: cannot read manifest: {error.strerror}") from error


def _list_rows(lines: TextIO) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield number, {"path": stripped}


def _jsonl_rows(lines: TextIO) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = loads(line)
        except ValueError as error:
            yield number, f"invalid JSON: {error}"
            continue
        yield number, value if isinstance(value, dict) else "each line must be a JSON object"


def _csv_rows(manifest: Path, lines: TextIO) -> Iterator[tuple[int, dict[str, Any] | str]]:
    delimiter = "\t" if manifest.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(lines, delimiter=delimiter)
    if not reader.fieldnames or "path" not in reader.fieldnames:
        raise ConfigError(f"{manifest}: a CSV manifest needs a header with a 'path' column")
    for row in reader:
        entry: dict[str, Any] = {k: v for k, v in row.items() if k and v not in (None, "")}
        if isinstance(entry.get("options"), str):
            try:
                entry["options"] = loads(entry["options"])
            except ValueError as error:
                yield reader.line_num, f"options column is not JSON: {error}"
                continue
        yield reader.line_num, entry


def _entry(base: Path, label: str, line_number: int, row: dict[str, Any] | str, *, own_ids: bool) -> Discovered:
    where = f"{label}:{line_number}"
    if isinstance(row, str):
        return Skip(source_id=where, path=base / label, reason=f"bad manifest line: {row}")
    raw_path = row.get("path")
    if not isinstance(raw_path, str) or not raw_path.strip():
        return Skip(source_id=where, path=base / label, reason="bad manifest line: no 'path'")
    raw_path = raw_path.strip()
    path = Path(raw_path)
    if not path.is_absolute():
        path = base / path
    given_id = str(row.get("id") or "").strip()
    if given_id and not own_ids and ".." in PurePosixPath(given_id).parts:
        return DiscoveryFailure(
            source_id=where,
            path=path,
            error_kind=ErrorKind.INTERNAL,
            message=f"{label} line {line_number}: id {given_id!r} climbs out of the output folder with '..'; "
            "give an id without '..'",
        )
    source_id = given_id or raw_path
    try:
        priority = parse_priority(row.get("priority", "normal"))
    except ValueError as error:
        return Skip(source_id=source_id, path=path, reason=f"bad manifest line {where}: {error}")
    options = row.get("options") or {}
    if not isinstance(options, dict):
        return Skip(source_id=source_id, path=path, reason=f"bad manifest line {where}: options must be an object")
    found = document_from_stat(path, source_id, priority=priority, options=options)
    if isinstance(found, DiscoveryFailure):
        # Named by the user, so its absence is a failure of the run. Dead at once, not retried: a
        # missing or forbidden file does not appear within seconds, and the next run looks again.
        return found.model_copy(update={"message": f"{found.message} (listed in {label} line {line_number})"})
    return found


def _check(document: Document, where: str, rules: ManifestRules) -> Discovered | None:
    """A listed file the run already has is not processed again (None); one the run writes itself is
    skipped; an id already given to another file fails the row as a collision."""
    try:
        file_identity = identity(os.stat(document.path))
    except OSError:
        file_identity = None
    if file_identity is not None and file_identity in rules.seen:
        return None
    folder = _real_folder(str(document.path.parent))
    if file_identity in rules.claimed or any(
        folder == own or folder.startswith(own + os.sep) for own in rules.own_folders
    ):
        return Skip(
            source_id=document.source_id,
            path=document.path,
            reason="written by docbatch (this run's output, state or log), not read as input",
        )
    first = rules.ids.get(document.source_id)
    if first is not None:
        return DiscoveryFailure(
            source_id=where,
            path=document.path,
            error_kind=ErrorKind.COLLISION,
            message=f"id {document.source_id!r} is already given to {first}; this row names "
            f"{display_name(str(document.path))}, whose output would overwrite it: give the row its own id",
        )
    rules.ids[document.source_id] = f"{display_name(str(document.path))} ({where.replace(':', ' line ')})"
    if file_identity is not None:
        rules.seen.add(file_identity)
    return document


@functools.lru_cache(maxsize=1024)
def _real_folder(folder: str) -> str:
    """Resolved once per folder: a manifest lists many files of the same few folders."""
    return os.path.realpath(folder)
