"""start_run: a handle with the run's id at once, and stop (drain), cancel and wait, on real runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from docbatch.app.runs import RunHandle, run_to_end, start_run
from docbatch.app.status import read_status
from docbatch.config import RunConfig
from docbatch.errors import ExitCode
from tests.conftest import write_texts

MISBEHAVE = "tests.helpers.processors:misbehave"


async def _until_running(handle: RunHandle, jobs: int) -> None:
    """Wait until ``jobs`` documents are inside a worker (the run failing first ends the wait too)."""
    while len(handle.progress.running_jobs()) < jobs and not handle.done:
        await asyncio.sleep(0.02)


async def test_the_run_id_is_known_at_once_and_is_the_ledger_s_while_the_run_goes_on(
    tmp_path: Path, make_config: Callable[..., RunConfig]
) -> None:
    docs = write_texts(tmp_path / "docs", "hang1.txt", "hang2.txt")
    config = make_config(docs, processor_override=MISBEHAVE, grace_s=0.0)
    handle = start_run(config)
    run_id = handle.run_id
    assert run_id  # before the run has even taken its lock
    assert await handle.wait_begun()
    await _until_running(handle, 2)
    status = await asyncio.to_thread(read_status, config.state_dir, None)
    assert (status.run_id, status.status) == (run_id, "running")
    handle.cancel()
    outcome = await handle.wait()
    assert outcome.report.run_id == run_id


async def test_cancel_ends_the_running_jobs_at_once_and_exits_130_resumable(
    tmp_path: Path, make_config: Callable[..., RunConfig]
) -> None:
    docs = write_texts(tmp_path / "docs", "hang1.txt", "hang2.txt", "later.txt")
    config = make_config(docs, processor_override=MISBEHAVE, grace_s=600.0)
    handle = start_run(config)
    await _until_running(handle, 2)
    handle.cancel()  # with a grace of ten minutes: cancel does not wait for it
    outcome = await asyncio.wait_for(handle.wait(), timeout=60)
    counts = outcome.report.counts
    assert outcome.exit_code is ExitCode.CANCELLED
    assert (counts.cancelled, counts.pending) == (2, 1)
    assert counts.reconciles


async def test_stop_drains_the_running_jobs_and_leaves_the_rest_pending_for_the_next_run(
    tmp_path: Path, make_config: Callable[..., RunConfig]
) -> None:
    docs = write_texts(tmp_path / "docs", "slow1.txt", "slow2.txt", "slow3.txt", "slow4.txt")  # 1.5 s each
    config = make_config(docs, concurrency=1, processor_override=MISBEHAVE, grace_s=60.0)
    handle = start_run(config)
    await _until_running(handle, 1)
    handle.stop("asked by the test")
    assert handle.stopping
    outcome = await handle.wait()
    counts = outcome.report.counts
    assert outcome.exit_code is ExitCode.INTERRUPTED
    assert outcome.report.stop_reason == "asked by the test"
    assert counts.succeeded >= 1 and counts.cancelled == 0  # the running job finished within the grace
    assert counts.pending >= 1 and counts.reconciles
    resumed = await run_to_end(config)
    assert resumed.exit_code is ExitCode.OK
    assert resumed.report.counts.succeeded == counts.pending  # only what was left, nothing twice
    assert {path.name for path in (tmp_path / "out").glob("*.txt.json")} == {
        "slow1.txt.json", "slow2.txt.json", "slow3.txt.json", "slow4.txt.json",
    }  # fmt: skip


async def test_wait_raises_what_stopped_the_run_before_it_began(
    tmp_path: Path, make_config: Callable[..., RunConfig]
) -> None:
    from docbatch.errors import ConfigError

    docs = write_texts(tmp_path / "docs", "a.txt")
    config = make_config(docs, output=make_config(docs).output.model_copy(update={"root": docs}))
    handle = start_run(config)
    assert not await handle.wait_begun()
    with pytest.raises(ConfigError):
        await handle.wait()


def test_start_run_needs_a_running_event_loop(tmp_path: Path, make_config: Callable[..., RunConfig]) -> None:
    with pytest.raises(RuntimeError):
        start_run(make_config(write_texts(tmp_path / "docs", "a.txt")))


async def test_a_stop_after_the_run_has_ended_changes_nothing(
    tmp_path: Path, make_config: Callable[..., RunConfig]
) -> None:
    handle = start_run(make_config(write_texts(tmp_path / "docs", "a.txt")))
    outcome = await handle.wait()
    handle.stop("too late")
    handle.cancel()
    assert not handle.stopping and outcome.exit_code is ExitCode.OK
