"""`docbatch status` of a live and of a stopped run, read from a real ledger as another process would."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from docbatch.app.status import describe
from docbatch.checkpoint.base import RunRecord
from docbatch.checkpoint.reader import LedgerReader, find_run
from docbatch.checkpoint.sqlite import SqliteLedger
from docbatch.cli.status_cmd import render
from docbatch.models import Document
from docbatch.report.progress import RunProgress


def _document(name: str, size: int) -> Document:
    return Document(source_id=name, path=Path(name), size=size, mtime_ns=0)


def _ledger_with(tmp_path: Path, progress: RunProgress, *, stopped: bool) -> LedgerReader:
    ledger = SqliteLedger.open(tmp_path)
    ledger.begin_run(
        RunRecord(run_id="r1", started_at=progress.started_at, pid=os.getpid(), host=socket.gethostname(),
                  command="docbatch run docs", config_json="{}", output_dir="out", executor="local")
    )  # fmt: skip
    counts = progress.snapshot().model_dump_json()
    if stopped:
        ledger.finish_run("r1", status="interrupted", finished_at=time.time(), exit_code=4,
                          report_path="out/report.json", counts_json=counts)  # fmt: skip
    else:
        ledger.heartbeat("r1", time.time(), counts)
    ledger.close()
    return LedgerReader.open(tmp_path)


def test_a_resumed_live_run_shows_the_rate_of_processed_documents_retries_due_and_time_throttled(
    tmp_path: Path,
) -> None:
    progress = RunProgress()
    progress.started_at = time.time() - 10.0
    for index in range(10_000):
        document = _document(f"old{index}.txt", 1_000)
        progress.on_discovered(document)
        progress.on_up_to_date(document)
    progress.processed, progress.bytes_done = 2, 2_000_000
    progress.on_retry_scheduled("flaky.pdf", 5.0)
    progress.memory_limit_bytes, progress.workers_rss_bytes = 2 * 10**9, 10**9
    progress.throttled, progress.throttled_s = True, 3.0
    reader = _ledger_with(tmp_path, progress, stopped=False)
    info = describe(reader, find_run(reader, None))
    reader.close()
    assert info.status == "running"
    assert info.docs_per_s < 1  # 2 documents in 10 s, not 10,000 skipped ones
    assert info.retry_waiting == 1 and info.next_retry_in_s is not None and 0 < info.next_retry_in_s <= 5
    assert info.memory.throttled and info.memory.throttled_s == 3.0
    text = render(info)
    assert "1 document waits for a retry, the next in 0:0" in text
    assert (
        "memory    workers 1.0 GB of --memory-limit 2.0 GB\n          throttled: new jobs wait for memory (0:03 so far)"
        in text
    )


def test_an_interrupted_run_lists_its_documents_left_pending(tmp_path: Path) -> None:
    progress = RunProgress(discovery_done=True)
    for index in range(12):
        progress.on_discovered(_document(f"d{index}.txt", 10))
    progress.states["succeeded"], progress.states["cancelled"] = 6, 2
    reader = _ledger_with(tmp_path, progress, stopped=True)
    info = describe(reader, find_run(reader, None))
    reader.close()
    assert info.status == "interrupted" and info.pending == 4
    text = render(info)
    assert "cancelled 2  succeeded 6  pending 4" in text
    assert "pending   4 not done when the run stopped; the same command again does them" in text


def test_the_executor_line_names_a_dashboard_only_when_there_is_one(tmp_path: Path) -> None:
    progress = RunProgress(discovery_done=True)
    progress.executor_info = {"executor": "local", "workers": 2}
    reader = _ledger_with(tmp_path, progress, stopped=False)
    info = describe(reader, find_run(reader, None))
    reader.close()
    text = render(info)
    assert "executor  local: 2 workers\n" in text  # was "local: 2 workers, dashboard -"
    dashboard = "http://127.0.0.1:8787/status"
    with_dashboard = info.model_copy(update={"executor_info": {"workers": 3, "dashboard": dashboard}})
    assert f": 3 workers, dashboard {dashboard}\n" in render(with_dashboard)
