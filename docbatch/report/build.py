"""Building the RunReport from a run's live state once the run has ended."""

from __future__ import annotations

import datetime
import os
import resource
import time
from pathlib import Path

from pydantic import JsonValue

from docbatch.brokers.urls import redacted, without_passwords
from docbatch.config import RunConfig, default_concurrency
from docbatch.errors import ExitCode
from docbatch.models import JobState
from docbatch.report.model import Bottleneck, Counts, Resources, RunReport, Throughput
from docbatch.report.progress import MemoryStats, RunProgress
from docbatch.report.stats import find_bottleneck


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat(timespec="milliseconds")


def exit_code_for(status: str, counts: Counts, *, environment_failed: bool = False) -> ExitCode:
    """The documented exit code of a run (README, "Exit codes"): the environment failing it comes first
    (the operator must act), then how it stopped, then documents that failed or died in this run (1),
    then dead ones only carried over from earlier runs (6: nothing new to fix)."""
    if environment_failed:
        return ExitCode.ENVIRONMENT
    if status == "interrupted":
        return ExitCode.INTERRUPTED
    if status == "cancelled":
        return ExitCode.CANCELLED
    if status == "failed":
        return ExitCode.USAGE
    if counts.new_failures:
        return ExitCode.DOCUMENTS_FAILED
    if counts.dead_carried_over:
        return ExitCode.KNOWN_FAILURES_ONLY
    return ExitCode.OK


def build_report(
    run_id: str,
    config: RunConfig,
    progress: RunProgress,
    executor: str,
    status: str,
    cpu_before: os.times_result,
    ledger_path: Path,
    stop_reason: str | None = None,
    memory: MemoryStats | None = None,
    *,
    environment_failed: bool = False,
) -> RunReport:
    """The report of a run that has ended; ``environment_failed`` when the machine stopped it (exit 5).

    ``cpu_before``: ``os.times()`` at the run's start (CPU utilisation is measured from there);
    ``memory``: the memory governor's figures, None when no governor ran."""
    finished_at = time.time()
    wall_s = max(finished_at - progress.started_at, 1e-9)
    counts = _counts(progress)
    processed = progress.processed  # not the skipped documents, nor the dead ones carried over unread
    return RunReport(
        run_id=run_id,
        status=status,
        stop_reason=stop_reason,
        exit_code=int(exit_code_for(status, counts, environment_failed=environment_failed)),
        command=without_passwords(config.command),  # the report is shared more widely than the ledger
        config={**config.model_dump(mode="json", exclude={"command"}), "executor": redacted(config.executor)},
        executor=executor,
        executor_info=_json_safe(progress.executor_info),
        started_at=_iso(progress.started_at),
        finished_at=_iso(finished_at),
        wall_s=round(wall_s, 3),
        counts=counts,
        by_type=dict(sorted(progress.by_type.items())),
        bytes_processed=progress.bytes_done,
        pages_processed=progress.pages_done,
        throughput=Throughput(
            documents_per_s=round(processed / wall_s, 3),
            megabytes_per_s=round(progress.bytes_done / 1e6 / wall_s, 3),
            pages_per_s=round(progress.pages_done / wall_s, 3),
        ),
        durations=progress.durations.distribution(),
        stages={stage: histogram.distribution() for stage, histogram in progress.stage_totals.items()},
        stages_by_type={
            kind: {stage: histogram.distribution() for stage, histogram in by_stage.items()}
            for kind, by_stage in sorted(progress.stage_times.items())
        },
        bottleneck=_bottleneck(progress),
        slowest=progress.slowest,
        failures=progress.failures,
        skipped=progress.skips,
        skip_reasons=dict(progress.skip_reasons.most_common()),
        error_kinds=dict(progress.error_kinds.most_common()),
        retries=progress.retries,
        batches=progress.batches,
        largest_batch=progress.largest_batch,
        resources=_resources(progress, memory, cpu_before, wall_s),
        output_dir=str(config.output.root),
        ledger=str(ledger_path),
        timeline=progress.timeline,
    )


def _counts(progress: RunProgress) -> Counts:
    """Documents by final state; those discovered without one are pending, so the counts reconcile."""
    states = progress.states
    finished = sum(states.values())
    return Counts(
        discovered=progress.discovered,
        succeeded=states[JobState.SUCCEEDED.value],
        skipped=states[JobState.SKIPPED.value],
        failed=states[JobState.FAILED.value],
        dead=states[JobState.DEAD.value],
        dead_carried_over=progress.dead_carried_over,
        cancelled=states[JobState.CANCELLED.value],
        pending=max(0, progress.discovered - finished),
    )


def _bottleneck(progress: RunProgress) -> Bottleneck | None:
    """The stage that took the most time, with the document type that spent most in it."""
    busiest: dict[str, tuple[float, str]] = {}
    for kind, by_stage in progress.stage_times.items():
        for stage, histogram in by_stage.items():
            if histogram.total > busiest.get(stage, (-1.0, ""))[0]:
                busiest[stage] = (histogram.total, kind)
    found = find_bottleneck(
        {stage: histogram.total for stage, histogram in progress.stage_totals.items()},
        {stage: kind for stage, (_, kind) in busiest.items()},
    )
    return Bottleneck(stage=found[0], share=found[1], reason=found[2]) if found else None


def _resources(
    progress: RunProgress, memory: MemoryStats | None, cpu_before: os.times_result, wall_s: float
) -> Resources:
    cpu_after = os.times()
    cpu_s = sum(after - before for after, before in zip(cpu_after[:4], cpu_before[:4], strict=True))
    return Resources(
        peak_worker_rss_bytes=progress.peak_worker_rss_bytes,
        peak_workers_total_bytes=memory.peak_tree_bytes if memory else 0,
        free_memory_low_bytes=memory.free_low_bytes if memory else None,
        throttled_s=round(memory.throttled_s, 3) if memory else 0.0,
        throttle_events=memory.throttle_events if memory else 0,
        pressure_kills=memory.pressure_kills if memory else 0,
        coordinator_peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        cpu_utilisation=round(cpu_s / wall_s / default_concurrency(), 3),
    )


def _json_safe(info: dict[str, object]) -> dict[str, JsonValue]:
    """The executor's description as plain JSON values (anything else as its text)."""
    return {key: _plain(value) for key, value in info.items()}


def _plain(value: object) -> JsonValue:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value)
