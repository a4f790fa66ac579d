"""History survives, through the real CLI: every run keeps its own report, a retry that never started
does not become the run that status, report and retry-failed mean by default, and prune keeps what
the kept runs need."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, run_cli, wait_started, write_texts

MISBEHAVE = "tests.helpers.processors:misbehave"


def _runs(tmp_path: Path) -> list[tuple[str, str | None, str | None]]:
    """(run id, parent run id, report path) of every run, oldest first."""
    with sqlite3.connect(tmp_path / ".docbatch" / "ledger.sqlite") as db:
        return db.execute("SELECT run_id, parent_run_id, report_path FROM runs ORDER BY started_at").fetchall()


def _report(path: Path) -> dict[str, object]:
    report: dict[str, object] = json.loads(path.read_text())
    return report


def test_a_retry_keeps_its_own_report_and_leaves_the_original_run_s_alone(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "raise1.txt", "ok.txt")
    out = tmp_path / "docbatch-out"
    assert run_cli("run", str(docs), "-q", "--processor", MISBEHAVE, cwd=tmp_path).returncode == 1
    (first_id, _, first_path), *_ = _runs(tmp_path)
    assert Path(first_path or "") == out / "reports" / f"{first_id}.json"  # absolute: read from anywhere
    original = (out / "report.json").read_bytes()
    assert (
        json.loads(original)["run_id"] == first_id and (out / "reports" / f"{first_id}.json").read_bytes() == original
    )

    (docs / "raise1.txt").write_text("fixed: now readable\n")
    retry = run_cli("retry-failed", cwd=tmp_path)
    assert retry.returncode == 0, retry.stderr
    (_, _, _), (retry_id, parent, retry_path) = _runs(tmp_path)
    assert parent == first_id
    # The original run's report is untouched, at the top and in its own file; the retry has its own.
    assert (out / "report.json").read_bytes() == original
    assert (out / "reports" / f"{first_id}.json").read_bytes() == original
    retried = _report(tmp_path / (retry_path or ""))
    assert retried["run_id"] == retry_id and retried["counts"]["succeeded"] == 1  # type: ignore[index]
    assert f"reports/{retry_id}.json" in retry.stdout

    for run_id in (first_id, retry_id):  # every run's report renders, from its own file
        html = run_cli("report", run_id, "--html", cwd=tmp_path)
        assert html.returncode == 0, html.stderr
        assert html.stdout.strip() == f"{out}/reports/{run_id}.html"
        assert run_id in (out / "reports" / f"{run_id}.html").read_text()
        status = json.loads(run_cli("status", run_id, "--json", cwd=tmp_path).stdout)
        assert status["report"] == f"{out}/reports/{run_id}.json"

    # The next plain run is the latest at the top; the earlier reports stay as they were.
    assert run_cli("run", str(docs), "-q", "--processor", MISBEHAVE, cwd=tmp_path).returncode == 0
    third_id = _runs(tmp_path)[-1][0]
    assert _report(out / "report.json")["run_id"] == third_id
    assert (out / "reports" / f"{first_id}.json").read_bytes() == original
    assert sorted(path.name for path in (out / "reports").glob("*.json")) == sorted(
        f"{run_id}.json" for run_id in (first_id, retry_id, third_id)
    )


def _tool(folder: Path) -> Path:
    """An --exec program that fails on documents named raise* (until they say `fixed`), and prints the others."""
    folder.mkdir(parents=True, exist_ok=True)
    tool = folder / "extract"
    tool.write_text(
        '#!/bin/sh\ngrep -q fixed "$1" || case "$1" in *raise*) echo "cannot read $1" >&2; exit 1;; esac\ncat "$1"\n'
    )
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return tool


def test_a_retry_that_fails_to_start_never_becomes_the_latest_run(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "raise1.txt", "raise2.txt", "ok.txt")
    tool = _tool(tmp_path / "tools")
    first = run_cli("run", str(docs), "-q", "--exec", f"{tool} {{in}}", cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    ((first_id, _, _),) = _runs(tmp_path)

    assert run_cli("retry-failed", "--kind", "bogus", cwd=tmp_path).returncode == 2  # a bad flag
    nothing = run_cli("retry-failed", "--kind", "timeout", cwd=tmp_path)  # nothing matches
    assert nothing.returncode == 0 and f"nothing to retry: run {first_id}" in nothing.stdout
    manifest = tmp_path / ".docbatch" / f"retry-{first_id}.jsonl"
    manifest.mkdir()  # the state folder cannot take the retry's list: the environment failed it
    blocked = run_cli("retry-failed", cwd=tmp_path)
    assert blocked.returncode == 5 and len(blocked.stderr.splitlines()) == 1, blocked.stderr
    assert "cannot write the retry list" in blocked.stderr
    manifest.rmdir()
    tool.rename(tool.with_name("gone"))  # the program went away: the retry refuses once, up front
    gone = run_cli("retry-failed", cwd=tmp_path)
    assert gone.returncode == 2 and gone.stderr.count("\n") == 1 and f"no program {tool}" in gone.stderr

    assert [row[0] for row in _runs(tmp_path)] == [first_id]
    assert json.loads(run_cli("status", "--json", cwd=tmp_path).stdout)["run_id"] == first_id
    tool.with_name("gone").rename(tool)
    (docs / "raise1.txt").write_text("fixed\n")
    retry = run_cli("retry-failed", cwd=tmp_path)
    assert f"retrying 2 of 2 failed documents of run {first_id}" in retry.stdout, retry.stdout + retry.stderr
    assert "1 of 2 now succeed" in retry.stdout


def test_a_retry_killed_before_its_first_document_is_passed_over(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "raise1.txt", "ok.txt")
    assert run_cli("run", str(docs), "-q", "--processor", MISBEHAVE, cwd=tmp_path).returncode == 1
    ((first_id, _, _),) = _runs(tmp_path)
    # What a coordinator killed while starting leaves behind: its run row, no document touched.
    with sqlite3.connect(tmp_path / ".docbatch" / "ledger.sqlite") as db:
        dead_pid = _exited_pid()
        db.execute(
            "INSERT INTO runs (run_id, parent_run_id, started_at, status, pid, host, output_dir) "
            "VALUES ('29991231T000000Z-dead00', ?, strftime('%s','now') + 1, 'running', ?, ?, 'docbatch-out')",
            (first_id, dead_pid, socket.gethostname()),
        )
    assert json.loads(run_cli("status", "--json", cwd=tmp_path).stdout)["run_id"] == first_id
    assert run_cli("report", cwd=tmp_path).stdout.strip() == f"{tmp_path}/docbatch-out/reports/{first_id}.json"
    retry = run_cli("retry-failed", "-q", cwd=tmp_path)
    assert retry.returncode == 1 and _runs(tmp_path)[-1][1] == first_id


def _exited_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_retry_refused_by_the_lock_leaves_no_run_behind(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "raise1.txt")
    assert run_cli("run", str(docs), "-q", "--processor", MISBEHAVE, cwd=tmp_path).returncode == 1
    ((first_id, _, _),) = _runs(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-m", "docbatch", "run", str(write_texts(tmp_path / "more", "hang.txt")), "-q",
         "--grace", "0", "--processor", MISBEHAVE],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_started(tmp_path, 1)
        refused = run_cli("retry-failed", first_id, cwd=tmp_path)
        assert refused.returncode == 3, refused.stderr
        assert len(_runs(tmp_path)) == 2  # the original and the holder, nothing from the refused retry
        live = json.loads(run_cli("status", "--json", cwd=tmp_path).stdout)
        assert live["status"] == "running"  # and its report will be its own file
        assert live["report"] == f"{tmp_path}/docbatch-out/reports/{live['run_id']}.json"
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait(timeout=30)


def _age(tmp_path: Path, days: int, *run_ids: str) -> None:
    with sqlite3.connect(tmp_path / ".docbatch" / "ledger.sqlite") as db:
        db.executemany(
            "UPDATE runs SET finished_at = finished_at - ? WHERE run_id = ?", [(days * 86400, r) for r in run_ids]
        )


def _counts(tmp_path: Path) -> tuple[list[str], dict[str, int], int]:
    """Run ids (oldest first), events per run, and documents."""
    with sqlite3.connect(tmp_path / ".docbatch" / "ledger.sqlite") as db:
        runs = [row[0] for row in db.execute("SELECT run_id FROM runs ORDER BY started_at")]
        events = dict(db.execute("SELECT run_id, count(*) FROM events GROUP BY run_id").fetchall())
        documents = db.execute("SELECT count(*) FROM documents").fetchone()[0]
    return runs, events, documents


def test_prune_keeps_the_latest_run_and_the_runs_kept_retries_came_from(tmp_path: Path) -> None:
    out = tmp_path / "docbatch-out"
    other = write_texts(tmp_path / "other", "o.txt")
    assert run_cli("run", str(other), "-q", cwd=tmp_path).returncode == 0
    docs = write_texts(tmp_path / "docs", "raise1.txt", "ok.txt")
    assert run_cli("run", str(docs), "-q", "--processor", MISBEHAVE, cwd=tmp_path).returncode == 1
    (docs / "raise1.txt").write_text("fixed\n")
    assert run_cli("retry-failed", "-q", cwd=tmp_path).returncode == 0
    (unrelated, original, retry), events, documents = _counts(tmp_path)
    _age(tmp_path, 50, unrelated, original, retry)

    result = run_cli("prune", "--older-than", "30d", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("removed 1 runs"), result.stdout
    # The retry is the latest run and the original is its parent: both stay with all their events.
    assert _counts(tmp_path) == ([original, retry], {r: events[r] for r in (original, retry)}, documents)
    assert not (out / "reports" / f"{unrelated}.json").exists()
    assert (out / "reports" / f"{original}.json").is_file() and (out / "report.json").is_file()
    assert (out / "o.txt.json").is_file()  # outputs are never pruned
    assert json.loads(run_cli("status", "--json", cwd=tmp_path).stdout)["parent_run_id"] == original
    assert run_cli("report", original, "--html", cwd=tmp_path).returncode == 0

    # A newer plain run becomes the latest; the retry and its parent are needed by nothing now.
    assert run_cli("run", str(docs), "-q", "--processor", MISBEHAVE, cwd=tmp_path).returncode == 0
    newest = _counts(tmp_path)[0][-1]
    _age(tmp_path, 50, newest)
    assert run_cli("prune", "--older-than", "30d", cwd=tmp_path).stdout.startswith("removed 2 runs")
    assert _counts(tmp_path)[0] == [newest] and _counts(tmp_path)[2] == documents


def test_prune_refuses_a_state_folder_that_does_not_exist(tmp_path: Path) -> None:
    missing = run_cli("prune", "--older-than", "30d", "--state", "nowhere", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr == "docbatch: error: --state nowhere: no such folder, nothing to prune\n"
    assert not (tmp_path / "nowhere").exists()
    (tmp_path / "empty").mkdir()
    empty = run_cli("prune", "--older-than", "30d", "--state", "empty", cwd=tmp_path)
    assert empty.returncode == 2 and empty.stderr.startswith("docbatch: error: no ledger in empty")
    assert list((tmp_path / "empty").iterdir()) == []
