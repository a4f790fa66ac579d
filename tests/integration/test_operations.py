"""Operating docbatch as cron does: locking, status from another process, retry-failed, budgets,
signals, logs and pruning, all through the real CLI."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli, start_run, wait_started, write_texts

MISBEHAVE = "tests.helpers.processors:misbehave"


def _wait_running(cwd: Path, count: int) -> None:
    """Wait until the ledger shows ``count`` documents running (the run's state is real, not slept for)."""
    ledger = cwd / ".docbatch" / "ledger.sqlite"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if ledger.exists():
            try:
                with sqlite3.connect(ledger) as db:
                    if db.execute("SELECT count(*) FROM documents WHERE state = 'running'").fetchone()[0] >= count:
                        return
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    pytest.fail(f"{count} running documents never showed up in the ledger")


def test_a_second_run_on_the_same_state_exits_3_and_changes_nothing(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "hang.txt")
    holder = start_run(tmp_path, str(docs), "-j", "1", "-q", "--grace", "0", "--processor", MISBEHAVE)
    try:
        _wait_running(tmp_path, 1)
        other = write_texts(tmp_path / "other", "a.txt")
        second = run_cli("run", str(other), "-o", "second-out", cwd=tmp_path)
        assert second.returncode == 3
        assert f"pid {holder.pid}" in second.stderr and "--wait-lock" in second.stderr
        assert not (tmp_path / "second-out").exists()
    finally:
        holder.send_signal(signal.SIGTERM)
        assert holder.wait(timeout=30) == 4


def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path: Path) -> None:
    state = tmp_path / ".docbatch"
    state.mkdir()
    (state / "lock").write_text("pid=999999\nhost=elsewhere\nstarted=2026-01-01T00:00:00+00:00\n")
    result = run_cli("run", str(write_texts(tmp_path / "docs", "a.txt")), cwd=tmp_path)
    assert result.returncode == 0
    assert "took over a stale lock" in result.stderr and "999999" in result.stderr


def test_status_of_a_live_run_and_of_a_finished_one(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "hang1.txt", "hang2.txt", "ok.txt")
    run = start_run(tmp_path, str(docs), "-j", "2", "-q", "--grace", "0", "--processor", MISBEHAVE)
    try:
        _wait_running(tmp_path, 2)
        deadline = time.monotonic() + 30
        while True:  # the coordinator publishes what its workers are doing once a second
            live = run_cli("status", "--json", cwd=tmp_path)
            assert live.returncode == 0, live.stderr
            info = json.loads(live.stdout)
            if [job["stage"] for job in info["active"]] == ["extract"] * 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert info["status"] == "running"
        assert sorted(job["source_id"] for job in info["active"]) == ["hang1.txt", "hang2.txt"]
        # Each job's stage as its worker reported it: both hang inside the processor.
        assert [job["stage"] for job in info["active"]] == ["extract", "extract"]
        text = run_cli("status", cwd=tmp_path).stdout
        assert "running" in text and "hang1.txt" in text and "extract" in text
    finally:
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=30) == 4
    info = json.loads(run_cli("status", "--json", cwd=tmp_path).stdout)
    assert info["status"] == "interrupted" and info["exit_code"] == 4
    assert info["states"] == {"cancelled": 2}
    runs = run_cli("status", "--runs", cwd=tmp_path).stdout
    assert info["run_id"] in runs


