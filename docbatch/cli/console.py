"""Everything the user sees on a terminal. The only module that imports rich, and only when needed:
in a pipe or under cron the output is plain, greppable lines with no control codes."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from docbatch.report.model import RunReport
from docbatch.report.progress import RunProgress

if TYPE_CHECKING:
    from docbatch.processors.registry import ProcessorInfo

LIVE_REFRESH_S = 0.25
MAX_ACTIVE_SHOWN = 8
HEADER_BAR_WIDTH = 36  # with the counts beside it, the first line stays within 80 columns


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


def retry_line(waiting: int, next_in_s: float | None) -> str:
    """``3 documents wait for a retry, the next in 0:04`` (empty when none waits)."""
    if not waiting:
        return ""
    documents = "1 document waits" if waiting == 1 else f"{waiting} documents wait"
    due = f", the next in {human_seconds(next_in_s)}" if next_in_s is not None else ""
    return f"{documents} for a retry{due}"


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
        self._stderr = sys.stderr
        self._rerouted: list[Any] = []

    def start(self) -> None:
        self._live.start()
        self._route_log_above()
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            self._live.update(self._render(), refresh=True)
            await asyncio.sleep(LIVE_REFRESH_S)

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        progress = self.progress
        parts: list[Any] = [*self._header(), *self._memory_rows()]
        retrying = retry_line(len(progress.retry_due), progress.next_retry_in())
        if retrying:
            parts.append(Text(retrying, style="yellow"))
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

    def _header(self) -> list[Any]:
        """Two lines that fit 80 columns: the bar with the counts, then the rates and times."""
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        progress, rates = self.progress, self.progress.rates()
        bar = ProgressBar(
            total=max(progress.discovered, 1) if progress.discovery_done else None,
            completed=progress.finished,
            width=HEADER_BAR_WIDTH,
        )
        counts = Table.grid(padding=(0, 2))
        counts.add_row(
            bar,
            Text(f"{progress.finished}/{progress.discovered}{'' if progress.discovery_done else '+'}"),
            Text(f"failed {len(progress.failures)}", style="red" if progress.failures else "dim"),
        )
        eta = (
            human_seconds(rates.eta_s)
            if rates.eta_s is not None
            else ("discovering…" if not progress.discovery_done else "-")
        )
        speed = Text(
            f"{rates.docs_per_s:.1f} docs/s  {rates.mb_per_s:.2f} MB/s  "
            f"elapsed {human_seconds(rates.elapsed_s)}  eta {eta}",
            no_wrap=True,
            overflow="ellipsis",
        )
        return [counts, speed]

    def _memory_rows(self) -> list[Any]:
        """The workers' memory (sampled each second) against --memory-limit, and whether admission waits."""
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        progress = self.progress
        row = Table.grid(padding=(0, 2))
        used = progress.workers_rss_bytes
        if progress.memory_limit_bytes:
            limit = progress.memory_limit_bytes
            row.add_row(
                Text("memory", style="dim"),
                ProgressBar(total=limit, completed=min(used, limit), width=20, complete_style="yellow"),
                Text(f"{human_bytes(used)} of {human_bytes(limit)} limit"),
            )
        else:
            row.add_row(Text("memory", style="dim"), Text(f"workers {human_bytes(used)} (no --memory-limit)"))
        rows: list[Any] = [row]
        if progress.throttled:
            waited = f" ({human_seconds(progress.throttled_s)} in all)" if progress.throttled_s >= 1 else ""
            rows.append(Text(f"throttled: new jobs wait for memory{waited}", style="yellow"))
        return rows

    def _route_log_above(self) -> None:
        """Warnings (the stop message above all) go above the view instead of being drawn over: the
        log's terminal handler writes to the view's console while it runs."""
        import logging

        for handler in logging.getLogger("docbatch").handlers:
            if type(handler) is logging.StreamHandler and handler.stream is self._stderr:
                handler.setStream(sys.stderr)  # rich's proxy while the view runs
                self._rerouted.append(handler)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._live.stop()
        for handler in self._rerouted:
            handler.setStream(self._stderr)
        self._rerouted.clear()


def watch_in_place(frame: Callable[[], tuple[str, bool]], interval_s: float) -> None:
    """Show ``frame()``'s text on the terminal and redraw it in place every ``interval_s`` until a frame says
    it is the last one; the last stays on the screen."""
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    text, last = frame()
    with Live(Text(text), console=Console(), auto_refresh=False) as live:
        while not last:
            time.sleep(interval_s)
            text, last = frame()
            live.update(Text(text), refresh=True)


def print_summary(report: RunReport, report_path: Path | None) -> None:
    """The end-of-run summary: a table on a terminal, plain `key: value` lines elsewhere
    (``report_path`` None: the report could not be written, and the summary says so)."""
    counts = report.counts
    if not sys.stdout.isatty():
        print(
            f"{_stamp()} docbatch summary run={report.run_id} status={report.status} "
            f"exit={report.exit_code} discovered={counts.discovered} succeeded={counts.succeeded} "
            f"skipped={counts.skipped} failed={counts.failed} dead={counts.dead} "
            f"dead_carried_over={counts.dead_carried_over} cancelled={counts.cancelled} pending={counts.pending} "
            f"wall={report.wall_s:.2f}s "
            f"docs_per_s={report.throughput.documents_per_s} mb_per_s={report.throughput.megabytes_per_s} "
            f"report={report_path if report_path is not None else 'none'}"
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
    out.print(f"report: {report_path if report_path is not None else 'none (it could not be written)'}")


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
