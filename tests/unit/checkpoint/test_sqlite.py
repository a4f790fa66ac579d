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
    assert events == [("a.pdf", "running"), ("b.pdf", "skipped"), ("a.pdf", "succeeded")]
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
    assert ledger.query("SELECT count(*) FROM events") == [(4,)]


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
    assert together.query(query) == apart.query(query) == [("a.pdf", 5, 7, "s", "succeeded", 2, None, None, "o")]
    assert together.query("SELECT count(*) FROM events") == [(4,)]


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
    assert ledger.query("SELECT count(*) FROM events") == [(0,)]


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
