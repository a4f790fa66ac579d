import json
from pathlib import Path

import pytest

from docbatch.config import SourceConfig
from docbatch.discovery import discover
from docbatch.errors import ConfigError
from docbatch.models import Document, Priority, Skip


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
    assert len(reasons) == 3
    assert reasons[0].startswith("bad manifest line: invalid JSON")
    assert "unknown priority 'urgent'" in reasons[1]
    assert reasons[2] == "cannot stat: No such file or directory"


def test_duplicate_ids_in_manifests_are_skipped_not_merged(docs: Path) -> None:
    manifest = docs / "list.jsonl"
    manifest.write_text('{"path": "a.txt", "id": "same"}\n{"path": "b.txt", "id": "same"}\n')
    first, second = discover(SourceConfig(manifests=[manifest]))
    assert isinstance(first, Document)
    assert isinstance(second, Skip) and "duplicate source id 'same'" in second.reason


def test_csv_manifest_without_path_column_stops_before_the_run(docs: Path) -> None:
    manifest = docs / "list.csv"
    manifest.write_text("file\na.txt\n")
    with pytest.raises(ConfigError, match="'path' column"):
        list(discover(SourceConfig(manifests=[manifest])))
