"""HTML pages and EPUB books: readable text through the Lexbor parser (selectolax)."""

from __future__ import annotations

import posixpath
import re
import zipfile
from typing import Any, ClassVar

from pydantic import JsonValue

from docbatch.errors import CorruptDocument
from docbatch.models import Extraction, Page
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.textdecode import bom_encoding, decode_text
from docbatch.processors.xmlsafe import parse_xml
from docbatch.processors.ziputil import read_part

_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe", "object"})
_BLOCK_TAGS = frozenset({
    "p", "div", "section", "article", "header", "footer", "nav", "aside", "main", "blockquote", "pre",
    "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "caption", "form",
    "fieldset", "figure", "figcaption", "address", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "details",
    "summary", "body", "title",
})  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_SPACES = re.compile(r"[ \f\v\u00a0\u200b]+")
_TABS = re.compile(r"\s*\t[\s\t]*")


def decode_html(data: bytes) -> tuple[str, str]:
    """Decode HTML: a BOM, then the <meta charset> of the first 4 KB, then UTF-8, then detection."""
    declared = None
    if not bom_encoding(data):
        match = _META_CHARSET.search(data[:4096])
        declared = match.group(1).decode("ascii", errors="ignore") if match else None
    return decode_text(data, declared)


def html_to_text(root: Any) -> str:
    """Readable text of a parsed node: block elements on their own lines, table cells tab-separated."""
    out: list[str] = []
    # An explicit stack: pages with thousands of unclosed tags nest too deep for recursion.
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            out.append("\n")
            continue
        if node.is_text_node:
            out.append(node.text_content or "")
            continue
        tag = node.tag
        if tag in _SKIP_TAGS or tag == "-comment":
            continue
        if tag == "br":
            out.append("\n")
            continue
        if tag in _BLOCK_TAGS:
            out.append("\n")
            stack.append((node, True))
        elif tag in _CELL_TAGS:
            out.append("\t")
        stack.extend((child, False) for child in reversed(list(node.iter(include_text=True))))
    return _tidy("".join(out))


def _tidy(text: str) -> str:
    lines = [_TABS.sub("\t", _SPACES.sub(" ", line)).strip() for line in text.split("\n")]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy).strip("\n")


def _meta(tree: Any, name: str) -> str | None:
    node = tree.css_first(f'meta[name="{name}"]')
    content = node.attributes.get("content") if node is not None else None
    return content.strip() if content and content.strip() else None


class HtmlProcessor(Processor):
    name = "html"
    kinds: ClassVar[tuple[str, ...]] = ("html",)
    library = "selectolax"
    description = "title, description and readable body text"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        from selectolax.lexbor import LexborHTMLParser

        html, encoding = decode_html(source.read_bytes())
        tree = LexborHTMLParser(html)
        title_node = tree.css_first("title")
        title = " ".join(title_node.text().split()) if title_node is not None else None
        metadata: dict[str, JsonValue] = {"encoding": encoding}
        for name in ("description", "author", "keywords", "generator"):
            value = _meta(tree, name)
            if value:
                metadata[name] = value
        html_node = tree.css_first("html")
        lang = html_node.attributes.get("lang") if html_node is not None else None
        if lang:
            metadata["language"] = lang
        metadata["links"] = len(tree.css("a[href]"))
        body = tree.body if tree.body is not None else tree.root
        text = html_to_text(body) if body is not None else ""
        return Extraction(kind="html", title=title or None, metadata=metadata, text=text)


_OPF = "{http://www.idpf.org/2007/opf}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"


class EpubProcessor(Processor):
    name = "epub"
    kinds: ClassVar[tuple[str, ...]] = ("epub",)
    library = "selectolax"
    description = "EPUB 2/3 chapters in spine order, one page per chapter, Dublin Core metadata"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        from selectolax.lexbor import LexborHTMLParser

        try:
            with zipfile.ZipFile(source.path) as archive:
                container = parse_xml(read_part(archive, "META-INF/container.xml"), "container.xml")
                rootfile = container.find(f".//{_CONTAINER}rootfile")
                if rootfile is None or not rootfile.get("full-path"):
                    raise CorruptDocument("container.xml names no package document")
                opf_path = rootfile.get("full-path")
                opf = parse_xml(read_part(archive, opf_path), opf_path)
                base = posixpath.dirname(opf_path)
                hrefs = {item.get("id"): item.get("href") for item in opf.iter(f"{_OPF}item")}
                pages: list[Page] = []
                warnings: list[str] = []
                for itemref in opf.iter(f"{_OPF}itemref"):
                    href = hrefs.get(itemref.get("idref"))
                    if not href:
                        continue
                    name = posixpath.normpath(posixpath.join(base, href))
                    try:
                        html, _ = decode_html(read_part(archive, name))
                    except CorruptDocument as error:
                        warnings.append(str(error))
                        continue
                    tree = LexborHTMLParser(html)
                    body = tree.body if tree.body is not None else tree.root
                    text = html_to_text(body) if body is not None else ""
                    pages.append(Page(number=len(pages) + 1, text=text, label=href))
        except zipfile.BadZipFile as error:
            raise CorruptDocument(f"broken ZIP container: {error}") from error
        metadata: dict[str, JsonValue] = {"chapters": len(pages)}
        for tag, key in (
            ("title", "title"),
            ("creator", "author"),
            ("language", "language"),
            ("publisher", "publisher"),
            ("date", "date"),
            ("identifier", "identifier"),
        ):
            found = opf.find(f".//{_DC}{tag}")
            if found is not None and found.text and found.text.strip():
                metadata[key] = found.text.strip()
        title = metadata.get("title")
        return Extraction.from_pages(
            "epub",
            pages,
            title=title if isinstance(title, str) else None,
            metadata=metadata,
            warnings=warnings,
        )
