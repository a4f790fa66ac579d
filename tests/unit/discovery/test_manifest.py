import json
import re
import tracemalloc
from pathlib import Path

import pytest

from docbatch.config import SourceConfig
from docbatch.discovery import DiscoveryFailure, discover
from docbatch.discovery.manifest import check_manifest
from docbatch.errors import ConfigError
from docbatch.models import Document, ErrorKind, Priority


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


def test_a_listed_file_that_is_missing_is_a_failure_of_the_run_not_a_skip(docs: Path) -> None:
    manifest = docs / "list.jsonl"
    rows = [json.dumps({"path": "a.txt", "priority": "critical"}), json.dumps({"path": "missing.txt"})]
    manifest.write_text("\n".join(rows) + "\n")
    check_manifest(manifest)
    first, missing = discover(SourceConfig(manifests=[manifest]))
    assert isinstance(first, Document) and first.priority is Priority.CRITICAL
    assert isinstance(missing, DiscoveryFailure) and missing.error_kind is ErrorKind.IO
    assert missing.message.endswith("missing.txt: no such file or directory (listed in list.jsonl line 2)")


PRIORITIES = "low, normal, high, critical"


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("b.csv", "path,priority\na.txt,high\na.txt,urgnet\n", f'line 3: priority "urgnet" is not one of {PRIORITIES}'),
        ("b.csv", "path,id\na.txt,x\n,y\n", 'line 3: no "path"'),
        ("b.csv", 'path,options\na.txt,"{""x"": 1}"\nb.txt,notjson\n', "line 3: options is not valid JSON ("),
        ("b.csv", 'path,options\na.txt,"[1]"\n', "line 2: options must be a JSON object, not a list"),
        ("b.csv", "path,id\na.txt,x,extra\n", "line 2: 3 fields, but the header names 2"),
        ("b.csv", 'path\na.txt\n"b.txt\nc.txt\n', "line 4: not valid CSV (unexpected end of data)"),
        ("b.tsv", "path\tpriority\na.txt\tsoon\n", f'line 2: priority "soon" is not one of {PRIORITIES}'),
        (
            "d.jsonl",
            '{"path": "a.txt"}\n{"path": "b.txt"\n',
            "line 2: not valid JSON (unexpected end of data at character 17)",
        ),
        ("d.jsonl", '["a.txt"]\n', "line 1: each line must be a JSON object, not a list"),
        ("d.jsonl", '{"id": "x"}\n', 'line 1: no "path"'),
        ("d.jsonl", '{"path": 7}\n', 'line 1: "path" must be a string, not a number'),
        ("d.jsonl", '{"path": "a.txt", "id": ["x"]}\n', 'line 1: "id" must be a string, not a list'),
        ("d.jsonl", '{"path": "a.txt", "options": "notjson"}\n', "line 1: options must be a JSON object, not a string"),
        ("d.jsonl", '{"path": "a.txt", "priority": 9}\n', f'line 1: priority "9" is not one of {PRIORITIES}'),
    ],
)
def test_a_bad_row_is_a_usage_error_naming_the_manifest_and_line(
    docs: Path, name: str, text: str, problem: str
) -> None:
    manifest = docs / name
    manifest.write_text(text)
    with pytest.raises(ConfigError) as caught:
        check_manifest(manifest)
    assert str(caught.value).startswith(f"{manifest} {problem}")
    # Reading it anyway (the file changed after the check) stops the same way: never a silent skip.
    with pytest.raises(ConfigError, match=f"^{re.escape(str(manifest))} line"):
        list(discover(SourceConfig(manifests=[manifest])))


def test_the_check_counts_the_bad_lines_after_the_first(docs: Path) -> None:
    manifest = docs / "list.jsonl"
    manifest.write_text('{"path": "a.txt"}\n{"path": "a.txt", "priority": "x"}\nnope\n{}\n')
    with pytest.raises(ConfigError) as caught:
        check_manifest(manifest)
    assert str(caught.value) == f'{manifest} line 2: priority "x" is not one of {PRIORITIES} (and 2 more bad lines)'


def test_rows_people_write_pass_the_check(docs: Path) -> None:
    """Empty cells, a trailing comma from a spreadsheet, priorities by number or in capitals, null
    fields in JSONL: none of these is a mistake."""
    csv_manifest = docs / "list.csv"
    csv_manifest.write_text('path,priority,options\na.txt,,\n"b.txt",HIGH,"{}",\n a.txt ,3\n')
    jsonl_manifest = docs / "list.jsonl"
    jsonl_manifest.write_text(
        '{"path": "a.txt", "priority": null, "options": null, "id": null}\n\n{"path": "b.txt", "priority": 0}\n'
    )
    for manifest in (csv_manifest, jsonl_manifest, docs / "plain.txt"):
        manifest.touch()
        check_manifest(manifest)
    items = list(discover(SourceConfig(manifests=[csv_manifest])))
    assert [(item.source_id, item.priority) for item in items if isinstance(item, Document)] == [
        ("a.txt", Priority.NORMAL),
        ("b.txt", Priority.HIGH),
    ]


def test_a_manifest_that_is_not_utf8_fails_the_check(docs: Path) -> None:
    manifest = docs / "list.txt"
    manifest.write_bytes(b"a.txt\n\xff\n")
    with pytest.raises(ConfigError, match="manifest is not UTF-8 text"):
        check_manifest(manifest)


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


def test_csv_manifest_without_path_column_fails_the_check(docs: Path) -> None:
    manifest = docs / "list.csv"
    manifest.write_text("file\na.txt\n")
    with pytest.raises(ConfigError, match="'path' column"):
        check_manifest(manifest)


def test_a_long_manifest_is_read_without_keeping_python_objects_per_row(tmp_path: Path) -> None:
    # Every id and every file a manifest gives are remembered for the whole run (a repeated id fails,
    # a repeated file is read once): that was 400-500 bytes a row in a dict and a set, and is now
    # kept in temporary SQLite tables. Python's allocations no longer grow with the rows read.
    folder = tmp_path / "files"
    folder.mkdir()
    rows = 6000
    for index in range(rows):
        (folder / f"n{index:05d}.txt").write_text("x")
    manifest = tmp_path / "list.csv"
    manifest.write_text("id,path\n" + "".join(f"doc{index},files/n{index:05d}.txt\n" for index in range(rows)))
    (folder / "other.txt").write_text("y")
    manifest.write_text(manifest.read_text() + "doc7,files/other.txt\n")  # an id given again, late
    # The interned-names dict that pathlib fills is CPython's own, resized in one piece: left out.
    outside_pathlib = tracemalloc.Filter(False, "*pathlib.py")
    tracemalloc.start()
    try:
        count, late = 0, None
        for item in discover(SourceConfig(manifests=[manifest])):
            count, late = count + 1, item
            if count == 1000:
                before = tracemalloc.take_snapshot().filter_traces([outside_pathlib])
            elif count == rows:
                after = tracemalloc.take_snapshot().filter_traces([outside_pathlib])
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 200_000  # 5,000 rows held about 2.1 MB in the dict and the set
    assert count == rows + 1
    assert isinstance(late, DiscoveryFailure) and late.error_kind is ErrorKind.COLLISION
    assert "id 'doc7' is already given to" in late.message
