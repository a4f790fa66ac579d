"""Everything the user sees on a terminal. The only module that imports rich, and only when needed:
in a pipe or under cron the output is plain, greppable lines with no control codes."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from docbatch.engine.progress import RunProgress
from docbatch.report.model import RunReport

if TYPE_CHECKING:
    from docbatch.processors.registry import ProcessorInfo

LIVE_REFRESH_S = 0.25
MAX_ACTIVE_SHOWN = 8


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"


def human_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class _Rates:
    """Documents/s, MB/s and an ETA from bytes (documents vary too much in size for a count-based ETA)."""

    def __init__(self, progress: RunProgress) -> None:
        elapsed = max(time.time() - progress.started_at, 1e-6)
        done = progress.finished
        self.elapsed = elapsed
        self.docs_per_s = done / elapsed
        self.mb_per_s = progress.bytes_done / 1e6 / elapsed
        remaining = progress.discovered_bytes - progress.bytes_done
        byte_rate = progress.bytes_done / elapsed
        self.eta: float | None = (
            remaining / byte_rate if progress.discovery_done and byte_rate > 0 and remaining > 0 else None
        )


class ProgressView(Protocol):
    async def stop(self) -> None: ...


def start_live_view(progress: RunProgress) -> ProgressView:
    """The rich live view, for a terminal (the log covers pipes and cron)."""
    view = _LiveView(progress)
    view.start()
    return view


class _LiveView:
    def __init__(self, progress: RunProgress) -> None:
        from rich.console import Console
        from rich.live import Live

        self.progress = progress
        self._console = Console(stderr=True)
        self._live = Live(console=self._console, refresh_per_second=4, transient=True, auto_refresh=False)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._live.start()
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            self._live.update(self._render(), refresh=True)
            await asyncio.sleep(LIVE_REFRESH_S)

    def _render(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        progress, rates = self.progress, _Rates(self.progress)
        total = max(progress.discovered, 1)
        header = Table.grid(padding=(0, 2))
        bar = ProgressBar(total=total if progress.discovery_done else None, completed=progress.finished, width=40)
        eta = (
            human_seconds(rates.eta)
            if rates.eta is not None
            else ("discovering…" if not progress.discovery_done else "-")
        )
        header.add_row(
            bar,
            Text(f"{progress.finished}/{progress.discovered}{'' if progress.discovery_done else '+'}"),
            Text(f"{rates.docs_per_s:.1f} docs/s  {rates.mb_per_s:.2f} MB/s"),
            Text(f"elapsed {human_seconds(rates.elapsed)}  eta {eta}"),
            Text(f"failed {len(progress.failures)}", style="red" if progress.failures else "dim"),
        )
        parts: list[Any] = [header, self._memory_row()]
        running = progress.running_jobs()
        if running:
            active = Table(box=None, show_header=True, header_style="dim", pad_edge=False)
            active.add_column("active", overflow="ellipsis", no_wrap=True, max_width=70)
            active.add_column("stage")
            active.add_column("size", justify="right")
            active.add_column("elapsed", justify="right")
            now = time.monotonic()
            for job in running[:MAX_ACTIVE_SHOWN]:
                active.add_row(job.source_id, job.stage, human_bytes(job.size), f"{now - job.started_at:.1f}s")
            parts.append(active)
            waiting = progress.waiting_in_batches()
            if waiting > 0:
                parts.append(Text(f"{waiting} more waiting in their batches", style="dim"))
        for failure in progress.recent_failures:
            parts.append(
                Text(
                    f"✗ {failure.error_kind}: {failure.source_id}: {failure.message}",
                    style="red",
                    overflow="ellipsis",
                    no_wrap=True,
                )
            )
        return Group(*parts)

    def _memory_row(self) -> Any:
        """The workers' memory (sampled each second) against --memory-limit, and whether admission waits."""
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        progress = self.progress
        row = Table.grid(padding=(0, 2))
        used = progress.workers_rss_bytes
        state = Text("throttled: new jobs wait for memory", style="yellow") if progress.throttled else Text("")
        if progress.memory_limit_bytes:
            limit = progress.memory_limit_bytes
            row.add_row(
                Text("memory", style="dim"),
                ProgressBar(total=limit, completed=min(used, limit), width=20, complete_style="yellow"),
                Text(f"{human_bytes(used)} of {human_bytes(limit)} limit"),
                state,
            )
        else:
            row.add_row(Text("memory", style="dim"), Text(f"workers {human_bytes(used)} (no --memory-limit)"), state)
        return row

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._live.stop()


def print_summary(report: RunReport, report_path: Path) -> None:
    """The end-of-run summary: a table on a terminal, plain `key: value` lines elsewhere."""
    counts = report.counts
    if not sys.stdout.isatty():
        print(
            f"{_stamp()} docbatch summary run={report.run_id} status={report.status} "
            f"exit={report.exit_code} discovered={counts.discovered} succeeded={counts.succeeded} "
            f"skipped={counts.skipped} failed={counts.failed} dead={counts.dead} "
            f"dead_carried_over={counts.dead_carried_over} cancelled={counts.cancelled} pending={counts.pending} "
            f"wall={report.wall_s:.2f}s "
            f"docs_per_s={report.throughput.documents_per_s} mb_per_s={report.throughput.megabytes_per_s} "
            f"report={report_path}"
        )
        return
    from rich.console import Console
    from rich.table import Table

    out = Console()
    table = Table(title=f"docbatch run {report.run_id} — {report.status}", title_justify="left")
    for column in ("type", "succeeded", "failed", "skipped", "MB", "pages"):
        table.add_column(column, justify="left" if column == "type" else "right")
    for kind, row in report.by_type.items():
        table.add_row(
            kind,
            str(row.succeeded),
            str(row.failed),
            str(row.skipped),
            f"{row.bytes / 1e6:.2f}",
            str(row.pages),
        )
    out.print(table)
    out.print(
        f"[bold]{counts.succeeded}[/] succeeded, [bold]{counts.skipped}[/] skipped, "
        f"[bold red]{counts.new_failures}[/] failed"
        + (f" (+{counts.dead_carried_over} dead from earlier runs)" if counts.dead_carried_over else "")
        + f", {counts.cancelled + counts.pending} not done "
        f"of {counts.discovered} in {human_seconds(report.wall_s)} "
        f"({report.throughput.documents_per_s:.1f} docs/s, {report.throughput.megabytes_per_s:.2f} MB/s)"
    )
    for failure in report.failures[:20]:
        out.print(
            f"[red]✗[/] {failure.error_kind:<11} {failure.source_id}: {failure.message}",
            markup=True,
            highlight=False,
        )
    if len(report.failures) > 20:
        out.print(f"… and {len(report.failures) - 20} more failures in the report")
    out.print(f"report: {report_path}")


def print_processors(rows: list[ProcessorInfo]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("processor", "types", "extensions", "library", "version", "what it extracts"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.name,
            ", ".join(row.kinds),
            ", ".join(row.extensions) or "-",
            row.library,
            row.library_version,
            row.description,
        )
    Console(width=200 if not sys.stdout.isatty() else None).print(table)
