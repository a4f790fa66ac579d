"""Parsing untrusted XML: entity expansion, DTDs and external references refused (billion laughs, XXE)."""

from __future__ import annotations

from typing import Any

from docbatch.errors import CorruptDocument


def parse_xml(
    data: bytes | str, part: str, *, allow_doctype: bool = False, entities: dict[str, str] | None = None
) -> Any:
    """Parse ``data`` (the part or document named ``part``) into an ElementTree element.

    Entity declarations and external references are always refused. ``allow_doctype`` lets a bare
    DOCTYPE through (ordinary XML files and EPUB 2 chapters carry one); ``entities`` names entities
    that resolve without reading any DTD (XHTML's ``&nbsp;``). Raises CorruptDocument naming the part
    when the XML is invalid or unsafe.
    """
    from xml.etree.ElementTree import TreeBuilder

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import DefusedXMLParser, ParseError

    # The C tree builder, as defusedxml's own fromstring uses: its elements iterate without recursion
    # limits that the pure-Python ones hit on deeply nested documents.
    parser = DefusedXMLParser(
        target=TreeBuilder(), forbid_dtd=not allow_doctype, forbid_entities=True, forbid_external=True
    )
    if entities:
        parser.entity.update(entities)
    try:
        parser.feed(data)
        return parser.close()
    except DefusedXmlException as error:
        raise CorruptDocument(f"{part}: refused unsafe XML: {_unsafe_xml_reason(error)}") from error
    except (ParseError, ValueError) as error:
        raise CorruptDocument(f"{part}: invalid XML: {error}") from error


_UNSAFE_REASONS = {
    "DTDForbidden": "it declares a document type (DTD)",
    "EntitiesForbidden": "it declares entities, which could expand without bound",
    "ExternalReferenceForbidden": "it refers to an external resource",
    "NotSupportedError": "it uses an XML feature that is refused for safety",
}


def _unsafe_xml_reason(error: Exception) -> str:
    """Why defusedxml refused a document, in words."""
    return _UNSAFE_REASONS.get(type(error).__name__, "it uses an XML feature that is refused for safety")
