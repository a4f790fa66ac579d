"""One job inside a worker: Markdown is built only when the output format shows it."""

from pathlib import Path

import pytest

from docbatch.executors.job import run_jobs
from docbatch.models import JobBatch, JobSpec

DOCUMENTS = {
    "table.csv": b"name,count\nferry,3\n",
    "page.html": b"<html><body><table><tr><th>a</th></tr><tr><td>1</td></tr></table></body></html>",
    "note.eml": b"From: a@example.org\nSubject: Hi\nContent-Type: text/html\n\n<p>Hello <b>there</b></p>\n",
    "feed.xml": b"<rss><channel><title>T</title><item><title>I</title><description>B</description></item></channel>"
    b"</rss>",
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_markdown_is_built_for_md_outputs_only_and_the_text_is_the_same(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(DOCUMENTS[name])
    spec = JobSpec(source_id=name, path=str(path), size=path.stat().st_size)
    (for_md,) = list(run_jobs(JobBatch(specs=[spec], output_format="md")))
    (for_json,) = list(run_jobs(JobBatch(specs=[spec], output_format="json")))
    assert for_md.extraction is not None and for_json.extraction is not None
    assert for_md.extraction.markdown and for_json.extraction.markdown is None
    assert for_md.extraction.text == for_json.extraction.text
