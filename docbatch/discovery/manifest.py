"""Manifests: a plain list of paths, a CSV with a `path` column, or JSONL objects.

Optional per-document fields: `id` (the source id), `priority` (low|normal|high|critical) and
`options` (an object, or a JSON string in CSV). Relative paths are taken from the manifest's folder,
`../` included. Without an `id`, a row's id is its path as written (as it always was: ledgers of
earlier runs keep their documents); `../x.pdf` stays `../x.pdf`, its output goes to `%2E%2E/x.pdf.json`.

Every manifest is checked whole before the batch (``check_manifest``): a manifest that cannot be read,
is not UTF-8, or has a bad row (malformed CSV or JSON, no path, an unknown priority, options that are
not an object) is a usage error (exit 2) naming its line, and the run does not start. Nothing the user
listed is ever skipped for the way it was written. A row naming a file that cannot be read, or an id
already given to another file, is a failure of the run; a row naming a file already listed (however
its path is spelled) is not processed twice.
"""

from __future__ import annotations

import csv
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from json import JSONDecodeError
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple, TextIO

from docbatch.discovery.items import Discovered, DiscoveryFailure, FileIdentity, SeenFiles, identity
from docbatch.discovery.walk import display_name, document_from_stat
from docbatch.errors import ConfigError
from docbatch.models import Document, ErrorKind, Priority, Skip
from docbatch.scratch import ScratchTable
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
    # Both grow by a row per document: kept on disk past a bounded cache (docbatch/scratch.py).
    ids: ScratchTable = field(default_factory=ScratchTable)
    seen: SeenFiles = field(default_factory=SeenFiles)

    def close(self) -> None:
        self.ids.close()
        self.seen.close()


class ManifestRow(NamedTuple):
    """One valid row as written: ``path`` and ``given_id`` stripped (``given_id`` empty when absent).
    A tuple because a million rows are built twice per run (check, then read): a frozen dataclass
    costs several times more to build."""

    path: str
    given_id: str
    priority: Priority
    options: dict[str, Any]


def check_manifest(manifest: Path) -> None:
    """Read the whole manifest once, as a stream, before the batch starts: nothing the user listed may
    be dropped later for the way it was written. Raises ConfigError (exit 2) naming the first bad
    line and how many more there are, or the manifest itself when it cannot be read. Cheap: no file
    it lists is touched (about a second per million CSV rows)."""
    first: str | None = None
    more = 0
    for line_number, row in _rows(manifest):
        if isinstance(row, ManifestRow):
            continue
        if first is None:
            first = f"{manifest} line {line_number}: {row}"
        else:
            more += 1
    if first is not None:
        plural = "s" if more > 1 else ""
        raise ConfigError(first + (f" (and {more} more bad line{plural})" if more else ""))


def read_manifest(manifest: Path, rules: ManifestRules | None = None) -> Iterator[Discovered]:
    """Yield the manifest's documents in file order, reading it as a stream: a manifest of millions of
    lines never sits in memory whole. Raises ConfigError when the manifest cannot be read or has a bad
    row (``check_manifest`` finds those before the batch; here only if the file changed since)."""
    rules = rules or ManifestRules()
    base = manifest.parent
    label = manifest.name
    # A manifest docbatch wrote itself (`retry-failed`, in the state folder) repeats ids docbatch
    # gave, `../x.pdf` included; a user's `id` may not climb with `..`.
    own_ids = _real_folder(str(base)) in rules.own_folders
    for line_number, row in _rows(manifest):
        if not isinstance(row, ManifestRow):
            raise ConfigError(f"{manifest} line {line_number}: {row}")
        item = _entry(base, label, line_number, row, own_ids=own_ids)
        checked = _check(item, f"{label}:{line_number}", rules) if isinstance(item, Document) else item
        if checked is not None:
            yield checked


def _rows(manifest: Path) -> Iterator[tuple[int, ManifestRow | str]]:
    """Each row with its line number: a ManifestRow, or what is wrong with it. Raises ConfigError when
    the manifest cannot be opened or read, is not UTF-8, or is a CSV without a `path` column."""
    try:
        handle = manifest.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise ConfigError(f"{manifest}: cannot read manifest: {error.strerror}") from error
    with handle:
        suffix = manifest.suffix.lower()
        rows: Iterator[tuple[int, ManifestRow | dict[str, Any] | str]]
        if suffix in {".csv", ".tsv"}:
            rows = _csv_rows(manifest, handle)
        elif suffix in {".jsonl", ".ndjson"}:
            rows = _jsonl_rows(handle)
        else:
            rows = _list_rows(handle)
        try:
            for line_number, row in rows:
                yield line_number, _parse_row(row) if isinstance(row, dict) else row
        except UnicodeDecodeError as error:
            raise ConfigError(f"{manifest}: manifest is not UTF-8 text") from error
        except OSError as error:
            raise ConfigError(f"{manifest}: cannot read manifest: {error.strerror}") from error


_PRIORITY_NAMES = ", ".join(level.name.lower() for level in Priority)
_NORMAL = Priority.NORMAL  # looked up once: an enum member's attribute access counts at a million rows
_NUL_IN_PATH = '"path" contains a NUL character'


