"""`docbatch status [RUN]`: how a live or past run is doing, read from the ledger by another process.

It reads the run's row (whose counters the running coordinator refreshes every second) and a few
indexed rows of the documents table, so it answers quickly however large the ledger and never
slows the run down.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from docbatch.cli.console import human_bytes, human_seconds, retry_line, watch_in_place
from docbatch.processes import pid_alive
from docbatch.report.progress import rates
from docbatch.serialization import dumps_pretty, loads

if TYPE_CHECKING:  # the ledger modules load sqlite3, kept out of `docbatch --help`
    from docbatch.checkpoint.reader import LedgerReader, RunRow

STALE_HEARTBEAT_S = 10.0
WATCH_INTERVAL_S = 2.0


def _liveness(row: RunRow, now: float) -> str:
    """A 'running' row whose coordinator is gone is reported as crashed (a resume reclaims its jobs)."""
    if row.status != "running":
        return row.status
    gone = row.host == socket.gethostname() and row.pid is not None and not pid_alive(row.pid)
    silent = row.heartbeat_at is not None and now - row.heartbeat_at > STALE_HEARTBEAT_S
    return "crashed" if gone or silent else "running"


def describe(reader: LedgerReader, row: RunRow, now: float | None = None) -> dict[str, Any]:
    """Everything `status` shows about one run, as plain data (also the --json output)."""
    from docbatch.checkpoint.reader import active_jobs
    from docbatch.outputs.reports import run_report_path

    now = now or time.time()
    snapshot: dict[str, Any] = loads(row.counts_json) if row.counts_json else {}
    states: dict[str, int] = snapshot.get("states", {})
    finished = sum(states.values())
    end = row.finished_at or now
    discovered = int(snapshot.get("discovered", 0))
    bytes_done = int(snapshot.get("bytes_done", 0))
    # Runs recorded before these counters: skipped documents are not work, carried-over dead ones were.
    processed = int(snapshot.get("processed", finished - states.get("skipped", 0)))
    bytes_left = int(snapshot.get("bytes_left", int(snapshot.get("discovered_bytes", 0)) - bytes_done))
    status = _liveness(row, now)
    speed = rates(processed, bytes_done, bytes_left, end - row.started_at, bool(snapshot.get("discovery_done")))
    eta = speed.eta_s if status == "running" else None
    next_retry_at = snapshot.get("next_retry_at")
    active: list[dict[str, Any]] = []
    if status == "running":
        if "active_jobs" in snapshot:  # what the coordinator saw a second ago, with each job's stage
            active = snapshot["active_jobs"]
        else:
            # Before the first heartbeat: the ledger knows what started, not the stage.
            active = [{"source_id": source, "stage": "started", "running_s": round(now - started, 1)}
                      for source, started in active_jobs(reader, row.run_id)]  # fmt: skip
    output_dir = row.output_dir or ""
    return {
        "run_id": row.run_id,
        "parent_run_id": row.parent_run_id,
        "status": status,
        "exit_code": row.exit_code,
        "executor": row.executor,
        "executor_info": snapshot.get("executor_info", {}),
        "command": row.command,
        "started_at": row.started_at,
        "elapsed_s": round(speed.elapsed_s, 3),
        "discovered": discovered,
        "discovery_done": bool(snapshot.get("discovery_done", row.finished_at is not None)),
        "finished": finished,
        "states": states,
        # Not finished: queued, running or waiting for a retry while the run goes on; left for the next run
        # (never lost) once it has stopped.
        "pending": max(0, discovered - finished),
        "processed": processed,
        "docs_per_s": round(speed.docs_per_s, 3),
        "mb_per_s": round(speed.mb_per_s, 3),
        "eta_s": round(eta, 1) if eta is not None else None,
        "retry_waiting": int(snapshot.get("retry_waiting", 0)) if status == "running" else 0,
        "next_retry_in_s": round(max(0.0, next_retry_at - now), 1)
        if status == "running" and next_retry_at is not None
        else None,
        "active": active,
        "waiting_in_batches": snapshot.get("waiting_in_batches", 0) if status == "running" else 0,
        "stages": snapshot.get("stages", {}),
        "memory": {
            "workers_rss_bytes": snapshot.get("workers_rss_bytes", 0),
            "limit_bytes": snapshot.get("memory_limit_bytes"),
            "throttled": bool(snapshot.get("throttled", False)) and status == "running",
            "throttled_s": float(snapshot.get("throttled_s", 0.0)),
        },
        "error_kinds": snapshot.get("error_kinds", {}),
        "output_dir": output_dir,
        "report": row.report_path or str(run_report_path(Path(output_dir), row.run_id)),  # where it will be
        "ledger": str(reader.path),
        "heartbeat_age_s": round(now - row.heartbeat_at, 1) if row.heartbeat_at else None,
    }


def render(info: dict[str, Any]) -> str:
    states = info["states"]
    total = f"{info['discovered']}{'' if info['discovery_done'] else '+'}"
    running = info["status"] == "running"
    pending = f"  {'to go' if running else 'pending'} {info['pending']}" if info["pending"] else ""
    lines = [
        f"run       {info['run_id']}  {info['status']}"
        + (f" (exit {info['exit_code']})" if info["exit_code"] is not None else ""),
        f"progress  {info['finished']}/{total} documents  "
        + "  ".join(f"{state} {count}" for state, count in sorted(states.items()))
        + pending,
        f"rate      {info['docs_per_s']:.1f} docs/s, {info['mb_per_s']:.2f} MB/s "
        f"over {human_seconds(info['elapsed_s'])} ({info['processed']} processed)"
        + (f", eta {human_seconds(info['eta_s'])}" if info["eta_s"] is not None else ""),
    ]
    if info["pending"] and not running:
        lines.append(f"pending   {info['pending']} not done when the run stopped; the same command again does them")
    retrying = retry_line(info["retry_waiting"], info["next_retry_in_s"])
    if retrying:
        lines.append(f"retrying  {retrying}")
    if info["active"]:
        waiting = f", {info['waiting_in_batches']} more waiting in their batches" if info["waiting_in_batches"] else ""
        lines.append(f"active    {len(info['active'])} (oldest first){waiting}")
        lines += [
            f"          {job['running_s']:>8.1f}s  {job['stage']:<8} {job['source_id']}" for job in info["active"]
        ]
    lines += _stage_lines(info["stages"])
    lines += _memory_lines(info["memory"], running)
    if info["error_kinds"]:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(info["error_kinds"].items()))
        lines.append(f"errors    {kinds}")
    cluster = info["executor_info"]
    if cluster.get("workers") is not None:
        lines.append(
            f"executor  {info['executor']}: {cluster['workers']} workers, dashboard {cluster.get('dashboard') or '-'}"
        )
    lines.append(f"outputs   {info['output_dir']}")
    lines.append(f"report    {info['report']}")
    return "\n".join(lines)


def _memory_lines(memory: dict[str, Any], running: bool) -> list[str]:
    """The workers' memory of a live run, and how long new jobs have waited for memory (any run)."""
    waited = human_seconds(memory["throttled_s"]) if memory["throttled_s"] >= 0.5 else ""
    lines = []
    if running and memory["workers_rss_bytes"]:
        limit = f" of --memory-limit {human_bytes(memory['limit_bytes'])}" if memory["limit_bytes"] else ""
        lines.append(f"memory    workers {human_bytes(memory['workers_rss_bytes'])}{limit}")
    indent = "          " if lines else "memory    "
    if running and memory["throttled"]:
        lines.append(f"{indent}throttled: new jobs wait for memory" + (f" ({waited} so far)" if waited else ""))
    elif waited:
        lines.append(f"{indent}new jobs {'have ' if running else ''}waited {waited} for memory")
    return lines


