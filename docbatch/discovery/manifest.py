"""Manifests: a plain list of paths, a CSV with a `path` column, or JSONL objects.

Optional per-document fields: `id` (the source id), `priority` (low|normal|high|critical) and
`options` (an object, or a JSON string in CSV). Relative paths are taken from the manifest's folder.
A bad row becomes a recorded Skip; a manifest that cannot be read (or is not UTF-8) ends the run with exit 2.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from docbatch.discovery.walk import document_from_stat
from docbatch.errors import ConfigError
from docbatch.models import Document, Priority, Skip
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


def read_manifest(manifest: Path) -> Iterator[Document | Skip]:
    """Yield the manifest's documents in file order, reading it as a stream: a manifest of millions of
    lines never sits in memory whole."""
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
        try:
            for line_number, row in rows:
                yield _entry(base, label, line_number, row)
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


def _entry(base: Path, label: str, line_number: int, row: dict[str, Any] | str) -> Document | Skip:
    where = f"{label}:{line_number}"
    if isinstance(row, str):
        return Skip(source_id=where, path=base / label, reason=f"bad manifest line: {row}")
    raw_path = row.get("path")
    if not isinstance(raw_path, str) or not raw_path.strip():
        return Skip(source_id=where, path=base / label, reason="bad manifest line: no 'path'")
    path = Path(raw_path)
    if not path.is_absolute():
        path = base / path
    source_id = str(row.get("id") or raw_path).strip()
    try:
        priority = parse_priority(row.get("priority", "normal"))
    except ValueError as error:
        return Skip(source_id=source_id, path=path, reason=f"bad manifest line {where}: {error}")
    options = row.get("options") or {}
    if not isinstance(options, dict):
        return Skip(source_id=source_id, path=path, reason=f"bad manifest line {where}: options must be an object")
    return document_from_stat(path, source_id, priority=priority, options=options)