def _parse_row(row: dict[str, Any]) -> ManifestRow | str:
    """The row's fields checked, or what is wrong with them (one phrase, for the error line)."""
    raw_path = row.get("path")
    if raw_path is None or (isinstance(raw_path, str) and not raw_path.strip()):
        return 'no "path"'
    if not isinstance(raw_path, str):
        return f'"path" must be a string, not {_json_type(raw_path)}'
    if "\0" in raw_path:
        return _NUL_IN_PATH
    given_id = row.get("id")
    if given_id is not None and not isinstance(given_id, (str, int)):
        return f'"id" must be a string, not {_json_type(given_id)}'
    priority = row.get("priority")
    try:
        level = _NORMAL if priority in (None, "") else parse_priority(priority)
    except ValueError:
        return f'priority "{priority}" is not one of {_PRIORITY_NAMES}'
    options = row.get("options")
    if options is None:
        options = {}
    elif not isinstance(options, dict):
        return f"options must be a JSON object, not {_json_type(options)}"
    return ManifestRow(raw_path.strip(), str(given_id or "").strip(), level, options)


def _json_problem(error: ValueError) -> str:
    """orjson's reason and where, by character: its own line/column count is not the manifest's."""
    if isinstance(error, JSONDecodeError):
        return f"{error.msg} at character {error.colno}"
    return str(error)


def _json_type(value: object) -> str:
    names = {str: "a string", bool: "true/false", int: "a number", float: "a number", list: "a list"}
    return names.get(type(value), "a JSON object" if isinstance(value, dict) else "null")


def _list_rows(lines: TextIO) -> Iterator[tuple[int, ManifestRow | str]]:
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            # Nothing to check but the path: the row is built here, without the dict of other formats.
            yield number, ManifestRow(stripped, "", _NORMAL, {}) if "\0" not in stripped else _NUL_IN_PATH


def _jsonl_rows(lines: TextIO) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = loads(line.rstrip("\r\n"))
        except ValueError as error:
            yield number, f"not valid JSON ({_json_problem(error)})"
            continue
        yield number, value if isinstance(value, dict) else f"each line must be a JSON object, not {_json_type(value)}"


def _csv_rows(manifest: Path, lines: TextIO) -> Iterator[tuple[int, dict[str, Any] | str]]:
    delimiter = "\t" if manifest.suffix.lower() == ".tsv" else ","
    # strict: an unclosed quote is an error, not a "path" that swallows every line after it. A plain
    # reader, not DictReader: a third of the time on a million rows.
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header = next((row for row in reader if row), [])
    except csv.Error as error:
        raise ConfigError(f"{manifest} line {reader.line_num}: not valid CSV ({error})") from None
    if "path" not in header:
        raise ConfigError(f"{manifest}: a CSV manifest needs a header line with a 'path' column")
    try:
        for row in reader:
            if row:
                yield reader.line_num, _csv_entry(header, row)
    except csv.Error as error:
        # The reader cannot resync after a broken quote: this is the last row it gives.
        yield reader.line_num, f"not valid CSV ({error})"


def _csv_entry(header: list[str], row: list[str]) -> dict[str, Any] | str:
    if len(row) > len(header) and any(row[len(header) :]):
        return f"{len(row)} fields, but the header names {len(header)} (a comma in a path needs quotes)"
    entry: dict[str, Any] = {name: value for name, value in zip(header, row, strict=False) if name and value}
    if "options" in entry:
        try:
            entry["options"] = loads(entry["options"])
        except ValueError as error:
            return f"options is not valid JSON ({_json_problem(error)})"
    return entry


def _entry(base: Path, label: str, line_number: int, row: ManifestRow, *, own_ids: bool) -> Discovered:
    path = Path(row.path)
    if not path.is_absolute():
        path = base / path
    if row.given_id and not own_ids and ".." in PurePosixPath(row.given_id).parts:
        return DiscoveryFailure(
            source_id=f"{label}:{line_number}",
            path=path,
            error_kind=ErrorKind.INTERNAL,
            message=f"{label} line {line_number}: id {row.given_id!r} climbs out of the output folder with '..'; "
            "give an id without '..'",
        )
    source_id = row.given_id or row.path
    found = document_from_stat(path, source_id, priority=row.priority, options=row.options)
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
    given = f"{display_name(str(document.path))} ({where.replace(':', ' line ')})"
    first = rules.ids.put_new(document.source_id, given)
    if first is not None:
        return DiscoveryFailure(
            source_id=where,
            path=document.path,
            error_kind=ErrorKind.COLLISION,
            message=f"id {document.source_id!r} is already given to {first}; this row names "
            f"{display_name(str(document.path))}, whose output would overwrite it: give the row its own id",
        )
    if file_identity is not None:
        rules.seen.add(file_identity)
    return document


@functools.lru_cache(maxsize=1024)
def _real_folder(folder: str) -> str:
    """Resolved once per folder: a manifest lists many files of the same few folders."""
    return os.path.realpath(folder)
