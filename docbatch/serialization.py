"""The only module that imports orjson: JSON encoding for outputs, the ledger and the report."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

# Outputs are built in a fixed key order and a fixed indent, so they are byte-identical across runs
# (resume checks rely on it); compact JSON sorts keys because it also feeds stable_hash().
_PRETTY = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
_COMPACT = orjson.OPT_SORT_KEYS


def dumps_pretty(value: Any) -> bytes:
    """Indented, key-sorted JSON ending in a newline, for files people read."""
    return orjson.dumps(value, option=_PRETTY)


def dumps_compact(value: Any) -> bytes:
    """One-line, key-sorted JSON, for JSONL streams and the ledger."""
    return orjson.dumps(value, option=_COMPACT)


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises ValueError (orjson.JSONDecodeError) on invalid input."""
    return orjson.loads(data)


def stable_hash(value: Any) -> str:
    """A short hex digest of a JSON-able value that does not depend on dict order."""
    return hashlib.sha256(dumps_compact(value)).hexdigest()[:16]
