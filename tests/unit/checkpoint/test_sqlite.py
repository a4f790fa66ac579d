import os
import sqlite3
import time
from pathlib import Path

import pytest

from docbatch.checkpoint.base import LedgerEvent, RunRecord
from docbatch.checkpoint.sqlite import LEDGER_FILE, SqliteLedger
from docbatch.errors import ExitCode, LedgerUnusable
from docbatch.models import JobState


def _run(ledger: SqliteLedger, run_id: str) -> None:
    ledger.begin_run(RunRecord(run_id, time.time(), 1, "host", "docbatch run x", "{}", "out", "local"))


def test_records_every_state_change_and_the_current_state(tmp_path: Path) -> None:
    ledger = SqliteLedger.open(tmp_path)
    _run(ledger, "r1")
    ledger.apply(
        [
            LedgerEvent("r1", "a.pdf", JobState.RUNNING, 1.0, attempt=1, path="a.pdf", size=5, mtime_ns=7),
            LedgerEvent("r1", "b.pdf", JobState.SKIPPED, 1.0, message="empty file"),
        ]
    )
    ledger.apply(
        [
            LedgerEvent(
                "r1",
                "a.pdf",
                JobState.SUCCEEDED,
                2.0,
                attempt=1,
                sha256="s",
                recipe_hash="h",
                output_path="o",
            ),
        ]
    )
    ledger.finish_run("r1", status="finished", finished_at=3.0, exit_code=0, report_path="r.json", counts_json="{}")
    events = ledger.query("SELECT source_id, state FROM events WHERE run_id = 'r1' ORDER BY id")
    # The run's own start and end are in the same sequence, with the empty source id.
    assert events == [
        ("", "running"), ("a.pdf", "running"), ("b.pdf", "skipped"), ("a.pdf", "succeeded"), ("", "finished")
    ]  # fmt: skip
    row = ledger.query(
        "SELECT state, size, mtime_ns, sha256, recipe_hash, attempts FROM documents WHERE source_id='a.pdf'"
    )
    assert row == [("succeeded", 5, 7, "s", "h", 1)]
    assert ledger.query("SELECT status, exit_code FROM runs") == [("finished", 0)]


def test_attempts_accumulate_across_runs_and_history_is_kept(tmp_path: Path) -> None:
    ledger = SqliteLedger.open(tmp_path)
    for run_id in ("r1", "r2"):
        _run(ledger, run_id)
        ledger.apply([LedgerEvent(run_id, "a.pdf", JobState.RUNNING, 1.0, attempt=1)])
        ledger.apply([LedgerEvent(run_id, "a.pdf", JobState.FAILED, 2.0, attempt=1, error_kind="timeout")])
    assert ledger.query("SELECT attempts, state, error_kind FROM documents") == [(2, "failed", "timeout")]
    assert ledger.query("SELECT count(*) FROM events WHERE source_id != ''") == [(4,)]


def test_events_of_one_document_in_one_batch_end_as_if_applied_one_by_one(tmp_path: Path) -> None:
    def events(run_id: str) -> list[LedgerEvent]:
        return [
            LedgerEvent(run_id, "a.pdf", JobState.RUNNING, 1.0, attempt=1, path="a.pdf", size=5, mtime_ns=7),
            LedgerEvent(run_id, "a.pdf", JobState.FAILED, 2.0, attempt=1, error_kind="crash", message="boom"),
            LedgerEvent(run_id, "a.pdf", JobState.RUNNING, 3.0, attempt=2),
            LedgerEvent(run_id, "a.pdf", JobState.SUCCEEDED, 4.0, attempt=2, sha256="s", output_path="o"),
        ]

    together, apart = SqliteLedger.open(tmp_path / "together"), SqliteLedger.open(tmp_path / "apart")
    _run(together, "r1")
    _run(apart, "r1")
    together.apply(events("r1"))
    for event in events("r1"):
        apart.apply([event])
    query = "SELECT path, size, mtime_ns, sha256, state, attempts, error_kind, message, output_path FROM documents"
    # The output path is recorded absolute (read by commands run from other folders).
    expected = [("a.pdf", 5, 7, "s", "succeeded", 2, None, None, os.path.abspath("o"))]
    assert together.query(query) == apart.query(query) == expected
    assert together.query("SELECT count(*) FROM events WHERE source_id != ''") == [(4,)]


def test_a_reader_sees_committed_batches_while_the_writer_is_open(tmp_path: Path) -> None:
    ledger = SqliteLedger.open(tmp_path)
    _run(ledger, "r1")
    ledger.apply([LedgerEvent("r1", "a.pdf", JobState.RUNNING, 1.0, attempt=1)])
    reader = sqlite3.connect(tmp_path / LEDGER_FILE)
    assert reader.execute("SELECT state FROM documents").fetchall() == [("running",)]
    assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    reader.close()


