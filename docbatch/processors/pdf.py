"""PDF through PDFium (pypdfium2): text per page, page count, document metadata."""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from docbatch.errors import CorruptDocument, EncryptedDocument
from docbatch.models import Extraction, Page
from docbatch.processors.base import Processor, SourceFile


class PdfProcessor(Processor):
    name = "pdf"
    kinds: ClassVar[tuple[str, ...]] = ("pdf",)
    library = "pypdfium2"
    description = "text per page and document info via PDFium"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        import pypdfium2 as pdfium

        try:
            document = pdfium.PdfDocument(str(source.path))
        except pdfium.PdfiumError as error:
            message = str(error)
            if "password" in message.lower():
                raise EncryptedDocument("password-protected PDF") from error
            raise CorruptDocument(f"PDFium cannot open it: {message}") from error
        try:
            pages: list[Page] = []
            warnings: list[str] = []
            for index in range(len(document)):
                pages.append(Page(number=index + 1, text=_page_text(document, index, warnings)))
            metadata: dict[str, JsonValue] = {
                key.lower(): value for key, value in document.get_metadata_dict(skip_empty=True).items()
            }
            metadata["page_count"] = len(pages)
            metadata["pdf_version"] = _pdf_version(document)
        finally:
            document.close()
        if pages and not any(page.text.strip() for page in pages):
            warnings.append("no text layer: the PDF holds only images or vector paths (OCR is not done)")
        title = metadata.get("title")
        return Extraction.from_pages(
            "pdf",
            pages,
            title=title if isinstance(title, str) else None,
            metadata=metadata,
            warnings=warnings,
        )


def _page_text(document: object, index: int, warnings: list[str]) -> str:
    import pypdfium2 as pdfium

    try:
        page = document[index]  # type: ignore[index]
    except pdfium.PdfiumError as error:
        warnings.append(f"page {index + 1}: cannot load: {error}")
        return ""
    try:
        textpage = page.get_textpage()
        try:
            text: str = textpage.get_text_bounded()
        finally:
            textpage.close()
    finally:
        page.close()
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _pdf_version(document: object) -> str | None:
    version = document.get_version()  # type: ignore[attr-defined]
    if not version:
        return None
    return f"{version // 10}.{version % 10}"
