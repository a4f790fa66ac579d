"""E-mail messages (.eml, RFC 5322 / MIME): headers, text and HTML parts, attachment names."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage, MIMEPart
from typing import ClassVar

from pydantic import JsonValue

from docbatch.errors import EmptyDocument, EncryptedDocument
from docbatch.models import Extraction
from docbatch.processors.base import Processor, SourceFile

_HEADERS = ("from", "to", "cc", "subject", "date", "message-id", "reply-to")
_ENCRYPTED_TYPES = frozenset({"multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime"})


class EmailProcessor(Processor):
    name = "email"
    kinds: ClassVar[tuple[str, ...]] = ("eml",)
    library = "python"
    description = "headers, text and HTML bodies, attachment names (stdlib email)"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        message = email.message_from_bytes(source.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)  # guaranteed by policy.default
        metadata: dict[str, JsonValue] = {}
        warnings: list[str] = []
        for name in _HEADERS:
            try:
                value = message.get(name)
            except (ValueError, IndexError, TypeError) as error:  # malformed header values
                warnings.append(f"header {name}: {error}")
                continue
            if value is not None and str(value).strip():
                metadata[name.replace("-", "_")] = " ".join(str(value).split())
        if message.get_content_type() in _ENCRYPTED_TYPES:
            raise EncryptedDocument(f"encrypted message ({message.get_content_type()})")
        # Of a multipart/alternative, only the preferred form is kept (plain text, else HTML).
        bodies: list[str] = []
        body = message.get_body(preferencelist=("plain", "html"))
        if body is not None:
            text = _part_text(body, warnings)
            bodies.append(_html_text(text) if body.get_content_type() == "text/html" else text)
        attachments = [
            part.get_filename() or part.get_content_type()
            for part in message.walk()
            if not part.is_multipart() and (part.get_filename() or part.get_content_disposition() == "attachment")
        ]
        metadata["attachments"] = list[JsonValue](attachments)
        if not bodies and len(metadata) == 1 and not attachments:
            raise EmptyDocument("no headers, body or attachments")
        subject = metadata.get("subject")
        text = "\n\n".join(body.strip() for body in bodies if body.strip())
        return Extraction(
            kind="eml",
            title=subject if isinstance(subject, str) else None,
            metadata=metadata,
            text=text,
            warnings=warnings,
        )


def _part_text(part: MIMEPart, warnings: list[str]) -> str:
    try:
        content = part.get_content()
        return content if isinstance(content, str) else content.decode("utf-8", errors="replace")
    except (LookupError, ValueError, AttributeError) as error:
        # Unknown or lying charset: keep the bytes as UTF-8 with replacements rather than lose the body.
        warnings.append(f"body part {part.get_content_type()}: {error}; decoded as UTF-8 with replacements")
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""


def _html_text(html: str) -> str:
    from selectolax.lexbor import LexborHTMLParser

    from docbatch.processors.web import html_to_text

    tree = LexborHTMLParser(html)
    body = tree.body if tree.body is not None else tree.root
    return html_to_text(body) if body is not None else ""
