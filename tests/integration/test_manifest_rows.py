"""Issue 12, items 2 and 7 through the real CLI: a manifest with a bad row is a usage error caught
before the batch (exit 2, one line naming the manifest and the line), never a silent skip, and it
leaves nothing behind: no start line, no run in the ledger, no report."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_cli

PRIORITIES = "low, normal, high, critical"


def _runs(state: Path) -> list[str]:
    with sqlite3.connect(state / "ledger.sqlite") as ledger:
        return [row[0] for row in ledger.execute("SELECT run_id FROM runs ORDER BY run_id")]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("b.csv", "path,priority\nlocal.txt,urgnet\n", f'm/b.csv line 2: priority "urgnet" is not one of {PRIORITIES}'),
        (
            "d.jsonl",
            '{"path": "local.txt"\n',
            "m/d.jsonl line 1: not valid JSON (unexpected end of data at character 21)",
        ),
        (
            "e.jsonl",
            '{"path":"local.txt","options":"notjson"}\n',
            "m/e.jsonl line 1: options must be a JSON object, not a string",
        ),
        ("n.csv", "file\nlocal.txt\n", "m/n.csv: a CSV manifest needs a header line with a 'path' column"),
    ],
)
def test_a_bad_manifest_row_stops_the_run_before_it_starts(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "local.txt").write_text("fine\n")
    (tmp_path / "m" / "good.txt").write_text("local.txt\n")
    assert run_cli("run", "--manifest", "m/good.txt", "-o", "o12", "--state", "s12", "-q", cwd=tmp_path).returncode == 0
    runs = _runs(tmp_path / "s12")
    report = (tmp_path / "o12" / "report.json").read_bytes()
    (tmp_path / "m" / name).write_text(text)

    # Not quiet: the start line would be printed if the run had begun.
    result = run_cli("run", "--manifest", f"m/{name}", "-o", "o12", "--state", "s12", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"docbatch: error: {message}"]
    assert result.stdout == ""
    assert _runs(tmp_path / "s12") == runs
    assert (tmp_path / "o12" / "report.json").read_bytes() == report
    assert len(list((tmp_path / "o12" / "reports").glob("*.json"))) == 1


def test_a_bad_row_in_a_second_manifest_stops_the_run_before_the_first_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("fine\n")
    (tmp_path / "first.txt").write_text("a.txt\n")
    (tmp_path / "second.jsonl").write_text(json.dumps({"path": "a.txt", "priority": "soon"}) + "\n")
    result = run_cli("run", "--manifest", "first.txt", "--manifest", "second.jsonl", "-o", "out", "-q", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f'docbatch: error: second.jsonl line 1: priority "soon" is not one of {PRIORITIES}\n'
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / ".docbatch").exists()


def test_an_unreadable_manifest_is_exit_2_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_bytes(b"a.txt\n\xff\xfe\n")
    result = run_cli("run", "--manifest", "list.txt", "-o", "out", "--state", "state", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "docbatch: error: list.txt: manifest is not UTF-8 text\n"
    assert not (tmp_path / "out").exists() and not (tmp_path / "state").exists()
