import errno
import json
import os
from pathlib import Path

import pytest

from docbatch.config import OutputFormat
from docbatch.models import Document, Extraction, JobResult, JobState, Page
from docbatch.outputs.writers import DOCUMENT_SCHEMA, append_line, render, write_atomic, write_result
from tests.helpers.environment import small_disk


def _job(tmp_path: Path) -> tuple[Document, JobResult]:
    document = Document(source_id="a/r.pdf", path=tmp_path / "a" / "r.pdf", size=10, mtime_ns=1)
    extraction = Extraction.from_pages(
        "pdf", [Page(number=1, text="one"), Page(number=2, text="two")], title="R", metadata={"author": "A"}
    )
    result = JobResult(
        source_id="a/r.pdf", state=JobState.SUCCEEDED, kind="pdf", processor="pdf",
        processor_version="pdf/1.0", sha256="ab" * 32, extraction=extraction, pid=123,
    )  # fmt: skip
    return document, result


def test_json_output_follows_the_schema(tmp_path: Path) -> None:
    document, result = _job(tmp_path)
    payload = json.loads(render(document, result, OutputFormat.JSON))
    assert payload["schema"] == DOCUMENT_SCHEMA
    assert payload["source"] == {
        "id": "a/r.pdf",
        "path": str(tmp_path / "a" / "r.pdf"),
        "size": 10,
        "sha256": "ab" * 32,
    }
    assert payload["pages"] == [{"number": 1, "text": "one"}, {"number": 2, "text": "two"}]
    assert payload["text"] == "one\n\ntwo"
    assert payload["stats"] == {"pages": 2, "characters": 8, "words": 2}


def test_outputs_hold_nothing_that_changes_between_runs(tmp_path: Path) -> None:
    document, result = _job(tmp_path)
    other = result.model_copy(update={"pid": 999})
    for fmt in OutputFormat:
        assert render(document, result, fmt) == render(document, other, fmt)


def test_markdown_and_text_outputs(tmp_path: Path) -> None:
    document, result = _job(tmp_path)
    markdown = render(document, result, OutputFormat.MD).decode()
    assert markdown.startswith("# R\n") and "## Page 2\n\ntwo" in markdown
    assert render(document, result, OutputFormat.TXT) == b"one\n\ftwo\n"


def test_text_output_separates_pages_with_form_feeds_and_keeps_empty_pages(tmp_path: Path) -> None:
    document, result = _job(tmp_path)
    assert result.extraction is not None
    result.extraction.pages.insert(1, Page(number=2, text=""))
    text = render(document, result, OutputFormat.TXT).decode()
    assert text.split("\f") == ["one\n", "\n", "two\n"]


def test_markdown_output_renders_paragraphs_and_structure(tmp_path: Path) -> None:
    document, _ = _job(tmp_path)
    lines = Extraction(kind="text", title="# not a heading *really*", text="first line\nsecond line\n- dash")
    result = JobResult(source_id="a/r.pdf", state=JobState.SUCCEEDED, kind="text", extraction=lines)
    markdown = render(document, result, OutputFormat.MD).decode()
    # Lines of plain text become paragraphs (a renderer would otherwise merge them into one line),
    # and text that looks like Markdown syntax is escaped rather than rendered.
    assert "first line\n\nsecond line\n\n\\- dash\n" in markdown
    assert markdown.startswith("# \\# not a heading \\*really\\*\n")
    table = "| a | b |\n| --- | --- |\n| 1 | 2 |"
    structured = Extraction(kind="csv", text="a b 1 2", markdown=table)
    result = JobResult(source_id="a/r.pdf", state=JobState.SUCCEEDED, kind="csv", extraction=structured)
    assert table in render(document, result, OutputFormat.MD).decode()
    paged = Extraction.from_pages("xlsx", [Page(number=1, text="x y", label="Sheet 1", markdown=table)])
    result = JobResult(source_id="a/r.pdf", state=JobState.SUCCEEDED, kind="xlsx", extraction=paged)
    assert f"## Page 1 — Sheet 1\n\n{table}\n" in render(document, result, OutputFormat.MD).decode()


def test_markdown_stays_out_of_json_outputs(tmp_path: Path) -> None:
    document, result = _job(tmp_path)
    assert result.extraction is not None
    result.extraction.pages[0].markdown = "| a |\n| --- |"
    result.extraction.markdown = "whole"
    payload = json.loads(render(document, result, OutputFormat.JSON))
    assert "markdown" not in payload and all("markdown" not in page for page in payload["pages"])


def test_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "x.json"
    write_atomic(target, b"first")
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert [path.name for path in target.parent.iterdir()] == ["x.json"]


def test_a_document_opening_with_its_title_heading_shows_it_once(tmp_path: Path) -> None:
    document, _ = _job(tmp_path)
    extraction = Extraction(kind="docx", title="Minutes", text="Minutes\nWe met.", markdown="# Minutes\n\nWe met.")
    result = JobResult(source_id="a/r.pdf", state=JobState.SUCCEEDED, kind="docx", extraction=extraction)
    markdown = render(document, result, OutputFormat.MD).decode()
    assert markdown.count("# Minutes") == 1 and markdown.startswith("# Minutes\n\n- source:")
    assert markdown.endswith("We met.\n")


def test_an_output_the_disk_has_no_room_for_is_pending_not_failed(tmp_path: Path) -> None:
    document, result = _job(tmp_path)
    assert result.extraction is not None
    result.extraction.pages = [Page(number=1, text="x" * 200_000)]
    with small_disk(tmp_path / "disk", "64k") as disk:
        write_result(document, result, disk / "out", OutputFormat.JSON)
        assert result.state is JobState.PENDING and result.error_kind is None
        assert result.environment == f"disk full writing {disk / 'out'} (No space left on device)"
        assert result.output_path is None
        assert os.listdir(disk / "out" / "a") == []  # the partial temporary file is gone, freeing its room


def test_a_jsonl_line_cut_short_by_a_full_disk_is_taken_back(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "64k") as disk:
        stream = disk / "documents.jsonl"
        append_line(stream, b'{"first": 1}\n')
        with pytest.raises(OSError) as refused:
            append_line(stream, b'{"big": "' + b"x" * 100_000 + b'"}\n')
        assert refused.value.errno == errno.ENOSPC
        assert stream.read_bytes() == b'{"first": 1}\n'  # whole lines only: a resumed run appends cleanly
