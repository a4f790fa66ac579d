import json
from pathlib import Path

import pytest

from docbatch.config import SourceConfig
from docbatch.discovery import DiscoveryFailure, discover
from docbatch.errors import ConfigError
from docbatch.models import Document, ErrorKind, Priority, Skip


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("text")
    return tmp_path


def test_plain_list_ignores_comments_and_resolves_relative_paths(docs: Path) -> None:
    manifest = docs / "list.txt"
    manifest.write_text("# to do\na.txt\n\n" + str(docs / "b.txt") + "\n")
    items = list(discover(SourceConfig(manifests=[manifest])))
    assert [item.source_id for item in items] == ["a.txt", str(docs / "b.txt")]
    assert all(isinstance(item, Document) for item in items)


def test_csv_manifest_carries_id_priority_and_options(docs: Path) -> None:
    manifest = docs / "list.csv"
    manifest.write_text('path,id,priority,options\na.txt,doc-1,high,"{""lang"": ""en""}"\nb.txt,,,\n')
    first, second = discover(SourceConfig(manifests=[manifest]))
    assert isinstance(first, Document) and isinstance(second, Document)
    assert (first.source_id, first.priority, first.options) == ("doc-1", Priority.HIGH, {"lang": "en"})
    assert (second.source_id, second.priority) == ("b.txt", Priority.NORMAL)


def test_jsonl_manifest_bad_rows_become_skips_and_the_rest_go_on(docs: Path) -> None:
    manifest = docs / "list.jsonl"
    rows = [
        json.dumps({"path": "a.txt", "priority": "critical"}),
        "{not json",
        json.dumps({"path": "b.txt", "priority": "urgent"}),
        json.dumps({"path": "missing.txt"}),
    ]
    manifest.write_text("\n".join(rows) + "\n")
    items = list(discover(SourceConfig(manifests=[manifest])))
    assert isinstance(items[0], Document) and items[0].priority is Priority.CRITICAL
    reasons = [item.reason for item in items[1:] if isinstance(item, Skip)]
    assert len(reasons) == 2
    assert reasons[0].startswith("bad manifest line: invalid JSON")
    assert "unknown priority 'urgent'" in reasons[1]
    # A file the manifest names but that is not there is a failure of the run, not a skip.
    missing = items[3]
    assert isinstance(missing, DiscoveryFailure) and missing.error_kind is ErrorKind.IO
    assert missing.message.endswith("missing.txt: no such file or directory (listed in list.jsonl line 4)")


def test_an_id_given_to_two_files_fails_the_second_as_a_collision(docs: Path) -> None:
    manifest = docs / "list.jsonl"
    manifest.write_text('{"path": "a.txt", "id": "same"}\n{"path": "b.txt", "id": "same"}\n')
    first, second = discover(SourceConfig(manifests=[manifest]))
    assert isinstance(first, Document) and first.source_id == "same"
    # Recorded under its row, so that it never takes over the first document's ledger row.
    assert isinstance(second, DiscoveryFailure) and second.error_kind is ErrorKind.COLLISION
    assert second.source_id == "list.jsonl:2"
    assert f"id 'same' is already given to {docs / 'a.txt'} (list.jsonl line 1)" in second.message


def test_the_same_file_listed_twice_is_one_document_under_its_first_id(docs: Path) -> None:
    (docs / "sub").mkdir()
    manifest = docs / "list.txt"
    manifest.write_text(f"./a.txt\nsub/../a.txt\n{docs / 'a.txt'}\na.txt\nb.txt\n")
    items = list(discover(SourceConfig(manifests=[manifest])))
    assert [(type(item).__name__, item.source_id) for item in items] == [("Document", "./a.txt"), ("Document", "b.txt")]


def test_paths_outside_the_manifest_folder_are_read_and_keep_their_relative_id(tmp_path: Path) -> None:
    (tmp_path / "shared.txt").write_text("text")
    (tmp_path / "lists").mkdir()
    manifest = tmp_path / "lists" / "batch.csv"
    manifest.write_text("path\n../shared.txt\n")
    (item,) = discover(SourceConfig(manifests=[manifest]))
    assert isinstance(item, Document)
    assert (item.source_id, item.path.resolve()) == ("../shared.txt", (tmp_path / "shared.txt").resolve())


def test_a_given_id_that_climbs_with_dotdot_fails_with_a_clear_message(docs: Path) -> None:
    manifest = docs / "list.csv"
    manifest.write_text("path,id\na.txt,../evil\n")
    (item,) = discover(SourceConfig(manifests=[manifest]))
    assert isinstance(item, DiscoveryFailure) and item.error_kind is ErrorKind.INTERNAL
    assert (
        item.message
        == "list.csv line 2: id '../evil' climbs out of the output folder with '..'; give an id without '..'"
    )


def test_csv_manifest_without_path_column_stops_before_the_run(docs: Path) -> None:
    manifest = docs / "list.csv"
    manifest.write_text("file\na.txt\n")
    with pytest.raises(ConfigError, match="'path' column"):
        list(discover(SourceConfig(manifests=[manifest])))
