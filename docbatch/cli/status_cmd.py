"""`docbatch status [RUN]`: how a live or past run is doing (app/status.py reads it from the ledger,
as another process would), drawn as text or printed as JSON."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from docbatch.app.status import describe, liveness, snapshot_of
from docbatch.cli.console import human_bytes, human_seconds, retry_line, watch_in_place
from docbatch.models import MemoryStatus, RunStatus, StageStatus
from docbatch.serialization import dumps_pretty

if TYPE_CHECKING:  # the ledger modules load sqlite3, kept out of `docbatch --help`
    from docbatch.checkpoint.reader import LedgerReader, RunRow

WATCH_INTERVAL_S = 2.0


def render(info: RunStatus) -> str:
    """The status as the lines `docbatch status` prints."""
    running = info.status == "running"
    lines = _headline(info, running)
    if info.pending and not running:
        lines.append(f"pending   {info.pending} not done when the run stopped; the same command again does them")
    retrying = retry_line(info.retry_waiting, info.next_retry_in_s)
    if retrying:
        lines.append(f"retrying  {retrying}")
    if info.active:
        waiting = f", {info.waiting_in_batches} more waiting in their batches" if info.waiting_in_batches else ""
        lines.append(f"active    {len(info.active)} (oldest first){waiting}")
        lines += [f"          {job.running_s:>8.1f}s  {job.stage:<8} {job.source_id}" for job in info.active]
    lines += _stage_lines(info.stages)
    lines += _memory_lines(info.memory, running)
    if info.error_kinds:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(info.error_kinds.items()))
        lines.append(f"errors    {kinds}")
    lines += executor_lines(info)
    lines.append(f"outputs   {info.output_dir}")
    lines.append(f"report    {info.report}")
    return "\n".join(lines)


def executor_lines(info: RunStatus) -> list[str]:
    """A cluster's or a broker's workers, and a broker's queue."""
    cluster = info.executor_info
    if cluster.get("workers") is None:
        return []
    dashboard = f", dashboard {cluster['dashboard']}" if cluster.get("dashboard") else ""
    lines = [f"executor  {info.executor}: {cluster['workers']} workers{dashboard}"]
    workers = cluster.get("worker_list")
    if isinstance(workers, list):
        for worker in workers:
            if isinstance(worker, dict):
                lines.append(
                    f"          {worker.get('worker')}: {worker.get('busy')}/{worker.get('slots')} slots busy, "
                    f"{worker.get('done')} done, {worker.get('docs_per_s')} docs/s"
                )
    queue = cluster.get("queue")
    if isinstance(queue, dict):
        depth = queue.get("broker_depth")
        broker = (
            f"; broker: {depth} waiting, {queue.get('broker_dead_letters')} dead letters" if depth is not None else ""
        )
        lines.append(
            f"queue     {queue.get('waiting')} batches waiting, {queue.get('in_flight')} in flight, "
            f"{queue.get('redeliveries')} redelivered, {queue.get('dead_lettered')} dead-lettered{broker}"
        )
    return lines


def _headline(info: RunStatus, running: bool) -> list[str]:
    """The run, its progress and its rate."""
    total = f"{info.discovered}{'' if info.discovery_done else '+'}"
    pending = f"  {'to go' if running else 'pending'} {info.pending}" if info.pending else ""
    exit_code = f" (exit {info.exit_code})" if info.exit_code is not None else ""
    states = "  ".join(f"{state} {count}" for state, count in sorted(info.states.items()))
    eta = f", eta {human_seconds(info.eta_s)}" if info.eta_s is not None else ""
    return [
        f"run       {info.run_id}  {info.status}{exit_code}",
        f"progress  {info.finished}/{total} documents  {states}{pending}",
        f"rate      {info.docs_per_s:.1f} docs/s, {info.mb_per_s:.2f} MB/s "
        f"over {human_seconds(info.elapsed_s)} ({info.processed} processed){eta}",
    ]


