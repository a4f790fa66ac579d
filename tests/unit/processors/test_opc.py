"""The OOXML package reader: part names, Strict namespaces, relationships and honest core properties."""

from __future__ import annotations

import zipfile
from pathlib import Path

from docbatch.processors.opc import OpcPackage

RELS = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="{ns}/officeDocument" Target="word/document.xml"/>{extra}</Relationships>'
)
TRANSITIONAL_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _package(path: Path, parts: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def test_windows_separators_in_part_names_are_found(tmp_path: Path) -> None:
    path = _package(
        tmp_path / "p.docx", {"_rels\\.rels": RELS.format(ns=TRANSITIONAL_RELS, extra=""), "word\\document.xml": "<d/>"}
    )
    with OpcPackage(path) as package:
        assert package.main_part == "word/document.xml"
        assert package.read("word/document.xml") == b"<d/>"


def test_strict_namespaces_read_as_transitional(tmp_path: Path) -> None:
    strict = RELS.format(ns="http://purl.oclc.org/ooxml/officeDocument/relationships", extra="")
    body = '<w:document xmlns:w="http://purl.oclc.org/ooxml/wordprocessingml/main"><w:body/></w:document>'
    path = _package(tmp_path / "s.docx", {"_rels/.rels": strict, "word/document.xml": body})
    with OpcPackage(path) as package:
        assert package.main_part == "word/document.xml"
        root = package.xml("word/document.xml")
        assert root.tag == "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}document"


def test_core_properties_hold_only_what_the_file_says(tmp_path: Path) -> None:
    bare = _package(tmp_path / "bare.docx", {"_rels/.rels": RELS.format(ns=TRANSITIONAL_RELS, extra="")})
    with OpcPackage(bare) as package:
        assert package.core_properties() == {}
    core = (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/">'
        "<dc:title>Minutes</dc:title><dc:creator> Ada </dc:creator><cp:lastModifiedBy></cp:lastModifiedBy>"
        "<dcterms:modified>2026-03-14T09:30:00Z</dcterms:modified></cp:coreProperties>"
    )
    extra = (
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
        'core-properties" Target="docProps/core.xml"/>'
    )
    path = _package(
        tmp_path / "c.docx", {"_rels/.rels": RELS.format(ns=TRANSITIONAL_RELS, extra=extra), "docProps/core.xml": core}
    )
    with OpcPackage(path) as package:
        assert package.core_properties() == {
            "title": "Minutes",
            "author": "Ada",
            "modified": "2026-03-14T09:30:00+00:00",
        }
