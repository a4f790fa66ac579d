"""Tabular and structured text: CSV/TSV, JSON and JSON Lines."""

from __future__ import annotations

import csv
import io
from typing import Any, ClassVar

from pydantic import JsonValue

from docbatch.errors import CorruptDocument
from docbatch.models import Extraction
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.textdecode import decode_text
from docbatch.serialization import dumps_compact, dumps_pretty, loads

_SNIFF_BYTES = 64 * 1024


class CsvProcessor(Processor):
    name = "csv"
    kinds: ClassVar[tuple[str, ...]] = ("csv",)
    library = "python"
    description = "delimited rows with the delimiter and header detected (stdlib csv)"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        text, encoding = decode_text(source.read_bytes())
        delimiter = _delimiter(text, source.path.suffix.lower())
        warnings: list[str] = []
        rows: list[list[str]] = []
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False))
        except csv.Error as error:
            raise CorruptDocument(f"unreadable CSV: {error}") from error
        if text.count('"') % 2:
            warnings.append("odd number of quote characters: a quoted field may be unterminated")
        columns = max((len(row) for row in rows), default=0)
        lines = ["\t".join(" ".join(cell.split()) for cell in row) for row in rows]
        metadata: dict[str, JsonValue] = {
            "encoding": encoding,
            "delimiter": delimiter,
            "rows": len(rows),
            "columns": columns,
        }
        if rows:
            metadata["header"] = list[JsonValue](rows[0][:100])
        return Extraction(kind="csv", metadata=metadata, text="\n".join(lines), warnings=warnings)


def _delimiter(text: str, suffix: str) -> str:
    if suffix in {".tsv", ".tab"}:
        return "\t"
    try:
        return csv.Sniffer().sniff(text[:_SNIFF_BYTES], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


class JsonProcessor(Processor):
    name = "json"
    kinds: ClassVar[tuple[str, ...]] = ("json", "jsonl")
    library = "orjson"
    description = "JSON as indented text with its shape; JSON Lines record by record"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        text, encoding = decode_text(source.read_bytes())
        if kind == "jsonl":
            return _json_lines(text, encoding)
        try:
            value = loads(text)
        except ValueError as error:
            raise CorruptDocument(f"invalid JSON: {error}") from error
        metadata: dict[str, JsonValue] = {"encoding": encoding, **_shape(value)}
        title = value.get("title") if isinstance(value, dict) else None
        return Extraction(
            kind="json",
            title=title if isinstance(title, str) else None,
            metadata=metadata,
            text=dumps_pretty(value).decode("utf-8").rstrip("\n"),
        )


def _json_lines(text: str, encoding: str) -> Extraction:
    records: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(dumps_compact(loads(line)).decode("utf-8"))
        except ValueError as error:
            raise CorruptDocument(f"invalid JSON on line {number}: {error}") from error
    return Extraction(kind="jsonl", metadata={"encoding": encoding, "records": len(records)}, text="\n".join(records))


def _shape(value: Any) -> dict[str, JsonValue]:
    if isinstance(value, dict):
        return {"top_level": "object", "keys": list(value)[:50], "size": len(value)}
    if isinstance(value, list):
        return {"top_level": "array", "size": len(value)}
    return {"top_level": type(value).__name__}
