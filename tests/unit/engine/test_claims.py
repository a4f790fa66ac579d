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