def _memory_lines(memory: MemoryStatus, running: bool) -> list[str]:
    """The workers' memory of a live run, and how long new jobs have waited for memory (any run)."""
    waited = human_seconds(memory.throttled_s) if memory.throttled_s >= 0.5 else ""
    lines = []
    if running and memory.workers_rss_bytes:
        limit = f" of --memory-limit {human_bytes(memory.limit_bytes)}" if memory.limit_bytes else ""
        lines.append(f"memory    workers {human_bytes(memory.workers_rss_bytes)}{limit}")
    indent = "          " if lines else "memory    "
    if running and memory.throttled:
        lines.append(f"{indent}throttled: new jobs wait for memory" + (f" ({waited} so far)" if waited else ""))
    elif waited:
        lines.append(f"{indent}new jobs {'have ' if running else ''}waited {waited} for memory")
    return lines


def _stage_lines(stages: dict[str, StageStatus]) -> list[str]:
    """Where the jobs' time went so far: mean and p95 per stage, and each stage's share."""
    whole = sum(stage.total for stage in stages.values())
    if whole <= 0:
        return []
    lines = ["stages    " + f"{'':<9} {'mean':>9} {'p95':>9} {'share':>6}"]
    busiest = max(stages, key=lambda name: stages[name].total)
    order = ["dispatch", "read", "detect", "extract", "transform", "write"]
    for name, stage in sorted(stages.items(), key=lambda item: order.index(item[0]) if item[0] in order else 99):
        mark = "  <- bottleneck" if name == busiest else ""
        lines.append(f"          {name:<9} {stage.mean:>8.4f}s {stage.p95:>8.4f}s {stage.total / whole:>6.0%}{mark}")
    return lines


def render_runs(rows: list[RunRow]) -> str:
    """One line per recorded run: id, status, exit code, wall time, documents, start."""
    lines = [f"{'run':<27} {'status':<12} {'exit':>4} {'wall':>9} {'docs':>8}  started"]
    for row in rows:
        wall = human_seconds((row.finished_at or time.time()) - row.started_at)
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.started_at))
        exit_code = "" if row.exit_code is None else str(row.exit_code)
        lines.append(
            f"{row.run_id:<27} {liveness(row, time.time()):<12} {exit_code:>4} {wall:>9} "
            f"{snapshot_of(row).discovered:>8}  {started}"
        )
    return "\n".join(lines)


def _as_json(value: RunStatus | list[RunStatus]) -> str:
    """`status --json`: the model's fields in declaration order, indented."""
    if isinstance(value, list):
        return dumps_pretty([status.model_dump(mode="json") for status in value]).decode()
    return dumps_pretty(value.model_dump(mode="json")).decode().rstrip()


def _frame(reader: LedgerReader, run: str | None) -> tuple[str, bool]:
    """The status text of ``run`` now, and whether it is the last frame (the run is no longer running)."""
    from docbatch.checkpoint.reader import find_run

    info = describe(reader, find_run(reader, run))
    return render(info), info.status != "running"


def status(
    run: str = typer.Argument(None, help="Run id or a prefix of one [default: the latest run]."),
    state: Path = typer.Option(Path(".docbatch"), "--state", envvar="DOCBATCH_STATE", help="Folder of the ledger."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    watch: bool = typer.Option(False, "--watch", "-w", help="Refresh every 2 s until the run ends."),
    runs: bool = typer.Option(False, "--runs", help="List the recorded runs instead."),
) -> None:
    """Show how a run is doing (works while it runs, from another terminal)."""
    from docbatch.checkpoint.reader import LedgerReader, find_run, list_runs

    reader = LedgerReader.open(state)
    try:
        if runs:
            rows = list_runs(reader)
            typer.echo(_as_json([describe(reader, row) for row in rows]) if as_json else render_runs(rows))
            return
        if watch and not as_json and sys.stdout.isatty():
            # On a terminal the view is redrawn in place; in a pipe each refresh is printed after the last.
            watch_in_place(lambda: _frame(reader, run), WATCH_INTERVAL_S)
            return
        while True:
            info = describe(reader, find_run(reader, run))
            typer.echo(_as_json(info) if as_json else render(info))
            if not watch or info.status != "running":
                return
            time.sleep(WATCH_INTERVAL_S)
            typer.echo("")
    finally:
        reader.close()
