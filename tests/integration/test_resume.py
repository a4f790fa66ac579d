"""Incremental runs and resume against a real ledger: what is done is skipped without being read,
what changed is redone, dead documents stay dead unless asked."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from docbatch.app.runs import run_to_end
from docbatch.config import OutputConfig, OutputFormat, RunConfig
from docbatch.errors import ExitCode


@pytest.fixture
def docs(tmp_path: Path, sample_docs: Path) -> Path:
    target = tmp_path / "docs"
    shutil.copytree(sample_docs, target)
    return target


async def test_rerun_of_an_unchanged_batch_skips_everything(docs: Path, make_config: Callable[..., RunConfig]) -> None:
    config = make_config(docs)
    first = await run_to_end(config)
    second = await run_to_end(config)
    assert first.report.counts.succeeded == 15
    counts = second.report.counts
    assert (counts.succeeded, counts.dead, counts.skipped) == (0, 1, 15)
    assert second.report.skip_reasons == {"unchanged since an earlier run": 15}
    # The broken document is still reported, carried over: nothing new failed, and the exit code says so.
    assert counts.dead_carried_over == 1
    assert second.exit_code is ExitCode.KNOWN_FAILURES_ONLY
    assert "--retry-dead" in second.report.failures[0].message


async def test_touching_one_file_reprocesses_exactly_that_one(
    docs: Path, make_config: Callable[..., RunConfig]
) -> None:
    config = make_config(docs)
    await run_to_end(config)
    touched = docs / "data" / "notes.md"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 1_000_000_000))
    outcome = await run_to_end(config)
    assert outcome.report.counts.succeeded == 1
    assert [slow.source_id for slow in outcome.report.slowest] == ["data/notes.md"]


async def test_changing_an_option_reprocesses_everything(docs: Path, make_config: Callable[..., RunConfig]) -> None:
    config = make_config(docs)
    await run_to_end(config)
    as_text = config.model_copy(update={"output": OutputConfig(root=config.output.root, format=OutputFormat.TXT)})
    outcome = await run_to_end(as_text)
    assert outcome.report.counts.succeeded == 15


async def test_force_redoes_and_retry_dead_retries(docs: Path, make_config: Callable[..., RunConfig]) -> None:
    config = make_config(docs)
    await run_to_end(config)
    forced = await run_to_end(config.model_copy(update={"force": True}))
    assert (forced.report.counts.succeeded, forced.report.counts.dead) == (15, 1)
    retried = await run_to_end(config.model_copy(update={"retry_dead": True}))
    assert (retried.report.counts.succeeded, retried.report.counts.skipped) == (0, 15)
    assert retried.report.failures[0].attempts == 3  # a fresh attempt, counted after the first two


async def test_a_deleted_output_or_a_changed_file_is_redone(docs: Path, make_config: Callable[..., RunConfig]) -> None:
    config = make_config(docs)
    await run_to_end(config)
    (config.output.root / "office" / "board-minutes.docx.json").unlink()
    (docs / "data" / "loans.csv").write_text("isbn,title\n1,changed\n")
    outcome = await run_to_end(config)
    redone = sorted(slow.source_id for slow in outcome.report.slowest)
    assert redone == ["data/loans.csv", "office/board-minutes.docx"]
    assert "changed" in (config.output.root / "data" / "loans.csv.json").read_text()


async def test_verify_notices_content_changed_behind_an_unchanged_mtime(
    docs: Path, make_config: Callable[..., RunConfig]
) -> None:
    config = make_config(docs)
    await run_to_end(config)
    target = docs / "data" / "notes.md"
    stat = target.stat()
    target.write_bytes(target.read_bytes().replace(b"three", b"THREE"))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (await run_to_end(config)).report.counts.succeeded == 0
    assert (await run_to_end(config.model_copy(update={"verify": True}))).report.counts.succeeded == 1
