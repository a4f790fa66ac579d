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
        raise CorruptDocument(f"{part}: refused unsafe XML ({type(error).__name__})") from error
    except ParseError as error:
        raise CorruptDocument(f"{part}: invalid XML: {error}") from error
