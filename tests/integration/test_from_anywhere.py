"""The ledger is read from anywhere, through the real CLI: a run started with relative paths is
retried, reported, shown and pruned from another folder; a bad recorded configuration ends in one
line; and retry-failed during a live run is refused like a second run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO, run_cli, wait_started, write_texts

MISBEHAVE = "tests.helpers.processors:misbehave"


def _ledger(work: Path) -> sqlite3.Connection:
    return sqlite3.connect(work / ".docbatch" / "ledger.sqlite")


def _run_ids(work: Path) -> list[str]:
    with _ledger(work) as db:
        return [row[0] for row in db.execute("SELECT run_id FROM runs ORDER BY started_at")]


def test_a_run_with_relative_paths_is_retried_reported_shown_and_pruned_from_another_folder(tmp_path: Path) -> None:
    work, elsewhere = tmp_path / "w", tmp_path / "elsewhere"
    write_texts(work / "in", "ok.txt")
    (work / "in" / "bad.pdf").write_bytes(b"%PDF-1.7 cut short")
    elsewhere.mkdir()
    assert run_cli("run", "in", "-q", cwd=work).returncode == 1
    state = "../w/.docbatch"

    # A retry, then a retry of that retry (whose list was `.docbatch/retry-<id>.jsonl`), from elsewhere.
    for _ in range(2):
        retry = run_cli("retry-failed", "--state", state, "-q", cwd=elsewhere)
        assert retry.returncode == 1 and retry.stderr == "", retry.stderr
    first, retried, again = _run_ids(work)
    with _ledger(work) as db:
        kinds = db.execute("SELECT run_id, error_kind FROM events WHERE state = 'dead' ORDER BY at").fetchall()
        assert kinds == [(first, "corrupt"), (retried, "corrupt"), (again, "corrupt")]
        rows = db.execute("SELECT output_dir, report_path, config FROM runs").fetchall()
        paths = db.execute("SELECT path FROM documents").fetchall()
    for output_dir, report_path, config_json in rows:
        config = json.loads(config_json)
        recorded = [output_dir, report_path, config["output"]["root"], config["state_dir"]]
        recorded += config["sources"]["paths"] + config["sources"]["manifests"]
        assert all(os.path.isabs(path) and os.path.exists(path) for path in recorded), recorded
    assert all(os.path.isabs(path) for (path,) in paths)
    assert not (elsewhere / "docbatch-out").exists() and list(elsewhere.iterdir()) == []
    # What the user sees in outputs stays as spelled.
    assert json.loads((work / "docbatch-out" / "ok.txt.json").read_text())["source"]["path"] == "in/ok.txt"

    shown = run_cli("report", first, "--state", state, cwd=elsewhere)
    assert shown.returncode == 0 and shown.stdout.strip() == str(work / "docbatch-out" / "reports" / f"{first}.json")
    status = json.loads(run_cli("status", first, "--json", "--state", state, cwd=elsewhere).stdout)
    assert Path(status["output_dir"]).is_dir() and Path(status["report"]).is_file()

    with _ledger(work) as db:
        db.execute("UPDATE runs SET finished_at = finished_at - 50 * 86400 WHERE run_id != ?", (again,))
    # The retries keep their parents; make the latest a plain run so that both retries can go.
    assert run_cli("run", "in", "-q", cwd=work).returncode == 6
    with _ledger(work) as db:
        db.execute("UPDATE runs SET finished_at = finished_at - 50 * 86400 WHERE run_id = ?", (again,))
    pruned = run_cli("prune", "--older-than", "30d", "--state", state, cwd=elsewhere)
    assert pruned.returncode == 0 and pruned.stdout.startswith("removed 3 runs"), pruned.stdout + pruned.stderr
    assert [path.stem for path in (work / "docbatch-out" / "reports").glob("*.json")] == _run_ids(work)


def test_a_retry_of_a_recorded_configuration_it_cannot_repeat_ends_in_one_line(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "raise1.txt")
    assert run_cli("run", str(docs), "-q", "--processor", MISBEHAVE, cwd=tmp_path).returncode == 1
    (run_id,) = _run_ids(tmp_path)
    with _ledger(tmp_path) as db:
        (recorded,) = db.execute("SELECT config FROM runs").fetchone()
        db.execute("UPDATE runs SET config = json_set(config, '$.pool.concurrency', 0)")
    refused = run_cli("retry-failed", cwd=tmp_path)
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert f"run {run_id}: cannot repeat its recorded configuration: pool.concurrency:" in refused.stderr
    with _ledger(tmp_path) as db:
        db.execute("UPDATE runs SET config = '{\"sources\": ['")
    broken = run_cli("retry-failed", cwd=tmp_path)
    assert broken.returncode == 2 and len(broken.stderr.splitlines()) == 1, broken.stderr
    # A source folder gone since does not stop the retry: it reads its own list of documents.
    with _ledger(tmp_path) as db:
        db.execute("UPDATE runs SET config = ?", (recorded,))
    docs.rename(tmp_path / "moved")
    gone = run_cli("retry-failed", "-q", cwd=tmp_path)
    assert gone.returncode == 1 and gone.stderr == "", gone.stderr
    assert _run_ids(tmp_path)[0] == run_id and len(_run_ids(tmp_path)) == 2


def test_an_old_ledger_with_relative_paths_is_retried_from_its_folder_and_refused_elsewhere(tmp_path: Path) -> None:
    work = tmp_path / "w"
    write_texts(work / "in", "raise1.txt")
    assert run_cli("run", "in", "-q", "--processor", MISBEHAVE, cwd=work).returncode == 1
    (run_id,) = _run_ids(work)
    with _ledger(work) as db:  # as a ledger written before paths were recorded absolute
        config = json.loads(db.execute("SELECT config FROM runs").fetchone()[0])
        config["sources"]["paths"], config["output"]["root"], config["state_dir"] = ["in"], "docbatch-out", ".docbatch"
        db.execute("UPDATE runs SET config = ?", (json.dumps(config),))
    refused = run_cli("retry-failed", "--state", "w/.docbatch", cwd=tmp_path)
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert f"run {run_id} recorded relative paths (output docbatch-out)" in refused.stderr
    assert not (tmp_path / "docbatch-out").exists()
    retry = run_cli("retry-failed", "-q", cwd=work)
    assert retry.returncode == 1 and retry.stderr == "", retry.stderr


def _wait_dead(work: Path, source_id: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with _ledger(work) as db:
                row = db.execute("SELECT state FROM documents WHERE source_id = ?", (source_id,)).fetchone()
            if row == ("dead",):
                return
        except sqlite3.Error:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{source_id} never dead")


def test_retry_failed_during_a_live_run_exits_3_naming_it(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "raise1.txt", "hang.txt")
    holder = subprocess.Popen(
        [sys.executable, "-m", "docbatch", "run", str(docs), "-q", "-j", "2", "--grace", "0", "--processor", MISBEHAVE],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_started(tmp_path, 1)
        _wait_dead(tmp_path, "raise1.txt")  # the live run already has a dead document
        refused = run_cli("retry-failed", cwd=tmp_path)
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert len(refused.stderr.splitlines()) == 1 and f"pid {holder.pid}" in refused.stderr
        assert refused.stdout == "" and len(_run_ids(tmp_path)) == 1
        assert not list((tmp_path / ".docbatch").glob("retry-*.jsonl"))
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait(timeout=30)
