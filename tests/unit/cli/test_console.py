import asyncio
import time
from pathlib import Path

from rich.console import Console

from docbatch.cli.console import _LiveView
from docbatch.engine.progress import RunProgress
from docbatch.models import Document


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
