"""The processor contract: one class per format family, one required method.

A processor runs inside a worker process. It receives a :class:`SourceFile` (path, first bytes,
size, per-document options) and returns an :class:`~docbatch.models.Extraction`, or raises a
:class:`~docbatch.errors.DocumentError` subclass naming why the document cannot be read. Any other
exception is caught by the worker and recorded as ``corrupt`` with the library's message.
Libraries are imported inside :meth:`Processor.extract`, so listing processors and `--help` stay fast.
"""

from __future__ import annotations

import abc
import functools
import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from pydantic import JsonValue

from docbatch.models import Extraction


@dataclass
class SourceFile:
    """One document as a processor sees it; bytes are read lazily and at most once."""

    path: Path
    size: int
    head: bytes
    options: dict[str, JsonValue] = field(default_factory=dict)
    # False when the run's output format shows no Markdown (json, jsonl, txt): a processor whose
    # Markdown costs real time (tables, HTML) may leave Extraction.markdown unset then.
    wants_markdown: bool = True
    _data: bytes | None = None

    def read_bytes(self) -> bytes:
        if self._data is None:
            self._data = self.path.read_bytes()
        return self._data


class Processor(abc.ABC):
    """Extracts text and metadata from one family of formats.

    Subclasses set ``name`` (unique), ``kinds`` (the detected types they handle; file extensions
    map to types in sniff.EXTENSION_KINDS), ``library`` (the distribution whose version is
    recorded in each output and in the recipe hash) and implement :meth:`extract`.
    """

    name: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]]
    library: ClassVar[str]
    description: ClassVar[str] = ""

    @abc.abstractmethod
    def extract(self, source: SourceFile, kind: str) -> Extraction:
        """Return the document's text and metadata; raise a DocumentError when it cannot be read."""

    @classmethod
    def version(cls) -> str:
        """`name/library-version`, part of every output and of the recipe hash. A built-in processor
        adds docbatch's own version (`pdf/5.15.2+docbatch.0.1.0`): most of what it does (reading OOXML,
        keeping PDF words apart, cleaning text) is docbatch's code, and a new release of that code must
        redo documents extracted by the old one."""
        version = f"{cls.name}/{library_version(cls.library)}"
        if cls.__module__.startswith("docbatch.processors."):
            version += f"+docbatch.{library_version('docbatch')}"
        return version


@functools.cache
def library_version(distribution: str) -> str:
    """Installed version of a distribution, or 'missing' (the processor then fails with a clear message)."""
    if distribution == "python":
        import platform

        return platform.python_version()
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "missing"
