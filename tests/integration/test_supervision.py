"""Hostile processors in real worker processes: each ends in its precise kind within its bound while
the other documents succeed; memory is bounded; a killed worker costs one retry."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from docbatch.app.runs import run_to_end
from docbatch.config import RunConfig
from docbatch.errors import ExitCode
from docbatch.executors.local import LocalExecutor
from tests.conftest import run_cli, write_texts

MISBEHAVE = "tests.helpers.processors:misbehave"
MiB = 2**20


async def test_endless_allocation_is_killed_as_memory_at_the_per_job_cap(
    tmp_path: Path, make_config: Callable[..., RunConfig]
) -> None:
    docs = write_texts(tmp_path / "docs", "alloc.txt", "a.txt", "b.txt")
    config = make_config(docs, processor_override=MISBEHAVE, memory_per_job_bytes=300 * MiB, timeout_s=60)
    outcome = await run_to_end(config)
    (failure,) = outcome.report.failures
    assert (failure.source_id, failure.error_kind, failure.state) == ("alloc.txt", "memory", "dead")
    assert "--memory-per-job" in failure.message
    assert outcome.report.counts.succeeded == 2
    # Sampled every 0.2 s while growing ~1.6 GB/s at most: the overshoot stays within a few samples.
    assert outcome.report.resources.peak_worker_rss_bytes < 1024 * MiB


async def test_a_timeout_kills_the_processors_child_processes_too(
    tmp_path: Path, make_config: Callable[..., RunConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "child.pid"
    monkeypatch.setenv("DOCBATCH_TEST_CHILD_PID", str(pid_file))
    docs = write_texts(tmp_path / "docs", "spawn.txt", "ok.txt")
    config = make_config(docs, processor_override=MISBEHAVE, timeout_s=1.5, retries=0)
    outcome = await run_to_end(config)
    assert outcome.report.failures[0].error_kind == "timeout"
    child = int(pid_file.read_text())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


async def test_timeouts_and_crashes_are_retried_then_fail_with_their_attempts(
    tmp_path: Path, make_config: Callable[..., RunConfig]
) -> None:
    docs = write_texts(tmp_path / "docs", "exit.txt", "ok.txt")
    config = make_config(docs, processor_override=MISBEHAVE, retries=2, backoff_s=0.1)
    outcome = await run_to_end(config)
    (failure,) = outcome.report.failures
    assert (failure.error_kind, failure.state, failure.attempts) == ("crash", "failed", 3)
    assert outcome.report.retries == 2
    assert outcome.exit_code is ExitCode.DOCUMENTS_FAILED


async def test_a_worker_killed_from_outside_costs_one_retry_and_nothing_else(
    tmp_path: Path, make_config: Callable[..., RunConfig]
) -> None:
    docs = write_texts(tmp_path / "docs", "slow1.txt", "slow2.txt", "slow3.txt", "slow4.txt")
    config = make_config(docs, processor_override=MISBEHAVE, backoff_s=0.1)
    executor = LocalExecutor(2)
    task = asyncio.create_task(run_to_end(config, executor=executor))
    while not [job for job in executor.jobs.values() if job.pid is not None]:
        await asyncio.sleep(0.02)
    victim = next(job for job in executor.jobs.values() if job.pid is not None)
    os.kill(victim.pid, 9)  # as the OOM killer would
    outcome = await task
    assert outcome.report.counts.succeeded == 4, [f.message for f in outcome.report.failures]
    assert outcome.report.retries == 1
    assert outcome.exit_code is ExitCode.OK


async def test_a_memory_limit_below_the_concurrency_throttles_and_finishes(
    tmp_path: Path, make_config: Callable[..., RunConfig]
) -> None:
    # Each job holds 120 MiB on top of its worker (about 170 MiB in all): one fits under 300 MiB, two do not.
    docs = write_texts(tmp_path / "docs", *(f"hold{i}.txt" for i in range(6)))
    config = make_config(
        docs, concurrency=2, processor_override=MISBEHAVE, memory_limit_bytes=300 * MiB, retries=6, backoff_s=0.2
    )
    outcome = await run_to_end(config)
    resources = outcome.report.resources
    assert outcome.report.counts.succeeded == 6
    assert resources.throttled_s > 0 and resources.throttle_events >= 1
    # Before any job is measured both workers start (a worker's base RSS fits twice), and the youngest is
    # killed once they pass the limit; from then on each job counts at the largest seen, so the overshoot
    # is at most the two jobs of that first wave, never a third.
    assert 0 < resources.peak_workers_total_bytes < 300 * MiB * 1.25


async def test_short_documents_travel_in_batches_yet_each_keeps_its_own_deadline(
    tmp_path: Path, make_config: Callable[..., RunConfig]
) -> None:
    names = [f"a{index:03d}.txt" for index in range(150)] + [f"z{index:03d}.txt" for index in range(150)]
    docs = write_texts(tmp_path / "docs", *names, "hang.txt", "segfault.txt")
    config = make_config(docs, processor_override=MISBEHAVE, timeout_s=2.0, retries=0)
    outcome = await run_to_end(config)
    report = outcome.report
    assert report.largest_batch > 10 and report.batches < len(names)  # they really travelled together
    kinds = {failure.source_id: failure.error_kind for failure in report.failures}
    assert kinds == {"hang.txt": "timeout", "segfault.txt": "crash"}
    # The documents that shared a batch with the hung or crashed one were run again, not lost.
    assert report.counts.succeeded == len(names)
    assert all((config.output.root / f"{name}.json").is_file() for name in names)
    assert report.counts.reconciles


def test_a_native_crash_stays_off_the_terminal_and_its_last_words_explain_it(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "abort.txt", "ok.txt")
    result = run_cli(
        "run", str(docs), "-q", "--retries", "0", "--processor", MISBEHAVE, cwd=tmp_path, env={"RUST_BACKTRACE": "1"}
    )
    assert result.returncode == ExitCode.DOCUMENTS_FAILED
    # -q means quiet: the library's backtrace is not printed, only the run's own failure line.
    assert "stack backtrace" not in result.stderr and "rust_oom" not in result.stderr
    (failure,) = json.loads((tmp_path / "docbatch-out" / "report.json").read_text())["failures"]
    assert failure["error_kind"] == "crash"
    assert failure["message"] == "worker process died with SIGABRT: memory allocation of 549742182400 bytes failed"


def test_a_short_run_with_more_slots_than_documents_is_silent_with_q(tmp_path: Path) -> None:
    # Workers still starting when the run ends used to die printing a traceback on the terminal.
    docs = write_texts(tmp_path / "docs", "only.txt")
    for attempt in range(3):
        result = run_cli(
            "run", str(docs), "-q", "-j", "8", "-o", f"out{attempt}", "--state", f"s{attempt}", cwd=tmp_path
        )
        assert (result.returncode, result.stderr) == (ExitCode.OK, "")
