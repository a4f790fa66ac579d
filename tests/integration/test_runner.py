"""The run engine with real worker processes, a real SQLite ledger and real documents."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from docbatch.app.runs import run_to_end
from docbatch.config import OutputFormat, RunConfig, SourceConfig
from docbatch.errors import ExitCode
from docbatch.report.progress import RunProgress
from tests.conftest import write_texts

MISBEHAVE = "tests.helpers.processors:misbehave"


def _no_children_left() -> bool:
    """No worker process survives the run (multiprocessing's shared resource tracker may stay)."""
    workers = [
        child
        for child in psutil.Process().children(recursive=True)
        if "resource_tracker" not in " ".join(child.cmdline())
    ]
    return not workers


async def test_sample_docs_end_to_end(sample_docs: Path, make_config: Callable[..., RunConfig]) -> None:
    config = make_config(sample_docs)
    outcome = await run_to_end(config)
    report = outcome.report
    assert outcome.exit_code is ExitCode.DOCUMENTS_FAILED
    assert report.counts.reconciles
    assert (report.counts.discovered, report.counts.succeeded, report.counts.dead) == (16, 15, 1)
    assert [f.source_id for f in report.failures] == ["broken/quarterly-figures.pdf"]
    assert report.failures[0].error_kind == "corrupt"
    assert report.by_type["pdf"].pages == 4
    # Per-stage totals add up to the jobs' durations; the bottleneck is named with a reason.
    stage_total = sum(stage.total for stage in report.stages.values())
    assert abs(stage_total - report.durations.total) < 0.001 * len(report.stages) + 1e-6
    assert set(report.stages) == {"dispatch", "read", "detect", "extract", "transform", "write"}
    assert report.bottleneck is not None and report.bottleneck.stage in report.stages
    assert report.stages_by_type["pdf"]["extract"].count == 2  # the good PDF and the broken one
    on_disk = json.loads(outcome.report_path.read_text())
    assert on_disk["counts"] == report.counts.model_dump()
    outputs = sorted(p.relative_to(config.output.root).as_posix() for p in config.output.root.rglob("*.json"))
    assert "office/board-minutes.docx.json" in outputs and "broken/quarterly-figures.pdf.json" not in outputs
    assert len(outputs) == 15 + 2  # plus report.json and the run's own reports/<run id>.json
    assert outcome.report_path == config.output.root / "reports" / f"{report.run_id}.json"
    ledger = sqlite3.connect(config.state_dir / "ledger.sqlite")
    states = dict(ledger.execute("SELECT state, count(*) FROM documents GROUP BY state").fetchall())
    assert states == {"succeeded": 15, "dead": 1}
    assert ledger.execute("SELECT status, exit_code FROM runs").fetchall() == [("finished", 1)]
    assert _no_children_left()


async def test_outputs_are_byte_identical_across_runs(
    sample_docs: Path, make_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    first = make_config(sample_docs)
    await run_to_end(first)
    second = first.model_copy(update={"output": first.output.model_copy(update={"root": tmp_path / "again"})})
    await run_to_end(second)
    for output in first.output.root.rglob("*.json"):
        if output.name != "report.json" and output.parent.name != "reports":
            assert output.read_bytes() == (tmp_path / "again" / output.relative_to(first.output.root)).read_bytes()


async def test_a_hung_document_is_killed_at_its_timeout_and_the_others_succeed(
    tmp_path: Path, make_config: Callable[..., RunConfig]
) -> None:
    docs = write_texts(tmp_path / "docs", "hang.txt", "a.txt", "b.txt", "c.txt")
    config = make_config(docs, timeout_s=1.0, processor_override=MISBEHAVE)
    outcome = await run_to_end(config)
    report = outcome.report
    assert report.counts.succeeded == 3
    (failure,) = report.failures
    assert (failure.source_id, failure.error_kind, failure.state) == ("hang.txt", "timeout", "failed")
    assert "worker killed" in failure.message
    # The job's duration is its timeout plus the kill, not the lifetime of the hang.
    assert report.slowest[0].source_id == "hang.txt" and report.slowest[0].duration_s < 10
    assert _no_children_left()


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        ("exit.txt", "crash", "exit code 3"),
        ("segfault.txt", "crash", "SIGSEGV"),
        ("raise.txt", "processor", "raised ValueError: bad bytes at offset 7"),
    ],
)
async def test_a_dying_or_failing_processor_fails_only_its_document(
    tmp_path: Path, make_config: Callable[..., RunConfig], name: str, kind: str, message: str
) -> None:
    docs = write_texts(tmp_path / "docs", name, "ok1.txt", "ok2.txt", "ok3.txt")
    outcome = await run_to_end(make_config(docs, processor_override=MISBEHAVE))
    assert outcome.report.counts.succeeded == 3
    (failure,) = outcome.report.failures
    assert failure.error_kind == kind and message in failure.message


