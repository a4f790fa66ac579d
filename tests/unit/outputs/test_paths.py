from pathlib import Path

import pytest

from docbatch.config import OutputFormat
from docbatch.outputs.paths import UnsafeOutputPath, output_path


def test_mirrors_the_tree_and_keeps_the_source_extension(tmp_path: Path) -> None:
    assert output_path(tmp_path, "a/report.pdf", OutputFormat.JSON) == tmp_path / "a" / "report.pdf.json"
    assert output_path(tmp_path, "a/report.docx", OutputFormat.MD) == tmp_path / "a" / "report.docx.md"


def test_jsonl_goes_to_one_stream(tmp_path: Path) -> None:
    assert output_path(tmp_path, "a/x.pdf", OutputFormat.JSONL) == tmp_path / "documents.jsonl"


@pytest.mark.parametrize("source_id", ["../escape.pdf", "a/../../escape.pdf", "..", "", "a\x00b"])
def test_refuses_ids_that_would_leave_the_output_folder(tmp_path: Path, source_id: str) -> None:
    with pytest.raises(UnsafeOutputPath):
        output_path(tmp_path, source_id, OutputFormat.JSON)


def test_refuses_a_symlinked_folder_that_points_outside(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(UnsafeOutputPath):
        output_path(root, "link/x.pdf", OutputFormat.JSON)


def test_absolute_manifest_ids_stay_inside(tmp_path: Path) -> None:
    assert output_path(tmp_path, "/data/x.pdf", OutputFormat.TXT) == tmp_path / "data" / "x.pdf.txt"
