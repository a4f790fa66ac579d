"""Markdown building blocks, checked by rendering them with a CommonMark renderer (markdown-it-py, which
rich already brings): escaped text must render as exactly the text, tables as tables."""

from __future__ import annotations

import html

import pytest
from markdown_it import MarkdownIt

from docbatch.processors.markup import escape_markdown, markdown_table, paragraphs_markdown

RENDERER = MarkdownIt("commonmark").enable("table")


def _rendered_text(markdown: str) -> str:
    tokens = RENDERER.parse(markdown)
    return "".join(child.content for token in tokens if token.children for child in token.children)


@pytest.mark.parametrize(
    "text",
    ["---", "  ===", "- item", "+ item", "1. first", "2) second", "# heading", "> quote", "&copy; &amp; co",
     "*stars* and _under_", "[link](http://x)", "<b>tag</b>", "a | b", "back\\slash", "`code`", "***", "___",
     "## two", "### three ###", "~~~", "  ~~~python", "```"],
)  # fmt: skip
def test_escaped_text_renders_as_itself(text: str) -> None:
    rendered = RENDERER.render(escape_markdown(text))
    assert rendered.startswith("<p>"), rendered  # a paragraph: no heading, list, rule or quote
    assert html.unescape(rendered.removeprefix("<p>").removesuffix("</p>\n")) == text.strip()


def test_a_table_renders_with_its_cells_and_a_header_row() -> None:
    rendered = RENDERER.render(markdown_table([["Line", "2025"], ["Staff | pay", "425,500"], ["multi\nline"]]))
    assert "<th>Line</th>" in rendered and "<td>Staff | pay</td>" in rendered
    assert "<td>multi<br>line</td>" in rendered and rendered.count("<tr>") == 3


def test_lines_of_plain_text_become_separate_paragraphs() -> None:
    rendered = RENDERER.render(paragraphs_markdown("first\nsecond\n\n---\n"))
    assert rendered == "<p>first</p>\n<p>second</p>\n<p>---</p>\n"
