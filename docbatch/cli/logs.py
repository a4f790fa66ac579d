"""The run's log: one line per failure, a progress line every 10 s, warnings and a final summary,
as text or JSON, to stderr (when no live view owns the terminal) and to --log-file.

Only the "docbatch" logger is configured; the root logger is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import enum
import logging
import sys
import time
from pathlib import Path

from docbatch.engine.progress import RunProgress
from docbatch.report.model import RunReport
from docbatch.serialization import dumps_compact

PROGRESS_INTERVAL_S = 10.0
_log = logging.getLogger("docbatch")


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


class _Formatter(logging.Formatter):
    def __init__(self, fmt: LogFormat) -> None:
        super().__init__()
        self.fmt = fmt

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.datetime.fromtimestamp(record.created, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = getattr(record, "event", None)
        message = record.getMessage()
        if self.fmt is LogFormat.JSON:
            fields = getattr(record, "fields", {})
            payload = {"ts": stamp, "level": record.levelname.lower(), "event": event or "log", "message": message}
            return dumps_compact({**payload, **fields}).decode()
        prefix = "" if event or record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        return f"{stamp} docbatch {prefix}{message}"


class _NotForStream(logging.Filter):
    """The summary goes to stdout on its own; the stream handler leaves it to the log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "event", None) != "summary"


class _LogFile(logging.FileHandler):
    """--log-file. A file that cannot take more lines (its disk filled up) is said once, in one line on
    stderr, and left alone after; never a "Logging error" traceback per line, nor one at exit."""

    failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as error:
            self._give_up(error)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the lines the disk refused are still buffered
            super().close()

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        self._give_up(sys.exc_info()[1])

    def _give_up(self, error: BaseException | None) -> None:
        if self.failed:
            return
        self.failed = True
        problem = (error.strerror if isinstance(error, OSError) else None) or str(error)
        print(f"docbatch: cannot write the log file {self.baseFilename}: {problem}; not written from here on",
              file=sys.stderr)  # fmt: skip


def configure(*, quiet: bool, live: bool, log_file: Path | None, log_format: LogFormat) -> None:
    _log.handlers.clear()
    _log.setLevel(logging.INFO)
    _log.propagate = False
    formatter = _Formatter(log_format)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(formatter)
    stream.addFilter(_NotForStream())
    # A live view shows progress and failures itself; warnings and errors still reach the terminal.
    stream.setLevel(logging.ERROR if quiet else logging.WARNING if live else logging.INFO)
    _log.addHandler(stream)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = _LogFile(log_file, encoding="utf-8")
        handler.setFormatter(formatter)
        _log.addHandler(handler)


def summary(report: RunReport, report_path: Path) -> None:
    counts = report.counts
    fields = {"run_id": report.run_id, "status": report.status, "exit_code": report.exit_code,
              **counts.model_dump(), "wall_s": report.wall_s, "report": str(report_path)}  # fmt: skip
    text = " ".join(f"{key}={value}" for key, value in fields.items())
    _log.info("summary %s", text, extra={"event": "summary", "fields": fields})


class ProgressTicker:
    """Logs each new failure within a second and a progress line every PROGRESS_INTERVAL_S."""

    def __init__(self, progress: RunProgress) -> None:
        self.progress = progress
        self._task: asyncio.Task[None] | None = None
        self._failures_logged = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="progress-log")

    def _log_failures(self) -> None:
        for failure in self.progress.failures[self._failures_logged :]:
            _log.info(
                "%s %s %s: %s", failure.state, failure.error_kind, failure.source_id, failure.message,
                extra={"event": "failure", "fields": failure.model_dump()},
            )  # fmt: skip
        self._failures_logged = len(self.progress.failures)

    def _log_progress(self) -> None:
        progress = self.progress
        rates = progress.rates()  # of the documents processed: skipped ones took no work
        total = f"{progress.discovered}{'' if progress.discovery_done else '+'}"
        eta_s = round(rates.eta_s) if rates.eta_s is not None else None
        fields = {"finished": progress.finished, "discovered": progress.discovered, "processed": progress.processed,
                  "active": len(progress.active), "failed": len(progress.failures),
                  "docs_per_s": round(rates.docs_per_s, 2), "mb_per_s": round(rates.mb_per_s, 3), "eta_s": eta_s,
                  "retry_waiting": len(progress.retry_due), "throttled_s": round(progress.throttled_s, 1)}  # fmt: skip
        waited = f", {fields['throttled_s']:g}s waiting for memory" if progress.throttled_s >= 0.05 else ""
        _log.info(
            "progress %s/%s documents, %.1f docs/s, %.2f MB/s, eta %s, %s active, %s failed, %s waiting to retry%s",
            progress.finished, total, fields["docs_per_s"], fields["mb_per_s"], "-" if eta_s is None else f"{eta_s}s",
            fields["active"], fields["failed"], fields["retry_waiting"], waited,
            extra={"event": "progress", "fields": fields},
        )  # fmt: skip

    async def _loop(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            self._log_failures()
            if time.monotonic() - last >= PROGRESS_INTERVAL_S:
                self._log_progress()
                last = time.monotonic()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._log_failures()
