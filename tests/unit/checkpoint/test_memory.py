"""The in-memory ledger answers the planner exactly as the SQLite one does after the same events."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from docbatch.checkpoint.base import Ledger, LedgerEvent, LedgerLookup, LedgerStore, RunRecord
from docbatch.checkpoint.memory import MemoryLedger
from docbatch.checkpoint.stores import SqliteStore
from docbatch.models import JobState


def history(output: Path) -> list[list[LedgerEvent]]:
    """Batches of events as runs write them: tries, a retry, a pending hand-back, a skip, outputs."""
    return [
        [
            LedgerEvent("r1", "a.pdf", JobState.RUNNING, 1.0, attempt=1, path="/in/a.pdf", size=5, mtime_ns=7),
            LedgerEvent("r1", "a.pdf", JobState.FAILED, 1.5, attempt=1, error_kind="crash", message="boom"),
            LedgerEvent("r1", "b.pdf", JobState.SKIPPED, 1.0, path="/in/b.pdf", message="empty file"),
            LedgerEvent("r1", "c.pdf", JobState.RUNNING, 1.0, attempt=1, path="/in/c.pdf", size=9, mtime_ns=1),
            LedgerEvent("r1", "c.pdf", JobState.PENDING, 1.2, message="not started: the run stopped"),
        ],
        [
            LedgerEvent("r2", "a.pdf", JobState.RUNNING, 2.0, attempt=2, priority=1),
            LedgerEvent(
                "r2",
                "a.pdf",
                JobState.SUCCEEDED,
                2.5,
                attempt=2,
                sha256="s",
                recipe_hash="h",
                output_path=str(output / "A.pdf.json"),
            ),  # fmt: skip
            LedgerEvent("r2", "d.pdf", JobState.DEAD, 2.0, error_kind="collision", output_path=None),
        ],
    ]


def replay(store: LedgerStore, state_dir: Path, output: Path) -> tuple[Ledger, LedgerLookup]:
    writer = store.open_writer(state_dir)
    for run_id in ("r1", "r2"):
        writer.begin_run(RunRecord(run_id, time.time(), 1, "host", "docbatch run x", "{}", str(output), "local"))
    for batch in history(output):
        writer.apply(batch)
    return writer, store.open_reader(state_dir)


@pytest.mark.parametrize("source_id", ["a.pdf", "b.pdf", "c.pdf", "d.pdf", "never-seen.pdf"])
def test_documents_read_back_as_from_sqlite(tmp_path: Path, source_id: str) -> None:
    output = tmp_path / "out"
    sqlite_writer, sqlite_reader = replay(SqliteStore(), tmp_path / "state", output)
    _, memory_reader = replay(MemoryLedger(), tmp_path / "state", output)
    try:
        assert memory_reader.document(source_id) == sqlite_reader.document(source_id)
    finally:
        sqlite_reader.close()
        sqlite_writer.close()


def test_output_owners_match_without_ascii_case_as_in_sqlite(tmp_path: Path) -> None:
    output = tmp_path / "out"
    sqlite_writer, sqlite_reader = replay(SqliteStore(), tmp_path / "state", output)
    _, memory_reader = replay(MemoryLedger(), tmp_path / "state", output)
    key = str(output / "a.pdf.json")
    try:
        found = memory_reader.output_owners(key, "other.pdf")
        assert found == sqlite_reader.output_owners(key, "other.pdf")
        assert [owner for owner, _, _ in found] == ["a.pdf"]
        assert memory_reader.output_owners(key, "a.pdf") == []  # a document does not collide with itself
    finally:
        sqlite_reader.close()
        sqlite_writer.close()


def test_a_run_ends_with_its_status_and_heartbeat(tmp_path: Path) -> None:
    ledger = MemoryLedger()
    writer, _ = replay(ledger, tmp_path, tmp_path / "out")
    writer.heartbeat("r2", 3.0, '{"processed": 2}')
    writer.finish_run("r2", status="finished", finished_at=4.0, exit_code=1, report_path=None, counts_json="{}")
    run = ledger.runs["r2"]
    assert (run.status, run.exit_code, run.heartbeat_at, run.finished_at) == ("finished", 1, 3.0, 4.0)
    assert [event.state for event in ledger.run_events("r2")] == [JobState.RUNNING, JobState.SUCCEEDED, JobState.DEAD]
