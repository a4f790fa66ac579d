"""How a run ends: its report and its row in the ledger are written, and its exit code decided.

Either write failing (a full disk, a ledger that refuses writes) makes the run an environment
failure (exit 5) told in one line that says what failed, where, and what is left to do; never a
traceback, and never exit 1 (which means only "some documents failed").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from docbatch.checkpoint.base import Ledger
from docbatch.engine.context import RunContext
from docbatch.engine.heartbeat import note_executor
from docbatch.errors import EnvironmentFailed, ExitCode, environment_problem
from docbatch.outputs.reports import run_report_path, write_run_report
from docbatch.report.build import build_report
from docbatch.report.model import RunReport
from docbatch.serialization import dumps_pretty


@dataclass
class RunOutcome:
    report: RunReport
    report_path: Path
    exit_code: ExitCode
    # When the environment failed the run (exit 5): the one line that says what, where and what is left.
    environment_failure: str | None = None
    # False when the report could not be written (a full disk): report_path then names no file.
    report_written: bool = True


async def conclude(run: RunContext, ledger: Ledger, status: str, cpu_before: os.times_result) -> RunOutcome:
    """Write the report and the run's end in the ledger. Either failing (a full disk) makes the run an
    environment failure (exit 5) that says so in one line; it never ends in a traceback."""
    note_executor(run)  # its last word (a broker's queue statistics) goes into the report
    report = build_report(
        run.run_id,
        run.config,
        run.progress,
        run.executor.name,
        status,
        cpu_before,
        ledger.path,
        run.stopper.reason,
        run.governor.stats if run.governor else None,
        environment_failed=run.stopper.environment_failure is not None,
    )
    # Each run keeps its own report; a retry leaves report.json (its parent's, or a later run's) alone.
    report_path = run_report_path(run.config.output.root, run.run_id)
    latest = run.config.parent_run_id is None
    report_error = await asyncio.to_thread(write_report, run.config.output.root, run.run_id, report, latest)
    written = report_path if report_error is None else None
    report_problem = None if report_error is None else report_error.strerror or str(report_error)
    cause = run.stopper.environment_failure
    if cause is None and report_error is not None:
        cause = environment_problem(report_error, f"the report {report_path}")
        cause = cause or f"cannot write the report {report_path} ({report_problem})"
        report_problem = None  # said once, as the cause
    if cause is not None:
        report.exit_code = int(ExitCode.ENVIRONMENT)
    counts_json = run.progress.snapshot().model_dump_json()
    ledger_problem = await asyncio.to_thread(record_finish, ledger, run.run_id, report, written, counts_json)
    if cause is None and ledger_problem is not None:
        cause = ledger_problem
        report.exit_code = int(ExitCode.ENVIRONMENT)
    return RunOutcome(
        report=report,
        report_path=report_path,
        exit_code=ExitCode(report.exit_code),
        environment_failure=failure_line(cause, report, report_problem) if cause is not None else None,
        report_written=written is not None,
    )


def write_report(root: Path, run_id: str, report: RunReport, latest: bool) -> OSError | None:
    """Write ``report`` to the run's own file under the output folder ``root`` (and to report.json when
    ``latest``) atomically; None when done, else the error that stopped it."""
    try:
        write_run_report(root, run_id, dumps_pretty(report.model_dump(mode="json", by_alias=True)), latest=latest)
    except OSError as error:
        return error
    return None


def record_finish(
    ledger: Ledger, run_id: str, report: RunReport, report_path: Path | None, counts_json: str
) -> str | None:
    """Record the run's end in the ledger (``report_path`` None: no report was written) and close it;
    None when done, else the ledger's problem."""
    try:
        ledger.finish_run(
            run_id,
            status=report.status,
            finished_at=time.time(),
            exit_code=report.exit_code,
            report_path=str(report_path) if report_path is not None else None,
            counts_json=counts_json,
        )
    except EnvironmentFailed as error:
        return str(error)
    finally:
        with contextlib.suppress(sqlite3.Error):
            ledger.close()
    return None


def failure_line(cause: str, report: RunReport, report_problem: str | None) -> str:
    """The one line on stderr for a run the environment failed: the cause, what is left to do, and
    whether the report could be written."""
    counts = report.counts
    left = counts.pending + counts.cancelled
    line = f"environment failure: {cause}; {left} document{'s' if left != 1 else ''} left pending, run again to resume"
    if report_problem is not None:
        line += f"; the report could not be written ({report_problem})"
    return line
