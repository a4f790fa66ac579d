import tracemalloc
from pathlib import Path

import pytest

from docbatch.config import OutputFormat
from docbatch.engine import claims
from docbatch.engine.claims import OutputClaims
from docbatch.models import Document


def _document(source_id: str, path: str) -> Document:
    return Document(source_id=source_id, path=Path(path), size=1, mtime_ns=1)


def test_ids_differing_only_by_case_are_two_outputs_where_case_matters(tmp_path: Path) -> None:
    owned = OutputClaims(tmp_path, OutputFormat.JSON, reader=None)
    assert owned.claim(_document("A.pdf", "/in/A.pdf"), check_ledger=False) is None
    assert owned.claim(_document("a.pdf", "/in/a.pdf"), check_ledger=False) is None


def test_ids_differing_only_by_case_collide_on_a_case_insensitive_output_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No case-folding file system can be mounted here: the probe's answer is given.
    monkeypatch.setattr(claims, "_case_insensitive", lambda folder: True)
    owned = OutputClaims(tmp_path, OutputFormat.JSON, reader=None)
    assert owned.claim(_document("Report.pdf", "/in/Report.pdf"), check_ledger=False) is None
    refused = owned.claim(_document("report.PDF", "/in/report.PDF"), check_ledger=False)
    assert refused is not None
    assert refused[0] == "report.PDF"
    assert refused[1] == (
        f"its output {tmp_path}/report.PDF.json is already taken in this run by 'Report.pdf' (/in/Report.pdf); "
        "it is not written over"
    )


def test_the_case_probe_sees_this_file_system_as_case_sensitive_and_leaves_nothing(tmp_path: Path) -> None:
    assert claims._case_insensitive(tmp_path) is False
    assert list(tmp_path.iterdir()) == []


def test_in_a_jsonl_stream_distinct_ids_never_collide_and_a_repeated_id_does(tmp_path: Path) -> None:
    owned = OutputClaims(tmp_path, OutputFormat.JSONL, reader=None)
    assert owned.claim(_document("a.txt", "/in/a.txt"), check_ledger=True) is None
    assert owned.claim(_document("b.txt", "/in/b.txt"), check_ledger=True) is None
    refused = owned.claim(_document("a.txt", "/other/a.txt"), check_ledger=True)
    assert refused is not None and refused[0] == "a.txt#dup"


def test_a_repeated_id_is_caught_after_more_claims_than_the_table_keeps_in_memory(tmp_path: Path) -> None:
    # Claims are one entry per document of the run: they live in a temporary SQLite table whose page
    # cache is bounded, so the first claim must still be found once far more have spilled to its file.
    owned = OutputClaims(tmp_path, OutputFormat.JSONL, reader=None)
    count = 30_000  # about 2 MB of keys and paths: twice the table's page cache
    for index in range(count):
        document = _document(f"folder/note{index:06d}.txt", f"/in/note{index:06d}.txt")
        assert owned.claim(document, check_ledger=False) is None
    assert len(owned._claims) == count
    refused = owned.claim(_document("folder/note000000.txt", "/elsewhere/note000000.txt"), check_ledger=False)
    assert refused is not None and refused[0] == "folder/note000000.txt#dup"
    assert "already taken in this run by 'folder/note000000.txt' (/in/note000000.txt)" in refused[1]
    # Claiming again as the same document (a retry) is not a collision.
    assert owned.claim(_document("folder/note000000.txt", "/in/note000000.txt"), check_ledger=False) is None
    owned.close()


def test_claims_hold_no_python_object_per_document(tmp_path: Path) -> None:
    # Before, every claim kept its id, its path and a tuple in a dict (about 260 bytes a document, 250 MB
    # for a million). Python's own allocations, traced, no longer grow with the documents claimed.
    owned = OutputClaims(tmp_path, OutputFormat.JSON, reader=None)

    def claim_more(first: int, count: int) -> None:
        for index in range(first, first + count):  # made one at a time, as discovery streams them
            document = _document(f"d/n{index:06d}.txt", f"/in/d/n{index:06d}.txt")
            assert owned.claim(document, check_ledger=False) is None

    claim_more(0, 5_000)  # warmed up: the table open, Python's own caches (interned names) at their size
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        claim_more(5_000, 10_000)
        grown = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
    finally:
        tracemalloc.stop()
    assert grown < 300_000  # a dict of 10,000 claims held about 3.6 MB
    owned.close()


def test_a_closed_table_leaves_no_claim_behind(tmp_path: Path) -> None:
    owned = OutputClaims(tmp_path, OutputFormat.JSONL, reader=None)
    assert owned.claim(_document("a.txt", "/in/a.txt"), check_ledger=True) is None
    owned.close()
    assert len(owned._claims) == 0
    assert owned.claim(_document("a.txt", "/other/a.txt"), check_ledger=True) is None  # a new run's table
