from pathlib import Path

import pytest

from docbatch.config import OutputFormat
from docbatch.outputs.paths import UnsafeOutputPath, output_path


def test_mirrors_the_tree_and_keeps_the_source_extension(tmp_path: Path) -> None:
    assert output_path(tmp_path, "a/report.pdf", OutputFormat.JSON) == tmp_path / "a" / "report.pdf.json"
    assert output_path(tmp_path, "a/report.docx", OutputFormat.MD) == tmp_path / "a" / "report.docx.md"


def test_jsonl_goes_to_one_stream(tmp_path: Path) -> None:
    assert output_path(tmp_path, "a/x.pdf", OutputFormat.JSONL) == tmp_path / "documents.jsonl"


@pytest.mark.parametrize("source_id", ["", "/", "a\x00b"])
def test_refuses_ids_that_name_no_file(tmp_path: Path, source_id: str) -> None:
    with pytest.raises(UnsafeOutputPath):
        output_path(tmp_path, source_id, OutputFormat.JSON)


@pytest.mark.parametrize(
    ("source_id", "relative"),
    [
        ("../x.pdf", "%2E%2E/x.pdf.json"),
        ("../../up/x.pdf", "%2E%2E/%2E%2E/up/x.pdf.json"),
        ("a/../../escape.pdf", "a/%2E%2E/%2E%2E/escape.pdf.json"),
        # A real folder named like the escape gets one more encoded '%': the two never meet.
        ("%2E%2E/x.pdf", "%25%2E%2E/x.pdf.json"),
        ("%25%2E%2E/x.pdf", "%25%25%2E%2E/x.pdf.json"),
    ],
)
def test_dotdot_ids_map_inside_the_output_folder_one_to_one(tmp_path: Path, source_id: str, relative: str) -> None:
    assert output_path(tmp_path, source_id, OutputFormat.JSON) == tmp_path / relative


def test_refuses_a_symlinked_folder_that_points_outside(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(UnsafeOutputPath):
        output_path(root, "link/x.pdf", OutputFormat.JSON)


def test_absolute_manifest_ids_stay_inside(tmp_path: Path) -> None:
    assert output_path(tmp_path, "/data/x.pdf", OutputFormat.TXT) == tmp_path / "data" / "x.pdf.txt"