def test_a_failed_batch_is_rolled_back_whole(tmp_path: Path) -> None:
    ledger = SqliteLedger.open(tmp_path)
    _run(ledger, "r1")
    bad = LedgerEvent("r1", "b.pdf", JobState.RUNNING, 1.0)
    bad.at = None  # type: ignore[assignment]  # violates NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        ledger.apply([LedgerEvent("r1", "a.pdf", JobState.RUNNING, 1.0), bad])
    assert ledger.query("SELECT count(*) FROM events WHERE source_id != ''") == [(0,)]


def test_refuses_a_ledger_from_another_schema_version(tmp_path: Path) -> None:
    SqliteLedger.open(tmp_path).close()
    connection = sqlite3.connect(tmp_path / LEDGER_FILE)
    connection.execute("PRAGMA user_version = 99")
    connection.close()
    with pytest.raises(LedgerUnusable, match="schema version 99") as refused:
        SqliteLedger.open(tmp_path)
    assert refused.value.exit_code is ExitCode.ENVIRONMENT  # the ledger, not the user's flags


def test_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / LEDGER_FILE).write_bytes(b"not a database" * 100)
    with pytest.raises(LedgerUnusable, match="cannot open the ledger: not a docbatch ledger") as refused:
        SqliteLedger.open(tmp_path)
    assert refused.value.exit_code is ExitCode.ENVIRONMENT


# The documents table as docbatch wrote it before output keys (schema version 1).
_VERSION_1 = """
CREATE TABLE runs (run_id TEXT PRIMARY KEY, parent_run_id TEXT, started_at REAL NOT NULL, finished_at REAL,
    status TEXT NOT NULL, pid INTEGER, host TEXT, command TEXT, config TEXT, output_dir TEXT, executor TEXT,
    report_path TEXT, exit_code INTEGER, counts TEXT, heartbeat_at REAL);
CREATE TABLE documents (source_id TEXT PRIMARY KEY, path TEXT, size INTEGER, mtime_ns INTEGER, priority INTEGER,
    sha256 TEXT, kind TEXT, state TEXT NOT NULL, recipe_hash TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    last_run_id TEXT, error_kind TEXT, message TEXT, output_path TEXT, updated_at REAL);
CREATE TABLE events (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, source_id TEXT NOT NULL, state TEXT NOT NULL,
    attempt INTEGER NOT NULL, at REAL NOT NULL, pid INTEGER, host TEXT, error_kind TEXT, message TEXT,
    duration_s REAL, details TEXT);
CREATE INDEX events_by_run ON events (run_id, state);
CREATE INDEX documents_by_state ON documents (state);
CREATE INDEX documents_by_run ON documents (last_run_id, state);
INSERT INTO documents (source_id, path, state, output_path)
    VALUES ('a.pdf', '/in/a.pdf', 'succeeded', 'out/a.pdf.json');
INSERT INTO documents (source_id, path, state) VALUES ('b.pdf', '/in/b.pdf', 'dead');
PRAGMA user_version = 1;
"""


def test_a_version_1_ledger_is_migrated_with_the_owner_of_each_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    connection = sqlite3.connect(tmp_path / LEDGER_FILE)
    connection.executescript(_VERSION_1)
    connection.close()
    from docbatch.checkpoint.reader import LedgerReader

    assert LedgerReader.open(tmp_path).document("a.pdf") is not None  # `status` reads it as it is
    ledger = SqliteLedger.open(tmp_path)
    assert ledger.query("PRAGMA user_version") == [(2,)]
    (tmp_path / "out").mkdir()
    # Recorded relative paths are read from the working directory, where the default state folder is.
    owners = LedgerReader.open(tmp_path).output_owners(str(tmp_path / "out" / "a.pdf.json"), "other")
    assert owners == [("a.pdf", "/in/a.pdf", str(tmp_path / "out" / "a.pdf.json"))]
    ledger.close()
    assert SqliteLedger.open(tmp_path).query("SELECT count(*) FROM documents") == [(2,)]  # opens again as is


def test_new_outputs_are_recorded_by_their_real_path(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    ledger = SqliteLedger.open(tmp_path)
    _run(ledger, "r1")
    output = str(tmp_path / "link" / "x.json")
    ledger.apply([LedgerEvent("r1", "x", JobState.SUCCEEDED, 1.0, output_path=output)])
    assert ledger.query("SELECT output_path, output_key FROM documents") == [
        (output, str(tmp_path / "real" / "x.json"))
    ]
