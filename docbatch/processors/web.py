"""HTML pages, XHTML files and EPUB books: readable text and Markdown.

HTML is parsed by Lexbor (selectolax), the HTML Living Standard's parser. XHTML (an EPUB chapter, or
a file with an XML declaration or the XHTML namespace) is parsed as XML first, as XHTML must be: there
``<title/>`` and ``<script/>`` are complete elements, where an HTML parser would read the rest of the
chapter as their content. Only XHTML that is not well-formed falls back to the HTML parser.
Encodings follow the WHATWG Encoding Standard (see htmlencoding.py).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import unquote

from pydantic import JsonValue

from docbatch.errors import CorruptDocument
from docbatch.models import Extraction, Page
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.htmlencoding import declared_html_charset, decode_html
from docbatch.processors.htmltext import (
    Event,
    element_events,
    lexbor_events,
    local_name,
    parse_xhtml,
    render_markdown,
    render_text,
)
from docbatch.processors.textdecode import declared_charset_warning
from docbatch.processors.xmlsafe import parse_xml
from docbatch.processors.ziputil import read_part

_XHTML_NAMESPACE = "http://www.w3.org/1999/xhtml"
_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")
_META_NAMES = ("description", "author", "keywords", "generator")


@dataclass
class HtmlDocument:
    """One parsed page: its body's events and what its head says."""

    events: list[Event]
    title: str | None = None
    language: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    links: int = 0
    images: int = 0
    parsed_as_xml: bool = False

    @property
    def text(self) -> str:
        return render_text(self.events)

    @property
    def markdown(self) -> str:
        return render_markdown(self.events)


def looks_like_xhtml(html: str) -> bool:
    """True for a document that announces itself as XML: an XML declaration or the XHTML namespace."""
    head = html[:2048]
    return bool(_XML_DECLARATION.match(head)) or _XHTML_NAMESPACE in head


def read_html(html: str, *, xhtml: bool) -> HtmlDocument:
    """Parse decoded ``html``: as XML first when ``xhtml``, with the HTML parser otherwise or when the
    XML is not well-formed."""
    if xhtml:
        # The text is decoded already; the declaration's encoding must not be applied twice.
        root = parse_xhtml(_XML_DECLARATION.sub("", html, count=1))
        if root is not None:
            return _xml_document(root)
    return _lexbor_document(html)


def html_fragment_text(html: str, *, wants_markdown: bool = True) -> tuple[str, str]:
    """(text, markdown) of an HTML string such as an e-mail's HTML body; markdown "" when not wanted."""
    document = _lexbor_document(html)
    return document.text, document.markdown if wants_markdown else ""


def _lexbor_document(html: str) -> HtmlDocument:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    body = tree.body if tree.body is not None else tree.root
    title_node = tree.css_first("title")
    html_node = tree.css_first("html")
    document = HtmlDocument(
        events=list(lexbor_events(body)) if body is not None else [],
        title=_clean(title_node.text()) if title_node is not None else None,
        language=_clean(html_node.attributes.get("lang")) if html_node is not None else None,
        links=len(tree.css("a[href]")),
        images=len(tree.css("img")),
    )
    for name in _META_NAMES:
        node = tree.css_first(f'meta[name="{name}"]')
        content = _clean(node.attributes.get("content")) if node is not None else None
        if content:
            document.meta[name] = content
    return document


def _xml_document(root: Any) -> HtmlDocument:
    document = HtmlDocument(events=list(element_events(root)), parsed_as_xml=True)
    language = root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang")
    document.language = _clean(language)
    for element in root.iter():
        if _is(element, "title") and document.title is None:
            document.title = _clean("".join(element.itertext()))
        elif _is(element, "meta"):
            name, content = (element.get("name") or "").lower(), _clean(element.get("content"))
            if name in _META_NAMES and content and name not in document.meta:
                document.meta[name] = content
        elif _is(element, "a") and element.get("href") is not None:
            document.links += 1
        elif _is(element, "img") or _is(element, "image"):
            document.images += 1
    return document


def _is(element: Any, name: str) -> bool:
    return isinstance(element.tag, str) and local_name(element.tag) == name


def _clean(value: str | None) -> str | None:
    cleaned = " ".join(value.split()) if value else ""
    return cleaned or None


class HtmlProcessor(Processor):
    name = "html"
    kinds: ClassVar[tuple[str, ...]] = ("html",)
    library = "selectolax"
    description = "title, description and readable body text (XHTML parsed as XML), Markdown with tables"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        data = source.read_bytes()
        html, encoding = decode_html(data)
        warning = declared_charset_warning(declared_html_charset(data), encoding, "the page")
        xhtml = source.path.suffix.lower() == ".xhtml" or looks_like_xhtml(html)
        document = read_html(html, xhtml=xhtml)
        metadata: dict[str, JsonValue] = {"encoding": encoding}
        metadata.update(document.meta)
        if document.language:
            metadata["language"] = document.language
        metadata["links"] = document.links
        if document.parsed_as_xml:
            metadata["parsed_as"] = "xhtml"
        return Extraction(
            kind="html",
            title=document.title,
            metadata=metadata,
            text=document.text,
            markdown=document.markdown if source.wants_markdown else None,
            warnings=[warning] if warning else [],
        )