async def test_start_order_follows_priority_then_discovery_order(
    tmp_path: Path, make_config: Callable[..., RunConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ["n1", "l1", "c1", "h1", "n2", "c2", "l2", "h2"]
    levels = {"n": "normal", "l": "low", "c": "critical", "h": "high"}
    docs = write_texts(tmp_path / "docs", *(f"{name}.txt" for name in names))
    manifest = tmp_path / "list.jsonl"
    manifest.write_text(
        "".join(
            json.dumps({"path": str(docs / f"{name}.txt"), "id": name, "priority": levels[name[0]]}) + "\n"
            for name in names
        )
    )
    log = tmp_path / "order.log"
    monkeypatch.setenv("DOCBATCH_TEST_ORDER_LOG", str(log))
    config = make_config(concurrency=1, processor_override="tests.helpers.processors:record_order")
    config = config.model_copy(update={"sources": SourceConfig(manifests=[manifest])})
    await run_to_end(config)
    started = [line.removesuffix(".txt") for line in log.read_text().split()]
    assert sorted(started) == sorted(names)
    by_priority = ["c1", "c2", "h1", "h2", "n1", "n2", "l1", "l2"]
    _assert_start_order(started, by_priority)


def _assert_start_order(started: list[str], expected: list[str]) -> None:
    """The first document may start before the rest of the queue is known (discovery hands documents over
    in chunks, so usually it is already the most urgent); everything after it starts in the expected order."""
    assert started[1:] == [name for name in expected if name != started[0]]


async def test_jsonl_output_is_one_line_per_document(sample_docs: Path, make_config: Callable[..., RunConfig]) -> None:
    from docbatch.config import OutputConfig

    config = make_config(sample_docs)
    config = config.model_copy(update={"output": OutputConfig(root=config.output.root, format=OutputFormat.JSONL)})
    await run_to_end(config)
    lines = (config.output.root / "documents.jsonl").read_text().splitlines()
    assert len(lines) == 15
    assert {json.loads(line)["source"]["id"] for line in lines} >= {"annual-report-2025.pdf", "data/notes.md"}


async def test_cancelling_a_run_writes_an_interrupted_report_and_stops_the_workers(
    tmp_path: Path, make_config: Callable[..., RunConfig]
) -> None:
    docs = write_texts(tmp_path / "docs", "hang1.txt", "hang2.txt", "later.txt")
    config = make_config(docs, timeout_s=60.0, processor_override=MISBEHAVE)
    progress = RunProgress()
    task = asyncio.create_task(run_to_end(config, progress=progress))
    while len(progress.running_jobs()) < 2:  # both hang inside a worker; later.txt waits behind them
        await asyncio.sleep(0.02)
    task.cancel()
    outcome = await task
    counts = outcome.report.counts
    assert outcome.exit_code is ExitCode.INTERRUPTED
    assert outcome.report.status == "interrupted"
    assert (counts.cancelled, counts.pending, counts.discovered) == (2, 1, 3)
    assert counts.reconciles
    assert _no_children_left()


async def test_priority_rules_and_largest_first_order(
    tmp_path: Path, make_config: Callable[..., RunConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    from docbatch.config import PoolConfig, QueueOrder

    docs = tmp_path / "docs"
    docs.mkdir()
    for name, size in (("a.txt", 10), ("b.txt", 3000), ("c.txt", 200), ("urgent.txt", 1), ("d.txt", 50)):
        (docs / name).write_text("x" * size)
    log = tmp_path / "order.log"
    monkeypatch.setenv("DOCBATCH_TEST_ORDER_LOG", str(log))
    pool = PoolConfig(concurrency=1, order=QueueOrder.SIZE_DESC, priority_rules=[("urgent*", 3)])
    config = make_config(docs, processor_override="tests.helpers.processors:record_order")
    await run_to_end(config.model_copy(update={"pool": pool}))
    # The rule's critical one first, then largest first.
    _assert_start_order(log.read_text().split(), ["urgent.txt", "b.txt", "c.txt", "d.txt", "a.txt"])


async def test_inline_executor_runs_the_same_pipeline_in_process(
    sample_docs: Path, make_config: Callable[..., RunConfig]
) -> None:
    from docbatch.executors.inline import InlineExecutor

    outcome = await run_to_end(make_config(sample_docs / "data"), executor=InlineExecutor())
    assert outcome.report.executor == "inline"
    assert outcome.report.counts.succeeded == 6 and outcome.exit_code is ExitCode.OK