def _stage_lines(stages: dict[str, dict[str, float]]) -> list[str]:
    """Where the jobs' time went so far: mean and p95 per stage, and each stage's share."""
    whole = sum(stage["total"] for stage in stages.values())
    if whole <= 0:
        return []
    lines = ["stages    " + f"{'':<9} {'mean':>9} {'p95':>9} {'share':>6}"]
    busiest = max(stages, key=lambda name: stages[name]["total"])
    order = ["dispatch", "read", "detect", "extract", "transform", "write"]
    for name, stage in sorted(stages.items(), key=lambda item: order.index(item[0]) if item[0] in order else 99):
        mark = "  <- bottleneck" if name == busiest else ""
        lines.append(
            f"          {name:<9} {stage['mean']:>8.4f}s {stage['p95']:>8.4f}s {stage['total'] / whole:>6.0%}{mark}"
        )
    return lines


def render_runs(rows: list[RunRow]) -> str:
    lines = [f"{'run':<27} {'status':<12} {'exit':>4} {'wall':>9} {'docs':>8}  started"]
    for row in rows:
        snapshot = loads(row.counts_json) if row.counts_json else {}
        wall = human_seconds((row.finished_at or time.time()) - row.started_at)
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.started_at))
        exit_code = "" if row.exit_code is None else str(row.exit_code)
        lines.append(
            f"{row.run_id:<27} {_liveness(row, time.time()):<12} {exit_code:>4} {wall:>9} "
            f"{snapshot.get('discovered', 0):>8}  {started}"
        )
    return "\n".join(lines)


def _frame(reader: LedgerReader, run: str | None) -> tuple[str, bool]:
    """The status text of ``run`` now, and whether it is the last frame (the run is no longer running)."""
    from docbatch.checkpoint.reader import find_run

    info = describe(reader, find_run(reader, run))
    return render(info), info["status"] != "running"


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
            typer.echo(dumps_pretty([describe(reader, row) for row in rows]).decode() if as_json else render_runs(rows))
            return
        if watch and not as_json and sys.stdout.isatty():
            # On a terminal the view is redrawn in place; in a pipe each refresh is printed after the last.
            watch_in_place(lambda: _frame(reader, run), WATCH_INTERVAL_S)
            return
        while True:
            info = describe(reader, find_run(reader, run))
            text = dumps_pretty(info).decode().rstrip() if as_json else render(info)
            typer.echo(text)
            if not watch or info["status"] != "running":
                return
            time.sleep(WATCH_INTERVAL_S)
            typer.echo("")
    finally:
        reader.close()
