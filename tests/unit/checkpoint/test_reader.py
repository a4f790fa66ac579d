"""Which run `status`, `report` and `retry-failed` mean by default, on a real SQLite ledger."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from docbatch.checkpoint.base import LedgerEvent, RunRecord
from docbatch.checkpoint.reader import LedgerReader, find_run
from docbatch.checkpoint.sqlite import SqliteLedger
from docbatch.models import JobState


def _exited_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _begin(ledger: SqliteLedger, run_id: str, at: float, *, pid: int, parent: str | None = None) -> None:
    record = RunRecord(run_id, at, pid, socket.gethostname(), "docbatch run x", "{}", "out", "local", parent)
    ledger.begin_run(record)


def _finish(ledger: SqliteLedger, run_id: str, status: str, exit_code: int) -> None:
    ledger.finish_run(run_id, status=status, finished_at=0.0, exit_code=exit_code, report_path=None, counts_json="{}")


@pytest.fixture
def ledger(tmp_path: Path) -> SqliteLedger:
    ledger = SqliteLedger.open(tmp_path)
    _begin(ledger, "r1", 1.0, pid=_exited_pid())
    ledger.apply([LedgerEvent("r1", "a.txt", JobState.DEAD, 1.5, attempt=1, error_kind="corrupt")])
    _finish(ledger, "r1", "finished", 1)
    return ledger


def _latest(state: Path) -> str:
    reader = LedgerReader.open(state)
    try:
        return find_run(reader, None).run_id
    finally:
        reader.close()


@pytest.mark.parametrize(
    ("status", "exit_code", "parent"),
    [
        ("running", None, "r1"),  # a retry's coordinator killed while starting
        ("running", None, None),  # a run's coordinator killed while starting
        ("failed", 0, None),  # discovery failed before any document
        ("finished", 5, None),  # the environment failed it before any document
        ("interrupted", 4, "r1"),  # a retry stopped before its first document
    ],
)
def test_a_run_that_touched_no_document_is_passed_over(
    ledger: SqliteLedger, tmp_path: Path, status: str, exit_code: int | None, parent: str | None
) -> None:
    _begin(ledger, "r2", 2.0, pid=_exited_pid(), parent=parent)
    if exit_code is not None:
        _finish(ledger, "r2", status, exit_code)
    assert _latest(tmp_path) == "r1"


def test_a_live_run_an_empty_run_and_a_run_that_did_work_count(ledger: SqliteLedger, tmp_path: Path) -> None:
    _begin(ledger, "r2", 2.0, pid=_exited_pid())
    _finish(ledger, "r2", "finished", 0)  # an empty folder: nothing to do is a real run
    assert _latest(tmp_path) == "r2"
    _begin(ledger, "r3", 3.0, pid=os.getpid(), parent="r1")  # live, nothing recorded yet
    assert _latest(tmp_path) == "r3"
    _begin(ledger, "r4", 4.0, pid=_exited_pid(), parent="r1")
    ledger.apply([LedgerEvent("r4", "a.txt", JobState.RUNNING, 4.5, attempt=2)])
    assert _latest(tmp_path) == "r4"  # crashed, but it did work: its documents are resumable
    assert find_run(LedgerReader.open(tmp_path), "r2").run_id == "r2"  # named runs are found as ever
