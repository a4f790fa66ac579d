"""Budgets and exit codes mean this run: documents dead from earlier runs, reported again without being
tried, neither spend --max-failures nor make a night "some documents failed" (exit 1): a night with
only those ends 6, one with fresh failures ends 1."""

from __future__ import annotations

import json
import os
from pathlib import Path

from docbatch.errors import ExitCode
from tests.conftest import run_cli, write_texts


def _corrupt(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (folder / f"bad{index}.pdf").write_bytes(os.urandom(3000))  # no PDF signature: dead as corrupt
    return folder


def _report(cwd: Path) -> dict[str, object]:
    report: dict[str, object] = json.loads((cwd / "docbatch-out" / "report.json").read_text())
    return report


def test_dead_documents_carried_over_do_not_spend_the_failure_budget(tmp_path: Path) -> None:
    docs = _corrupt(tmp_path / "docs", 5)
    assert run_cli("run", str(docs), "-q", cwd=tmp_path).returncode == ExitCode.DOCUMENTS_FAILED
    write_texts(docs, "new.txt")
    result = run_cli("run", str(docs), "--max-failures", "2", cwd=tmp_path)
    assert result.returncode == ExitCode.KNOWN_FAILURES_ONLY, result.stderr
    report = _report(tmp_path)
    assert report["status"] == "finished" and report["stop_reason"] is None
    assert report["counts"] == {
        "discovered": 6, "succeeded": 1, "skipped": 0, "failed": 0, "dead": 5, "dead_carried_over": 5,
        "cancelled": 0, "pending": 0,
    }  # fmt: skip
    (summary,) = [line for line in result.stdout.splitlines() if " docbatch summary " in line]
    assert " exit=6 " in summary and " dead=5 dead_carried_over=5 " in summary


def test_fresh_failures_still_spend_the_budget(tmp_path: Path) -> None:
    docs = _corrupt(tmp_path / "docs", 5)
    assert run_cli("run", str(docs), "-q", cwd=tmp_path).returncode == ExitCode.DOCUMENTS_FAILED
    _corrupt(tmp_path / "docs" / "tonight", 6)
    result = run_cli("run", str(docs), "-q", "-j", "1", "--max-failures", "2", cwd=tmp_path)
    assert result.returncode == ExitCode.INTERRUPTED
    report = _report(tmp_path)
    assert report["stop_reason"] == "--max-failures 2 reached"
    counts = report["counts"]
    # Stopped on this run's failures: 2, plus what was already in the worker's hands (two batches).
    assert 2 <= counts["dead"] - counts["dead_carried_over"] <= 4 and counts["pending"] >= 2


def test_exit_6_for_known_failures_only_and_1_for_a_fresh_one(tmp_path: Path) -> None:
    docs = _corrupt(tmp_path / "docs", 1)
    write_texts(docs, "fine.txt")
    assert run_cli("run", str(docs), "-q", cwd=tmp_path).returncode == ExitCode.DOCUMENTS_FAILED
    assert run_cli("run", str(docs), "-q", cwd=tmp_path).returncode == ExitCode.KNOWN_FAILURES_ONLY
    (docs / "fresh.json").write_text("{")  # a new broken document tonight
    assert run_cli("run", str(docs), "-q", cwd=tmp_path).returncode == ExitCode.DOCUMENTS_FAILED
    counts = _report(tmp_path)["counts"]
    assert (counts["dead"], counts["dead_carried_over"]) == (2, 1)
    (docs / "fresh.json").unlink()
    (docs / "bad0.pdf").unlink()
    assert run_cli("run", str(docs), "-q", cwd=tmp_path).returncode == ExitCode.OK


def test_retry_failed_counts_its_failures_as_new(tmp_path: Path) -> None:
    docs = _corrupt(tmp_path / "docs", 1)
    assert run_cli("run", str(docs), "-q", cwd=tmp_path).returncode == ExitCode.DOCUMENTS_FAILED
    assert run_cli("run", str(docs), "-q", cwd=tmp_path).returncode == ExitCode.KNOWN_FAILURES_ONLY
    result = run_cli("retry-failed", "-q", cwd=tmp_path)
    assert result.returncode == ExitCode.DOCUMENTS_FAILED, result.stderr  # tried again, failed again
