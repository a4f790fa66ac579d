"""Parsing untrusted XML: entity expansion, DTDs and external references refused (billion laughs, XXE)."""

from __future__ import annotations

from typing import Any

from docbatch.errors import CorruptDocument


def parse_xml(data: bytes, part: str) -> Any:
    """Parse ``data`` (the bytes of the part named ``part``) into an ElementTree element.

    Raises CorruptDocument naming the part when the XML is invalid or declares a DTD or entities.
    """
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        return fromstring(data, forbid_dtd=True)
    except DefusedXmlException as error:
        raise CorruptDocument(f"{part}: refused unsafe XML: {unsafe_xml_reason(error)}") from error
    except ParseError as error:
        raise CorruptDocument(f"{part}: invalid XML: {error}") from error


_UNSAFE_REASONS = {
    "DTDForbidden": "it declares a document type (DTD)",
    "EntitiesForbidden": "it declares entities, which could expand without bound",
    "ExternalReferenceForbidden": "it refers to an external resource",
    "NotSupportedError": "it uses an XML feature that is refused for safety",
}


def unsafe_xml_reason(error: Exception) -> str:
    """Why defusedxml refused a document, in words."""
    return _UNSAFE_REASONS.get(type(error).__name__, "it uses an XML feature that is refused for safety")
