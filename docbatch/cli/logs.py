"""The run's log: a start line, one line per failure, a progress line every 10 s, warnings and a final
summary, as text or JSON, to stderr (when no live view owns the terminal) and to --log-file.

What each mode prints (README, "Running from cron"):

- ``-q``: nothing but errors of the run itself (a run-ending error, a notification or --on-complete
  command that failed). Document failures are the run's result, told by the exit code and kept in
  report.json, the ledger and --log-file; under cron every printed line becomes a mail.
- a terminal with a live view: warnings and errors only (the view shows progress and failures).
- a pipe: every line: start, failures, progress, warnings; the summary on stdout.
- ``--log-format json``: the same choice of lines, each one JSON object, on stdout and stderr alike
  (the summary too) and in --log-file; no live view and no table, even on a terminal.

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
from typing import Any

from docbatch.errors import folder_error
from docbatch.report.model import RunReport
from docbatch.report.progress import RunProgress
from docbatch.serialization import dumps_compact

PROGRESS_INTERVAL_S = 10.0
_log = logging.getLogger("docbatch")

# Events that are a command's result for the user: stdout, not the stderr log stream.
_STDOUT_EVENTS = frozenset({"summary", "retry_plan", "retry_result"})
# Events a live view shows itself; printed under it they would tear its drawing apart.
_LIVE_VIEW_EVENTS = frozenset({"start", "failure", "progress"})


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


class _Settings:
    """How the current command logs; read by :func:`fatal`, which may run before :func:`configure`."""

    fmt: LogFormat = LogFormat.TEXT
    quiet: bool = False


def _utc(created: float) -> str:
    return datetime.datetime.fromtimestamp(created, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Formatter(logging.Formatter):
    def __init__(self, fmt: LogFormat) -> None:
        super().__init__()
        self.fmt = fmt

    def format(self, record: logging.LogRecord) -> str:
        event = getattr(record, "event", None)
        message = record.getMessage()
        if self.fmt is LogFormat.JSON:
            fields: dict[str, Any] = getattr(record, "fields", {})
            head = {"ts": _utc(record.created), "level": record.levelname.lower(), "event": event or "log"}
            return dumps_compact({"message": message, **fields, **head}).decode()
        # A failure line starts with its state ("dead corrupt a.pdf: ..."); other warnings say their level.
        prefix = f"{record.levelname.lower()}: " if record.levelno >= logging.WARNING and event != "failure" else ""
        return f"{_utc(record.created)} docbatch {prefix}{message}"


class _StreamFilter(logging.Filter):
    """Which records reach stderr in each mode (see the module docstring)."""

    def __init__(self, *, quiet: bool, live: bool) -> None:
        super().__init__()
        self.quiet, self.live = quiet, live

    def filter(self, record: logging.LogRecord) -> bool:
        event = getattr(record, "event", None)
        if event in _STDOUT_EVENTS:
            return False
        if self.quiet:
            return record.levelno >= logging.ERROR
        if self.live:
            return record.levelno >= logging.WARNING and event not in _LIVE_VIEW_EVENTS
        return True


class _ResultFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "event", None) in _STDOUT_EVENTS


def wants_live_view(*, quiet: bool, log_format: LogFormat) -> bool:
    """A live view only for a person at a terminal: not with -q, not when every line must be JSON."""
    return not quiet and log_format is LogFormat.TEXT and sys.stderr.isatty()


def use_format(log_format: LogFormat, *, quiet: bool = False) -> None:
    """Say early how this command logs, so that an error raised before :func:`configure` is in that form."""
    _Settings.fmt, _Settings.quiet = log_format, quiet


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
    """Set up the "docbatch" logger for one command (again if called again).

    Raises ConfigError (exit 2) when ``log_file`` cannot be a file (a folder or a file in the way) and
    EnvironmentFailed (exit 5) when it cannot be written (permissions, a read-only or full disk).
    """
    use_format(log_format, quiet=quiet)
    for handler in list(_log.handlers):
        _log.removeHandler(handler)
        handler.close()
    _log.setLevel(logging.INFO)
    _log.propagate = False
    formatter = _Formatter(log_format)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(formatter)
    stream.addFilter(_StreamFilter(quiet=quiet, live=live))
    _log.addHandler(stream)
    if log_format is LogFormat.JSON and not quiet:
        # In text mode the console prints the summary (a table on a terminal); in JSON it is a log line.
        results = logging.StreamHandler(sys.stdout)
        results.setFormatter(formatter)
        results.addFilter(_ResultFilter())
        _log.addHandler(results)
    if log_file is not None:
        _log.addHandler(_file_handler(log_file, formatter))


def _file_handler(log_file: Path, formatter: logging.Formatter) -> logging.Handler:
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = _LogFile(log_file, encoding="utf-8")
    except OSError as error:  # a file or folder in the way: exit 2; the machine refusing it: exit 5
        raise folder_error("--log-file", log_file, error) from None
    handler.setFormatter(formatter)
    return handler


def fatal(message: str, exit_code: int, *, label: str = "error") -> None:
    """The one line a command that cannot go on leaves: on stderr (with -q too) and in --log-file.
    Text keeps its familiar form ``docbatch: error: ...``; JSON is an ``error`` event at level error."""
    record = _log.makeRecord(
        _log.name, logging.ERROR, __file__, 0, message, (), None,
        extra={"event": "error", "fields": {"exit_code": exit_code}},
    )  # fmt: skip
    for handler in _log.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
    if _Settings.fmt is LogFormat.JSON:
        line = _Formatter(LogFormat.JSON).format(record)
    else:
        line = f"docbatch: {label}: {message}" if label else f"docbatch: {message}"
    print(line, file=sys.stderr, flush=True)


def result_line(message: str, *, event: str, **fields: Any) -> None:
    """A command's own result for the user: a plain line on stdout, or a JSON object there in JSON mode;
    nothing with -q. Also in --log-file."""
    _log.info(message, extra={"event": event, "fields": fields})
    if _Settings.fmt is LogFormat.TEXT and not _Settings.quiet:
        print(message, flush=True)


def summary(report: RunReport, report_path: Path | None) -> None:
    """The summary event (``report_path`` None: the report could not be written)."""
    counts = report.counts
    shown = None if report_path is None else str(report_path)
    fields = {"run_id": report.run_id, "status": report.status, "exit_code": report.exit_code,
              **counts.model_dump(), "wall_s": report.wall_s, "report": shown}  # fmt: skip
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
            # Warning, not error: a document that fails is the run's result; an error stops the run.
            _log.warning(
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
