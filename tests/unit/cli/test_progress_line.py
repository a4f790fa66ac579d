"""The plain progress line a pipe or cron gets every 10 s."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from docbatch.cli.logs import ProgressTicker
from docbatch.models import Document
from docbatch.report.progress import RunProgress


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_the_progress_line_rates_the_processed_documents_and_says_what_waits() -> None:
    progress = RunProgress()
    progress.started_at = time.time() - 100.0
    for index in range(10_000):  # done in an earlier run: skipped without work
        document = Document(source_id=f"old{index}.txt", path=Path(f"old{index}.txt"), size=1_000, mtime_ns=0)
        progress.on_discovered(document)
        progress.on_up_to_date(document)
    progress.discovery_done = True
    progress.processed, progress.bytes_done = 50, 50_000_000
    progress.on_retry_scheduled("flaky.pdf", 3.0)
    progress.throttled_s = 2.5
    handler = _Lines()
    logger = logging.getLogger("docbatch")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        ProgressTicker(progress)._log_progress()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    (line,) = handler.lines
    assert line.startswith("progress 10000/10000 documents, 0.5 docs/s, 0.50 MB/s, eta -")
    assert line.endswith("1 waiting to retry, 2.5s waiting for memory")
