"""XML documents: news feeds (RSS 0.9x/2.0, RSS 1.0/RDF, Atom) by their items, any other XML by its text.

Read as plain text, an XML file gives its tags as words and a feed gives its articles as escaped
markup (``&lt;p&gt;``). Parsed, a feed's items come out as title, date, link and readable body (the
body's HTML read like a web page), and any other XML as the text of its elements in document order:
an element that holds text directly (mixed content such as ``<p>a <b>b</b> c</p>``) is one line, its
inline children included; elements that only hold other elements are walked into.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import JsonValue

from docbatch.errors import CorruptDocument
from docbatch.models import Extraction
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.markup import escape_markdown, heading, paragraphs_markdown
from docbatch.processors.textdecode import decode_text
from docbatch.processors.xmlsafe import parse_xml

_ATOM = "{http://www.w3.org/2005/Atom}"
_XML_DECLARATION = re.compile(r"\A\ufeff?\s*<\?xml[^>]*\?>")
_CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
_DC_DATE = "{http://purl.org/dc/elements/1.1/}date"
_DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"


@dataclass
class FeedItem:
    """One article of a feed; ``body`` is readable text (HTML already turned into text)."""

    title: str
    date: str
    link: str
    author: str
    body: str


class XmlProcessor(Processor):
    name = "xml"
    kinds: ClassVar[tuple[str, ...]] = ("xml",)
    library = "defusedxml"
    description = "feeds (RSS, Atom) item by item with readable bodies; other XML as the text of its elements"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        data = source.read_bytes()
        warnings: list[str] = []
        try:
            root = _parse(data)
        except CorruptDocument as error:
            decoded, encoding = decode_text(data)
            try:
                # A declaration that lies about the encoding (UTF-16 bytes declared UTF-8) is common:
                # decode by the bytes themselves, drop the declaration, and parse again.
                root = _parse(_XML_DECLARATION.sub("", decoded, count=1).encode("utf-8"))
                warnings.append(f"the XML declaration does not match the bytes; read as {encoding}")
            except CorruptDocument:
                # Not well-formed: still a text file; read it as one rather than lose it, and say so.
                return Extraction(kind="xml", text=decoded, warnings=[f"not well-formed XML ({error}); read as text"])
        name = _local(root.tag)
        metadata: dict[str, JsonValue] = {"root_element": name}
        namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
        if namespace:
            metadata["namespace"] = namespace
        feed = _feed(root)
        if feed is not None:
            title, items = feed
            metadata["items"] = len(items)
            markdown = _feed_markdown(title, items) if source.wants_markdown else None
            return Extraction(
                kind="xml",
                title=title or None,
                metadata=metadata,
                text=_feed_text(title, items),
                markdown=markdown,
                warnings=warnings,
            )
        lines = list(_element_lines(root))
        title_element = next((child for child in root if _local(child.tag) == "title"), None)
        title = _text_of(title_element) if title_element is not None else ""
        text = "\n".join(lines)
        return Extraction(
            kind="xml",
            title=title or None,
            metadata=metadata,
            text=text,
            markdown=paragraphs_markdown(text) if source.wants_markdown else None,
            warnings=warnings,
        )


def _parse(data: bytes) -> Any:
    """Parse with entity declarations and external references refused; a DOCTYPE alone is allowed
    (many ordinary XML files carry one). The XML declaration and byte-order mark decide the encoding."""
    return parse_xml(data, "the document", allow_doctype=True)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text_of(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


def _element_lines(root: Any) -> list[str]:
    """One line per element holding text directly (with its inline children), in document order."""
    lines: list[str] = []
    stack = [root]
    while stack:
        element = stack.pop()
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions
        if (element.text or "").strip() or any((child.tail or "").strip() for child in element):
            line = _text_of(element)
            if line:
                lines.append(line)
            continue
        stack.extend(reversed(list(element)))
    return lines


def _feed(root: Any) -> tuple[str, list[FeedItem]] | None:
    """(feed title, items) for RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom 1.0 (RFC 4287); None otherwise."""
    name = _local(root.tag)
    if name == "rss":
        channel = next((child for child in root if _local(child.tag) == "channel"), None)
        if channel is None:
            return None
        return _child_text(channel, "title"), [_rss_item(item) for item in channel if _local(item.tag) == "item"]
    if name == "RDF":
        channel = next((child for child in root if _local(child.tag) == "channel"), None)
        title = _child_text(channel, "title") if channel is not None else ""
        return title, [_rss_item(item) for item in root if _local(item.tag) == "item"]
    if root.tag == f"{_ATOM}feed":
        return _child_text(root, "title"), [_atom_entry(entry) for entry in root.iter(f"{_ATOM}entry")]
    return None


def _child_text(parent: Any, local_name: str) -> str:
    child = next((child for child in parent if _local(child.tag) == local_name), None)
    return _text_of(child) if child is not None else ""


def _rss_item(item: Any) -> FeedItem:
    encoded = item.find(_CONTENT_ENCODED)
    body_html = _text_of(encoded) if encoded is not None else ""
    if not body_html:
        description = next((child for child in item if _local(child.tag) == "description"), None)
        body_html = "".join(description.itertext()) if description is not None else ""
    return FeedItem(
        title=_child_text(item, "title"),
        date=_child_text(item, "pubDate") or _dc(item, _DC_DATE),
        link=_child_text(item, "link"),
        author=_child_text(item, "author") or _dc(item, _DC_CREATOR),
        body=_html_text(body_html),
    )


def _dc(item: Any, tag: str) -> str:
    found = item.find(tag)
    return _text_of(found) if found is not None else ""


def _atom_entry(entry: Any) -> FeedItem:
    body = ""
    for name in ("content", "summary"):
        element = entry.find(f"{_ATOM}{name}")
        if element is None:
            continue
        if element.get("type") == "xhtml":
            body = "\n".join(_element_lines(element))
        elif element.get("type") == "html":
            body = _html_text("".join(element.itertext()))
        else:
            body = "".join(element.itertext()).strip()
        if body:
            break
    link = entry.find(f"{_ATOM}link")
    author = entry.find(f"{_ATOM}author/{_ATOM}name")
    return FeedItem(
        title=_child_text(entry, "title"),
        date=_child_text(entry, "updated") or _child_text(entry, "published"),
        link=link.get("href", "") if link is not None else "",
        author=_text_of(author) if author is not None else "",
        body=body,
    )


def _html_text(html: str) -> str:
    if "<" not in html and "&" not in html:
        return html.strip()
    from docbatch.processors.web import html_fragment_text

    return html_fragment_text(html, wants_markdown=False)[0].strip()


def _facts(item: FeedItem) -> list[str]:
    return [fact for fact in (item.date, item.author, item.link) if fact]


def _feed_text(title: str, items: list[FeedItem]) -> str:
    blocks = [title] if title else []
    blocks += ["\n".join(part for part in (item.title, *_facts(item), item.body) if part) for item in items]
    return "\n\n".join(blocks)


def _feed_markdown(title: str, items: list[FeedItem]) -> str:
    blocks = [heading(title, 1)] if title else []
    for item in items:
        blocks.append(heading(item.title or "(untitled item)", 2))
        if _facts(item):
            blocks.append("  \n".join(escape_markdown(fact) for fact in _facts(item)))
        if item.body:
            blocks.append(paragraphs_markdown(item.body))
    return "\n\n".join(blocks)