def test_status_without_a_ledger_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("status", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("docbatch: error: no ledger in .docbatch")


def test_retry_failed_reruns_only_the_failures_as_a_linked_run(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "raise1.txt", "raise2.txt", "hang.txt", "ok.txt")
    first = run_cli("run", str(docs), "--timeout", "1s", "--processor", MISBEHAVE, cwd=tmp_path)
    assert first.returncode == 1
    first_id = json.loads(run_cli("status", "--json", cwd=tmp_path).stdout)["run_id"]
    # The documents are repaired; only the timed-out one is retried first, by kind.
    for name in ("raise1.txt", "raise2.txt", "hang.txt"):
        (docs / name).write_text("fixed: now readable\n")
    only_timeouts = run_cli("retry-failed", "--kind", "timeout", cwd=tmp_path)
    assert only_timeouts.returncode == 0, only_timeouts.stderr
    assert "retrying 1 of 3 failed documents" in only_timeouts.stdout
    assert "1 of 1 now succeed" in only_timeouts.stdout
    rest = run_cli("retry-failed", first_id, cwd=tmp_path)
    assert "retrying 2 of 2" in rest.stdout and rest.returncode == 0
    with sqlite3.connect(tmp_path / ".docbatch" / "ledger.sqlite") as db:
        parents = db.execute("SELECT parent_run_id FROM runs ORDER BY started_at").fetchall()
        states = dict(db.execute("SELECT source_id, state FROM documents").fetchall())
    assert parents == [(None,), (first_id,), (first_id,)]
    assert set(states.values()) == {"succeeded"}


def test_retried_documents_keep_their_priority_unless_told_otherwise(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "raise-a.txt", "raise-b.txt")
    manifest = tmp_path / "list.csv"
    manifest.write_text(f"path,priority\n{docs / 'raise-a.txt'},high\n{docs / 'raise-b.txt'},low\n")
    assert run_cli("run", "--manifest", str(manifest), "--processor", MISBEHAVE, cwd=tmp_path).returncode == 1
    ledger = tmp_path / ".docbatch" / "ledger.sqlite"

    def priorities() -> dict[str, int]:
        with sqlite3.connect(ledger) as db:
            return dict(db.execute("SELECT source_id, priority FROM documents").fetchall())

    kept = run_cli("retry-failed", cwd=tmp_path)
    assert kept.returncode == 1, kept.stderr
    assert priorities() == {str(docs / "raise-a.txt"): 2, str(docs / "raise-b.txt"): 0}
    raised = run_cli("retry-failed", "--priority", "critical", cwd=tmp_path)
    assert raised.returncode == 1, raised.stderr
    assert set(priorities().values()) == {3}
    bad = run_cli("retry-failed", "--priority", "urgent", cwd=tmp_path)
    assert bad.returncode == 2 and "--priority: unknown priority 'urgent'" in bad.stderr


def test_max_failures_stops_the_run_early_and_resumably(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", *(f"raise{i:02d}.txt" for i in range(30)))
    result = run_cli("run", str(docs), "-j", "1", "--max-failures", "3", "--processor", MISBEHAVE, cwd=tmp_path)
    assert result.returncode == 4
    report = json.loads((tmp_path / "docbatch-out" / "report.json").read_text())
    assert report["stop_reason"] == "--max-failures 3 reached"
    # Jobs a worker had already started when the third failure came back still finish (at most one
    # per batch in flight: two for one worker); everything else stays pending.
    assert 3 <= report["counts"]["dead"] <= 5 and report["counts"]["pending"] >= 25


def test_max_runtime_stops_admitting_and_cancels_after_the_grace(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "hang.txt", "x1.txt", "x2.txt")
    result = run_cli(
        "run", str(docs), "-j", "1", "--max-runtime", "1s", "--grace", "1s", "--processor", MISBEHAVE, cwd=tmp_path
    )
    assert result.returncode == 4
    report = json.loads((tmp_path / "docbatch-out" / "report.json").read_text())
    assert report["stop_reason"].startswith("--max-runtime")
    counts = report["counts"]
    assert counts["cancelled"] == 1 and counts["pending"] == 2 and counts["discovered"] == 3


def test_a_second_sigint_cancels_at_once_and_exits_130(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "hang1.txt", "hang2.txt")
    run = start_run(tmp_path, str(docs), "-j", "2", "--grace", "10m", "--processor", MISBEHAVE)
    wait_started(tmp_path, 2)
    run.send_signal(signal.SIGINT)
    time.sleep(0.5)  # the first signal must be handled before the second one means "now"
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=30) == 130
    report = json.loads((tmp_path / "docbatch-out" / "report.json").read_text())
    assert report["status"] == "cancelled" and report["counts"]["cancelled"] == 2


def test_json_log_file_has_one_object_per_line(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "raise.txt", "ok.txt")
    result = run_cli(
        "run", str(docs), "-q", "--log-file", "run.log", "--log-format", "json", "--processor", MISBEHAVE, cwd=tmp_path
    )
    assert result.returncode == 1
    records = [json.loads(line) for line in (tmp_path / "run.log").read_text().splitlines()]
    failure = next(r for r in records if r["event"] == "failure")
    assert (failure["source_id"], failure["error_kind"]) == ("raise.txt", "processor")
    summary = records[-1]
    assert summary["event"] == "summary" and summary["exit_code"] == 1 and summary["succeeded"] == 1


def test_prune_removes_old_history_but_keeps_documents(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    for _ in range(2):
        assert run_cli("run", str(docs), "-q", cwd=tmp_path).returncode == 0
    ledger = tmp_path / ".docbatch" / "ledger.sqlite"
    with sqlite3.connect(ledger) as db:
        db.execute("UPDATE runs SET finished_at = finished_at - 40 * 86400")
        latest = db.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
    result = run_cli("prune", "--older-than", "30d", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("removed 1 runs"), result.stdout
    with sqlite3.connect(ledger) as db:
        assert db.execute("SELECT run_id FROM runs").fetchall() == [latest]  # the latest run stays
        assert db.execute("SELECT count(*) FROM documents").fetchone() == (1,)
    assert (tmp_path / "docbatch-out" / "a.txt.json").is_file()


def test_a_run_inside_its_input_folder_never_reads_its_own_outputs_or_state(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    for _ in range(2):  # `cd docs && docbatch run .`: docbatch-out/ lands inside the input
        assert run_cli("run", ".", "-q", cwd=docs).returncode == 0
    own_reports = sorted(f"reports/{p.name}" for p in (docs / "docbatch-out" / "reports").iterdir())
    assert len(own_reports) == 2  # each run's own report
    assert sorted(p.relative_to(docs / "docbatch-out").as_posix() for p in (docs / "docbatch-out").rglob("*")) == [
        ".docbatch-output",
        "a.txt.json",
        "report.json",
        "reports",
        *own_reports,
    ]
    visible_state = run_cli("run", ".", "-q", "-o", "out", "--state", "state", cwd=docs)
    assert visible_state.returncode == 0, visible_state.stderr
    report = json.loads((docs / "out" / "report.json").read_text())
    # out/ and state/ are this run's own, and docbatch-out/ and .docbatch/ are the earlier runs' (their
    # marker and ledger say so): no output of any of them, and none of them skipped as binary either.
    written = sorted(
        p.relative_to(docs / "out").as_posix() for p in (docs / "out").rglob("*.json") if p.parent.name != "reports"
    )
    assert written == ["a.txt.json", "report.json"]
    assert not [
        s for s in report["skipped"] if s["source_id"].startswith(("out", "state", "docbatch-out", ".docbatch"))
    ]
