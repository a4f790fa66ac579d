"""Tabular and structured text: CSV/TSV, JSON and JSON Lines.

JSON is parsed by the standard library with every number kept as the token the file holds, so
integers of any width (RFC 8259 §6 sets no limit) and floats come out digit for digit as written,
and objects keep their keys in order, duplicates included. CSV fields may be as long as the file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from json.encoder import encode_basestring as encode_json_string
from json.encoder import encode_basestring_ascii as encode_ascii_json_string
from typing import Any, ClassVar

from pydantic import JsonValue

from docbatch.errors import CorruptDocument
from docbatch.models import Extraction
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.markup import markdown_table
from docbatch.processors.textdecode import decode_text

_SNIFF_BYTES = 64 * 1024
_SURROGATE = re.compile("[\ud800-\udfff]")
_DEFAULT_FIELD_LIMIT = 131072  # Python's csv default, kept as the floor


class CsvProcessor(Processor):
    name = "csv"
    kinds: ClassVar[tuple[str, ...]] = ("csv",)
    library = "python"
    description = "delimited rows with the delimiter detected (stdlib csv); Markdown table, first row as header"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        """Rows as tab-separated lines. Fields may be as long as the file (Python's csv stops at
        128 KiB by default). Raises CorruptDocument when the csv module cannot read the text."""
        text, encoding = decode_text(source.read_bytes())
        delimiter = _delimiter(text, source.path.suffix.lower())
        warnings: list[str] = []
        rows = _read_rows(text, delimiter)
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
        return Extraction(
            kind="csv",
            metadata=metadata,
            text="\n".join(lines),
            markdown=(markdown_table(rows) or None) if source.wants_markdown else None,
            warnings=warnings,
        )


def _read_rows(text: str, delimiter: str) -> list[list[str]]:
    # csv.field_size_limit is process-wide: raised for this read to what the text could hold, then restored.
    previous = csv.field_size_limit(max(_DEFAULT_FIELD_LIMIT, len(text) + 1))
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False))
    except csv.Error as error:
        raise CorruptDocument(f"unreadable CSV: {error}") from error
    finally:
        csv.field_size_limit(previous)


def _delimiter(text: str, suffix: str) -> str:
    if suffix in {".tsv", ".tab"}:
        return "\t"
    try:
        return csv.Sniffer().sniff(text[:_SNIFF_BYTES], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


class JsonNumber(str):
    """A JSON number exactly as the document writes it ("18446744073709551617", "1.10", "1E400")."""


class JsonObject(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs in document order, duplicate keys included."""


class JsonProcessor(Processor):
    name = "json"
    kinds: ClassVar[tuple[str, ...]] = ("json", "jsonl")
    library = "python"
    description = "JSON as indented text with numbers as written, and its shape; JSON Lines record by record"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        """Raises CorruptDocument for text that is not JSON (RFC 8259), naming the line for JSON Lines."""
        text, encoding = decode_text(source.read_bytes())
        warnings: list[str] = []
        parse = _parser(warnings)
        if kind == "jsonl":
            return _json_lines(text, encoding, parse, warnings, wants_markdown=source.wants_markdown)
        value = parse(text)
        metadata: dict[str, JsonValue] = {"encoding": encoding, **_shape(value)}
        title = next((item for key, item in value if key == "title"), None) if isinstance(value, JsonObject) else None
        return Extraction(
            kind="json",
            title=title if type(title) is str else None,
            metadata=metadata,
            text=(text := render_json(value, indent=2)),
            markdown=_code_block(text, "json") if source.wants_markdown else None,
            warnings=list(dict.fromkeys(warnings)),
        )


def _parser(warnings: list[str]) -> Callable[[str], Any]:
    def pairs(items: list[tuple[str, Any]]) -> JsonObject:
        keys = [key for key, _ in items]
        if len(set(keys)) != len(keys):
            warnings.append("an object repeats a key: every value is kept in the text, in order")
        return JsonObject(items)

    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON value")

    def parse(text: str) -> Any:
        try:
            return json.loads(
                text,
                parse_int=JsonNumber,
                parse_float=JsonNumber,
                parse_constant=refuse_constant,
                object_pairs_hook=pairs,
            )
        except RecursionError as error:
            raise CorruptDocument("invalid JSON: nested too deeply to read") from error
        except ValueError as error:
            raise CorruptDocument(f"invalid JSON: {error}") from error

    return parse


def _json_lines(
    text: str, encoding: str, parse: Callable[[str], Any], warnings: list[str], *, wants_markdown: bool
) -> Extraction:
    records: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(render_json(parse(line), indent=None))
        except CorruptDocument as error:
            raise CorruptDocument(f"invalid JSON on line {number}: {error}") from error
    return Extraction(
        kind="jsonl",
        metadata={"encoding": encoding, "records": len(records)},
        text="\n".join(records),
        markdown=_code_block("\n".join(records), "jsonl") if wants_markdown else None,
        warnings=list(dict.fromkeys(warnings)),
    )


def render_json(value: Any, indent: int | None) -> str:
    """JSON text of a parsed value: numbers as written, keys in order; ``indent`` spaces per level
    (orjson's OPT_INDENT_2 layout for 2), or compact (no spaces) for None."""
    out: list[str] = []
    # An explicit stack: literal text is pushed as str, values still to render as (value, level).
    stack: list[str | tuple[Any, int]] = [(value, 0)]
    while stack:
        entry = stack.pop()
        if isinstance(entry, str):
            out.append(entry)
            continue
        item, level = entry
        if isinstance(item, JsonObject | list) and item:
            stack.extend(reversed(_container_pieces(item, indent, level)))
        else:
            out.append(_scalar(item))
    return "".join(out)


def _container_pieces(value: list[Any], indent: int | None, level: int) -> list[str | tuple[Any, int]]:
    is_object = isinstance(value, JsonObject)
    inner = "" if indent is None else "\n" + " " * (indent * (level + 1))
    pieces: list[str | tuple[Any, int]] = ["{" if is_object else "["]
    for position, item in enumerate(value):
        pieces.append(("," if position else "") + inner)
        if is_object:
            pieces.append(_string(item[0]) + (":" if indent is None else ": "))
            item = item[1]
        pieces.append((item, level + 1))
    pieces.append(("" if indent is None else "\n" + " " * (indent * level)) + ("}" if is_object else "]"))
    return pieces


def _scalar(value: Any) -> str:
    if isinstance(value, JsonNumber):
        return str.__str__(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, JsonObject):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return {True: "true", False: "false", None: "null"}[value]


def _string(text: str) -> str:
    # A lone surrogate escape (legal JSON, not encodable text) stays an escape, as the file wrote it.
    if _SURROGATE.search(text):
        return encode_ascii_json_string(text)
    return encode_json_string(text)


def _code_block(text: str, language: str) -> str:
    """A fenced code block (CommonMark §4.5) longer than any backtick run inside ``text``."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _shape(value: Any) -> dict[str, JsonValue]:
    if isinstance(value, JsonObject):
        keys = list[JsonValue](dict.fromkeys(key for key, _ in value))
        return {"top_level": "object", "keys": keys[:50], "size": len(value)}
    if isinstance(value, list):
        return {"top_level": "array", "size": len(value)}
    if isinstance(value, JsonNumber):
        return {"top_level": "float" if any(char in value for char in ".eE") else "int"}
    return {"top_level": type(value).__name__}
