"""Reading Office Open XML packages (DOCX, XLSX, PPTX and their macro, template and Strict forms).

An OOXML file is an Open Packaging Conventions container (ECMA-376 Part 2): a ZIP of XML parts tied
together by relationship parts (``_rels/*.rels``). This module gives the processors one safe way in:
the ZIP is checked for decompression bombs before anything is unpacked, XML is parsed without entity
expansion or external references, and Strict OOXML (ECMA-376 Part 1, Strict conformance, whose
namespaces live under ``http://purl.oclc.org/ooxml/``) is mapped to the Transitional namespaces, so a
processor is written once against the Transitional names.
"""

from __future__ import annotations

import datetime
import posixpath
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from docbatch.errors import CorruptDocument
from docbatch.processors.xmlsafe import parse_xml
from docbatch.processors.ziputil import check_archive, read_part

REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELS_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
# Strict names map onto Transitional ones by rule: .../ooxml/<area>/<name> -> .../<area>/2006/<name>
# (wordprocessingml/main, officeDocument/relationships/..., drawingml/chart, officeDocument/math, ...).
_STRICT_NAMESPACE = re.compile(rb"http://purl\.oclc\.org/ooxml/([A-Za-z]+)/")
_TRANSITIONAL_NAMESPACE = rb"http://schemas.openxmlformats.org/\1/2006/"

_CORE_NAMES = {
    "{http://purl.org/dc/elements/1.1/}title": "title",
    "{http://purl.org/dc/elements/1.1/}subject": "subject",
    "{http://purl.org/dc/elements/1.1/}creator": "author",
    "{http://purl.org/dc/elements/1.1/}description": "comments",
    "{http://purl.org/dc/elements/1.1/}language": "language",
    "{http://schemas.openxmlformats.org/package/2006/metadata/core-properties}keywords": "keywords",
    "{http://schemas.openxmlformats.org/package/2006/metadata/core-properties}category": "category",
    "{http://schemas.openxmlformats.org/package/2006/metadata/core-properties}lastModifiedBy": "last_modified_by",
    "{http://schemas.openxmlformats.org/package/2006/metadata/core-properties}revision": "revision",
    "{http://schemas.openxmlformats.org/package/2006/metadata/core-properties}contentStatus": "status",
    "{http://purl.org/dc/terms/}created": "created",
    "{http://purl.org/dc/terms/}modified": "modified",
}


@dataclass(frozen=True)
class Relationship:
    """One relationship of a part: ``type`` is the full URI, ``target`` a part name inside the package
    (no leading slash) or, when ``external``, the target as written (a URL)."""

    id: str
    type: str
    target: str
    external: bool

    def is_a(self, type_suffix: str) -> bool:
        """True when the relationship type ends with ``/type_suffix`` (e.g. ``"image"``, ``"footnotes"``)."""
        return self.type.endswith("/" + type_suffix)


class OpcPackage:
    """An opened OOXML package. Raises CorruptDocument when the ZIP or a needed part is unreadable,
    DocumentTooLarge when the ZIP looks like a decompression bomb (see ziputil)."""

    def __init__(self, path: Path) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            raise CorruptDocument(f"broken ZIP container: {error}") from error
        check_archive(self._zip)
        # Some writers store Windows separators (``xl\\workbook.xml``); OPC part names use "/".
        self._names = {name.replace("\\", "/").lstrip("/"): name for name in self._zip.namelist()}
        self._lower_names = {name.lower(): name for name in self._names}
        self._relationships: dict[str, list[Relationship]] = {}

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> OpcPackage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has(self, part: str) -> bool:
        return self._find(part) is not None

    def _find(self, part: str) -> str | None:
        part = part.lstrip("/")
        if part in self._names:
            return self._names[part]
        # Part names are case-insensitive in OPC (ECMA-376 Part 2 §6.2.2.3).
        actual = self._lower_names.get(part.lower())
        return self._names[actual] if actual is not None else None

    def read(self, part: str) -> bytes:
        """A part's bytes, XML parts with Strict namespaces mapped to Transitional ones."""
        member = self._find(part)
        if member is None:
            raise CorruptDocument(f"missing part {part!r}")
        data = read_part(self._zip, member)
        if part.endswith((".xml", ".rels", ".vml")) and b"purl.oclc.org/ooxml/" in data:
            data = _STRICT_NAMESPACE.sub(_TRANSITIONAL_NAMESPACE, data)
        return data

    def xml(self, part: str) -> Any:
        """A part parsed as XML (an ElementTree element; entities and DTDs refused)."""
        return parse_xml(self.read(part), part)

    def relationships(self, source: str = "") -> list[Relationship]:
        """The relationships of ``source`` (a part name; "" for the package itself), in file order."""
        if source in self._relationships:
            return self._relationships[source]
        folder, name = posixpath.split(source.lstrip("/"))
        rels_part = posixpath.join(folder, "_rels", f"{name}.rels")
        found: list[Relationship] = []
        if self.has(rels_part):
            for element in self.xml(rels_part).iter(f"{_PACKAGE_RELS_NS}Relationship"):
                found.append(_relationship(element, folder))
        self._relationships[source] = found
        return found

    def related(self, source: str, type_suffix: str) -> list[Relationship]:
        """The relationships of ``source`` whose type ends with ``/type_suffix``."""
        return [rel for rel in self.relationships(source) if rel.is_a(type_suffix)]

    def target(self, source: str, relationship_id: str) -> Relationship | None:
        """The relationship ``relationship_id`` (an ``r:id`` value) of ``source``, if it exists."""
        return next((rel for rel in self.relationships(source) if rel.id == relationship_id), None)

    @property
    def main_part(self) -> str:
        """The main document part (``word/document.xml``, ``xl/workbook.xml``, ``ppt/presentation.xml``
        in the usual layout), found through the package's officeDocument relationship."""
        for rel in self.related("", "officeDocument"):
            if not rel.external and self.has(rel.target):
                return rel.target
        raise CorruptDocument("no main document part (the package has no officeDocument relationship)")

    def core_properties(self) -> dict[str, JsonValue]:
        """The core properties the file really holds (docProps/core.xml), empty ones left out; dates as
        the ISO 8601 strings the file stores (W3CDTF). Nothing is invented when the part is absent."""
        parts = [rel.target for rel in self.related("", "core-properties") if not rel.external]
        if not parts and self.has("docProps/core.xml"):
            parts = ["docProps/core.xml"]
        found: dict[str, JsonValue] = {}
        for part in parts[:1]:
            if not self.has(part):
                continue
            for element in self.xml(part):
                field = _CORE_NAMES.get(element.tag)
                value = " ".join((element.text or "").split())
                if field is not None and value:
                    found[field] = _iso_date(value) if field in {"created", "modified"} else value
        return found


def _relationship(element: Any, folder: str) -> Relationship:
    target = element.get("Target", "")
    external = element.get("TargetMode") == "External"
    if not external:
        # Targets are relative to the source part's folder unless they start with "/".
        joined = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        target = posixpath.normpath(joined).lstrip("/")
    return Relationship(id=element.get("Id", ""), type=element.get("Type", ""), target=target, external=external)


def _iso_date(value: str) -> str:
    """A W3CDTF date normalised to ISO 8601 (``Z`` kept as ``+00:00``); kept as written when invalid."""
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except ValueError:
        return value
