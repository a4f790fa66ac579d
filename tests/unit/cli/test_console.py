import asyncio
import re
import time
from pathlib import Path

from rich.console import Console

from docbatch.cli.console import _LiveView
from docbatch.models import Document
from docbatch.report.model import Failure
from docbatch.report.progress import RunProgress


def _document(name: str, size: int) -> Document:
    return Document(source_id=name, path=Path(name), size=size, mtime_ns=0)


def _frame(progress: RunProgress) -> str:
    async def render() -> str:
        view = _LiveView(progress)
        console = Console(width=140, record=True, force_terminal=False)
        console.print(view._render())
        return console.export_text()

    return asyncio.run(render())


def test_live_view_shows_memory_against_the_limit_the_throttle_and_each_jobs_stage() -> None:
    progress = RunProgress(discovered=10, discovery_done=True, discovered_bytes=10_000)
    progress.memory_limit_bytes = 1_000_000_000
    progress.workers_rss_bytes = 950_000_000
    progress.throttled = True
    for name, size in (("big.pdf", 5_000), ("next.txt", 10), ("later.txt", 10)):
        progress.on_started(_document(name, size))
    progress.on_stage("big.pdf", "read")
    progress.on_stage("big.pdf", "extract")
    progress.on_stage("next.txt", "running")
    progress.on_stage("next.txt", "done")  # its worker moved on; its result comes with the batch
    progress.active["big.pdf"].started_at = time.monotonic() - 12.0
    frame = _frame(progress)
    assert "950.0 MB of 1.0 GB limit" in frame
    assert "throttled: new jobs wait for memory" in frame
    big = next(line for line in frame.splitlines() if "big.pdf" in line)
    assert "extract" in big and "12." in big
    assert "next.txt" not in frame  # done with, not active
    assert "1 more waiting in their batches" in frame  # later.txt


def test_live_view_without_a_limit_says_so_and_is_not_throttled() -> None:
    progress = RunProgress()
    progress.workers_rss_bytes = 200_000_000
    frame = _frame(progress)
    assert "workers 200.0 MB (no --memory-limit)" in frame and "throttled" not in frame


def _frame_at(progress: RunProgress, width: int) -> str:
    async def render() -> str:
        console = Console(width=width, record=True, force_terminal=False)
        console.print(_LiveView(progress)._render())
        return console.export_text()

    return asyncio.run(render())


def test_the_header_fits_80_columns_with_every_figure_whole() -> None:
    progress = RunProgress(discovered=1_234_567, discovery_done=True, discovered_bytes=10**12)
    progress.started_at = time.time() - 3_600
    progress.states["succeeded"] = 123_456
    progress.processed, progress.bytes_done, progress.bytes_settled = 123_456, 44_444 * 10**6, 44_444 * 10**6
    progress.failures.extend(
        Failure(source_id=f"f{index}", path="p", state="dead", error_kind="corrupt", message="m")
        for index in range(1_234)
    )
    lines = _frame_at(progress, 80).splitlines()
    assert max(len(line) for line in lines) <= 80
    # Nothing squeezed or wrapped: the bar keeps its width beside the counts, the rates read as one line.
    assert lines[0].index("123456/1234567  failed 1234") >= 30
    # The rates divide by the time elapsed when the frame is drawn, a moment after the hour set above:
    # on a loaded machine 12.35 MB/s reads 12.34 (this failed CI once), so the last digit is free.
    assert re.match(r"34\.3 docs/s  12\.3\d MB/s  elapsed 1:00:0\d  eta \S", lines[1]), lines[1]


def test_rates_count_the_documents_processed_not_the_skipped_ones_and_eta_the_bytes_left() -> None:
    progress = RunProgress()
    progress.started_at = time.time() - 10.0
    for index in range(10_000):  # done in an earlier run: not read, no work
        document = _document(f"old{index}.txt", 1_000_000)
        progress.on_discovered(document)
        progress.on_up_to_date(document)
    for name in ("new.txt", "next.txt"):
        progress.on_discovered(_document(name, 1_000_000))
    progress.discovery_done = True
    progress.processed, progress.bytes_done, progress.bytes_settled = 1, 1_000_000, progress.bytes_settled + 1_000_000
    header = "\n".join(_frame(progress).splitlines()[:2])
    assert "0.1 docs/s  0.10 MB/s" in header  # one document in 10 s, not 1,000 documents/s
    assert "eta 0:10" in header  # one more MB at 0.1 MB/s, not the 10 GB of skipped documents


def test_documents_waiting_for_a_retry_and_the_time_throttled_are_shown() -> None:
    progress = RunProgress(discovered=3, discovery_done=True)
    progress.on_retry_scheduled("flaky.pdf", 4.4)
    progress.on_retry_scheduled("other.pdf", 30.0)
    progress.memory_limit_bytes = 2 * 10**9
    progress.throttled, progress.throttled_s = True, 12.0
    frame = _frame(progress)
    assert "2 documents wait for a retry, the next in 0:04" in frame
    assert "throttled: new jobs wait for memory (0:12 in all)" in frame
    progress.on_retry_due("flaky.pdf")
    assert "1 document waits for a retry, the next in 0:30" in _frame(progress)
