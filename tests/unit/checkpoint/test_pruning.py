"""What prune keeps, on a real SQLite ledger: the latest run and its chain of retried parents."""

from __future__ import annotations

import socket
from pathlib import Path

from docbatch.checkpoint.base import LedgerEvent, RunRecord
from docbatch.checkpoint.pruning import plan_prune
from docbatch.checkpoint.reader import LedgerReader
from docbatch.checkpoint.sqlite import SqliteLedger
from docbatch.models import JobState


def _run(ledger: SqliteLedger, run_id: str, at: float, parent: str | None = None) -> None:
    ledger.begin_run(RunRecord(run_id, at, 1, socket.gethostname(), "docbatch", "{}", "out", "local", parent))
    ledger.apply([LedgerEvent(run_id, f"{run_id}.txt", JobState.SUCCEEDED, at, attempt=1)])
    ledger.finish_run(run_id, status="finished", finished_at=at, exit_code=0, report_path=None, counts_json="{}")


def test_a_retry_of_a_retry_keeps_both_parents_and_nothing_else(tmp_path: Path) -> None:
    ledger = SqliteLedger.open(tmp_path)
    _run(ledger, "a", 1.0)
    _run(ledger, "b", 2.0)
    _run(ledger, "b-retry", 3.0, parent="b")
    _run(ledger, "b-retry-retry", 4.0, parent="b-retry")
    _run(ledger, "c", 5.0)  # recent: kept by age, and so is what it depends on (nothing)
    reader = LedgerReader.open(tmp_path)
    try:
        assert plan_prune(reader, finished_before=4.5).keep == frozenset()
        plan = plan_prune(reader, finished_before=100.0)  # everything is old: only the latest is needed
        assert plan.keep == {"c"} and [row.run_id for row in plan.drop] == ["a", "b", "b-retry", "b-retry-retry"]
        ledger.finish_run("c", status="finished", finished_at=200.0, exit_code=0, report_path=None, counts_json="{}")
        _run(ledger, "d", 6.0, parent="b-retry-retry")  # a newer retry, ended before the cutoff but the latest
        plan = plan_prune(reader, finished_before=100.0)
        assert plan.keep == {"b", "b-retry", "b-retry-retry", "d"}
        assert [row.run_id for row in plan.drop] == ["a"]
    finally:
        reader.close()
    assert ledger.prune(100.0, keep=plan.keep) == (1, 3)  # its document event and its two run events
    assert [row[0] for row in ledger.query("SELECT run_id FROM runs ORDER BY started_at")] == [
        "b", "b-retry", "b-retry-retry", "c", "d"
    ]  # fmt: skip


def test_event_ids_are_never_given_again_after_a_prune(tmp_path: Path) -> None:
    ledger = SqliteLedger.open(tmp_path)
    _run(ledger, "old", 1.0)
    _run(ledger, "new", 2.0)
    ledger.mark_run("old", "expired", 3.0)  # the newest event belongs to a run about to be pruned
    (seen,) = ledger.query("SELECT max(id) FROM events")[0]
    assert ledger.prune(100.0, keep={"new"})[0] == 1
    ledger.mark_run("new", "expired", 4.0)
    (after,) = ledger.query("SELECT max(id) FROM events")[0]
    assert isinstance(seen, int) and isinstance(after, int) and after > seen