_OPF = "{http://www.idpf.org/2007/opf}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
# W3C-DTF (the profile of ISO 8601 that OPF prescribes for dc:date): YYYY[-MM[-DD[Thh:mm[:ss[.s]]TZD]]].
_W3CDTF = re.compile(r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?")


class EpubProcessor(Processor):
    name = "epub"
    kinds: ClassVar[tuple[str, ...]] = ("epub",)
    library = "selectolax"
    description = "EPUB 2/3 chapters (XHTML) in spine order, one page per chapter, Dublin Core metadata"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        """Chapters in the OPF spine's order (EPUB 3.3 §5.6 / OPF 2.0.1 §2.4), each parsed as XHTML.

        Raises CorruptDocument for a broken ZIP or a package without a package document; a chapter
        that is missing or has no text is a warning naming it.
        """
        import zipfile

        try:
            with zipfile.ZipFile(source.path) as archive:
                opf_path = _package_document_path(archive)
                opf = parse_xml(read_part(archive, opf_path), opf_path)
                pages, warnings = _chapters(archive, opf, posixpath.dirname(opf_path), source.wants_markdown)
        except zipfile.BadZipFile as error:
            raise CorruptDocument(f"broken ZIP container: {error}") from error
        metadata: dict[str, JsonValue] = {"chapters": len(pages), **_package_metadata(opf)}
        title = metadata.get("title")
        return Extraction.from_pages(
            "epub",
            pages,
            title=title if isinstance(title, str) else None,
            metadata=metadata,
            warnings=warnings,
        )


def _package_document_path(archive: Any) -> str:
    container = parse_xml(read_part(archive, "META-INF/container.xml"), "container.xml")
    rootfile = container.find(f".//{_CONTAINER}rootfile")
    path = rootfile.get("full-path") if rootfile is not None else None
    if not path:
        raise CorruptDocument("container.xml names no package document")
    return str(path)


def _chapters(archive: Any, opf: Any, base: str, wants_markdown: bool) -> tuple[list[Page], list[str]]:
    manifest = {item.get("id"): item for item in opf.iter(f"{_OPF}item")}
    pages: list[Page] = []
    warnings: list[str] = []
    for itemref in opf.iter(f"{_OPF}itemref"):
        item = manifest.get(itemref.get("idref"))
        href = item.get("href") if item is not None else None
        if item is None or not href:
            warnings.append(f"spine entry {itemref.get('idref')!r} is not in the manifest: skipped")
            continue
        name = posixpath.normpath(posixpath.join(base, unquote(href)))
        try:
            html, _ = decode_html(read_part(archive, name))
        except CorruptDocument as error:
            warnings.append(f"chapter {href}: {error}")
            continue
        xhtml = item.get("media-type") == "application/xhtml+xml" or looks_like_xhtml(html)
        document = read_html(html, xhtml=xhtml)
        text = document.text
        if not text:
            images = f" ({document.images} image{'s' if document.images != 1 else ''} only)" if document.images else ""
            warnings.append(f"chapter {href} has no text{images}")
        markdown = (document.markdown or None) if wants_markdown else None
        pages.append(Page(number=len(pages) + 1, text=text, label=href, markdown=markdown))
    return pages, warnings


def _package_metadata(opf: Any) -> dict[str, JsonValue]:
    """Dublin Core title, creators, language, publisher, identifier and publication date, and the EPUB 3
    dcterms:modified date; dates only when they are ISO 8601 (W3C-DTF) as OPF requires."""
    metadata: dict[str, JsonValue] = {}
    for tag in ("title", "language", "publisher", "identifier"):
        values = _dc_values(opf, tag)
        if values:
            metadata[tag] = values[0]
    creators = _dc_values(opf, "creator")
    if creators:
        metadata["author"] = "; ".join(dict.fromkeys(creators))
    dates = [(element.get(f"{_OPF}event"), _clean(element.text)) for element in opf.iter(f"{_DC}date")]
    date = next((value for event, value in dates if event == "publication"), None) or next(
        (value for _, value in dates if value), None
    )
    if date and _W3CDTF.fullmatch(date):
        metadata["date"] = date
    for meta in opf.iter(f"{_OPF}meta"):
        modified = _clean(meta.text) if meta.get("property") == "dcterms:modified" else None
        if modified and _W3CDTF.fullmatch(modified):
            metadata["modified"] = modified
    return metadata


def _dc_values(opf: Any, tag: str) -> list[str]:
    return [value for element in opf.iter(f"{_DC}{tag}") if (value := _clean(element.text))]
