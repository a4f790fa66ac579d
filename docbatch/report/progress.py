"""Live state of one run: what the progress view polls and what the report is built from.

The runner is its only writer and it lives in the event loop, so no locking is needed; views read
it from the same loop.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field

from docbatch.models import ActiveJobStatus, Document, JobRecord, JobState, RunSnapshot, Skip, StageStatus
from docbatch.report.model import Failure, SkipEntry, SlowDocument, TimelinePoint, TypeCounts
from docbatch.report.stats import Histogram

MAX_SKIPS_LISTED = 1000
MAX_SLOWEST = 10
MAX_TIMELINE = 2000
MAX_ACTIVE_PUBLISHED = 20


@dataclass
class MemoryStats:
    """What the report shows of memory: peaks, the free-memory low point, time throttled."""

    peak_tree_bytes: int = 0
    free_low_bytes: int | None = None
    throttled_s: float = 0.0
    throttle_events: int = 0
    pressure_kills: int = 0
    job_peaks: dict[str, int] = field(default_factory=dict)
    largest_job_bytes: int = 0


@dataclass(frozen=True)
class Rates:
    """Throughput of the documents this run processed (skipped ones took no work) and the time left."""

    elapsed_s: float
    docs_per_s: float
    mb_per_s: float
    eta_s: float | None  # from the bytes still to process; None while unknown (discovery goes on, no rate yet)


def rates(processed: int, bytes_done: int, bytes_left: int, elapsed_s: float, discovery_done: bool) -> Rates:
    """Rates over ``elapsed_s`` seconds; ``bytes_left``: bytes of the documents still to process."""
    elapsed_s = max(elapsed_s, 1e-6)
    byte_rate = bytes_done / elapsed_s
    eta = bytes_left / byte_rate if discovery_done and byte_rate > 0 and bytes_left > 0 else None
    return Rates(elapsed_s, processed / elapsed_s, bytes_done / 1e6 / elapsed_s, eta)


@dataclass
class ActiveJob:
    source_id: str
    size: int
    started_at: float
    # "queued" until a worker starts it; then read, extract, write as the worker reports; "done" when the
    # worker has moved on to the next job of the batch (the result comes back with the whole batch).
    stage: str = "queued"


@dataclass
class RunProgress:
    """Counters, active jobs and per-run accumulations for one run."""

    started_at: float = field(default_factory=time.time)
    discovery_done: bool = False
    discovered: int = 0
    discovered_bytes: int = 0
    states: Counter[str] = field(default_factory=Counter)
    # Of states["dead"]: documents dead from an earlier run, reported again without being tried.
    dead_carried_over: int = 0
    processed: int = 0  # documents a worker finished with in this run (skipped and carried-over ones are not)
    bytes_done: int = 0  # their bytes
    bytes_settled: int = 0  # bytes of every discovered document that needs no more work (processed or not)
    pages_done: int = 0
    active: dict[str, ActiveJob] = field(default_factory=dict)
    recent_failures: deque[Failure] = field(default_factory=lambda: deque(maxlen=5))
    failures: list[Failure] = field(default_factory=list)
    skips: list[SkipEntry] = field(default_factory=list)
    skip_reasons: Counter[str] = field(default_factory=Counter)
    error_kinds: Counter[str] = field(default_factory=Counter)
    by_type: dict[str, TypeCounts] = field(default_factory=dict)
    durations: Histogram = field(default_factory=Histogram)
    # Seconds per stage, by document type: report percentiles per type and, merged, per stage.
    stage_times: dict[str, dict[str, Histogram]] = field(default_factory=dict)
    stage_totals: dict[str, Histogram] = field(default_factory=dict)  # the same, all types together
    slowest: list[SlowDocument] = field(default_factory=list)
    peak_worker_rss_bytes: int = 0
    retries: int = 0
    batches: int = 0
    largest_batch: int = 0
    timeline: list[TimelinePoint] = field(default_factory=list)
    # What the live view shows of memory: the workers' total RSS at the last sample, and the governor's state.
    workers_rss_bytes: int = 0
    memory_limit_bytes: int | None = None
    throttled: bool = False
    throttled_s: float = 0.0
    # Documents waiting on a backoff timer for their next try: source_id -> when it is due (epoch seconds).
    retry_due: dict[str, float] = field(default_factory=dict)
    executor_info: dict[str, object] = field(default_factory=dict)  # a cluster's workers and dashboard

    @property
    def finished(self) -> int:
        return sum(self.states.values())

    @property
    def new_failures(self) -> int:
        """Documents that failed or died in this run (not those carried over dead from earlier runs)."""
        return self.states[JobState.FAILED.value] + self.states[JobState.DEAD.value] - self.dead_carried_over

    @property
    def bytes_left(self) -> int:
        """Bytes of the discovered documents still to process (queued, running or waiting for a retry)."""
        return max(0, self.discovered_bytes - self.bytes_settled)

    def rates(self) -> Rates:
        return rates(
            self.processed, self.bytes_done, self.bytes_left, time.time() - self.started_at, self.discovery_done
        )

    def on_retry_scheduled(self, source_id: str, delay_s: float) -> None:
        self.retry_due[source_id] = time.time() + delay_s

    def on_retry_due(self, source_id: str) -> None:
        self.retry_due.pop(source_id, None)

    def next_retry_in(self) -> float | None:
        """Seconds until the next document waiting for a retry is due (None: none waits)."""
        return max(0.0, min(self.retry_due.values()) - time.time()) if self.retry_due else None

    def on_discovered(self, document: Document) -> None:
        self.discovered += 1
        self.discovered_bytes += document.size

    def on_skipped(self, skip: Skip) -> None:
        self.discovered += 1
        self._skip(skip.source_id, skip.reason)

    def _skip(self, source_id: str, reason: str) -> None:
        self.states[JobState.SKIPPED.value] += 1
        # Reasons are counted by their general form so that the summary stays short.
        self.skip_reasons[reason.split(":")[0]] += 1
        if len(self.skips) < MAX_SKIPS_LISTED:
            self.skips.append(SkipEntry(source_id=source_id, reason=reason))

    def on_up_to_date(self, document: Document) -> None:
        """Done in an earlier run with the same fingerprint and recipe: not read, not written."""
        self.bytes_settled += document.size
        self._skip(document.source_id, "unchanged since an earlier run")

    def on_still_dead(self, document: Document, error_kind: str, message: str, attempts: int) -> None:
        """Died of a permanent error in an earlier run and unchanged since: reported, not re-tried."""
        self.states[JobState.DEAD.value] += 1
        self.dead_carried_over += 1
        self.bytes_settled += document.size
        self.error_kinds[error_kind] += 1
        failure = Failure(
            source_id=document.source_id,
            path=str(document.path),
            state=JobState.DEAD.value,
            error_kind=error_kind,
            message=f"{message} (from an earlier run; --retry-dead tries again)",
            attempts=attempts,
        )
        self.failures.append(failure)
        self.recent_failures.append(failure)

    def sample(self, workers_rss_bytes: int) -> None:
        """Add a timeline point; past MAX_TIMELINE points every other one is dropped, so a long run
        keeps an even, bounded record."""
        self.workers_rss_bytes = workers_rss_bytes
        self.timeline.append(
            TimelinePoint(
                elapsed_s=round(time.time() - self.started_at, 3),
                finished=self.finished,
                processed=self.processed,
                bytes_done=self.bytes_done,
                active=len(self.active),
                workers_rss_bytes=workers_rss_bytes,
            )
        )
        if len(self.timeline) > MAX_TIMELINE:
            self.timeline = self.timeline[::2]

    def snapshot(self) -> RunSnapshot:
        """Counters for `docbatch status`, published in the ledger while the run goes on."""
        now = time.monotonic()
        active_jobs = [
            ActiveJobStatus(source_id=job.source_id, stage=job.stage, running_s=round(now - job.started_at, 1))
            for job in self.running_jobs()[:MAX_ACTIVE_PUBLISHED]
        ]
        return RunSnapshot(
            discovered=self.discovered,
            discovery_done=self.discovery_done,
            discovered_bytes=self.discovered_bytes,
            processed=self.processed,
            bytes_done=self.bytes_done,
            bytes_left=self.bytes_left,
            pages_done=self.pages_done,
            states=dict(self.states),
            dead_carried_over=self.dead_carried_over,
            active=len(self.active),
            error_kinds=dict(self.error_kinds),
            started_at=self.started_at,
            stages=self.stage_summary(),
            workers_rss_bytes=self.workers_rss_bytes,
            memory_limit_bytes=self.memory_limit_bytes,
            throttled=self.throttled,
            throttled_s=round(self.throttled_s, 1),
            retry_waiting=len(self.retry_due),
            next_retry_at=min(self.retry_due.values()) if self.retry_due else None,
            active_jobs=active_jobs,
            waiting_in_batches=self.waiting_in_batches(),
            executor_info=self.executor_info,
        )

    def running_jobs(self) -> list[ActiveJob]:
        """Jobs a worker is on now (not those waiting in their batch or done with it), oldest first."""
        running = (job for job in list(self.active.values()) if job.stage not in ("queued", "done"))
        return sorted(running, key=lambda job: job.started_at)

    def waiting_in_batches(self) -> int:
        return sum(1 for job in list(self.active.values()) if job.stage == "queued")

    def stage_summary(self) -> dict[str, StageStatus]:
        """Mean, p95 and total per stage so far (what `docbatch status` shows of a live run)."""
        summary = {}
        for stage, histogram in self.stage_totals.items():
            found = histogram.distribution()
            summary[stage] = StageStatus(count=found.count, mean=found.mean, p95=found.p95, total=found.total)
        return summary

    def on_stage(self, source_id: str, stage: str) -> None:
        """A worker reported that a job moved to ``stage``. Called from the executor's listener thread:
        it only sets an attribute of an existing entry."""
        job = self.active.get(source_id)
        if job is not None:
            if job.stage == "queued":
                job.started_at = time.monotonic()
            job.stage = stage

    def on_batch(self, size: int) -> None:
        self.batches += 1
        self.largest_batch = max(self.largest_batch, size)

    def on_started(self, document: Document) -> None:
        self.active[document.source_id] = ActiveJob(document.source_id, document.size, time.monotonic())

    def on_retry(self, record: JobRecord) -> None:
        """A try failed and the document will be tried again: not a final state, so not counted as one."""
        self.active.pop(record.document.source_id, None)
        self.retries += 1
        if record.result.peak_rss_bytes:
            self.peak_worker_rss_bytes = max(self.peak_worker_rss_bytes, record.result.peak_rss_bytes)

    def on_finished(self, record: JobRecord) -> None:
        document, result = record.document, record.result
        self.active.pop(document.source_id, None)
        self.bytes_settled += document.size
        if result.peak_rss_bytes:
            self.peak_worker_rss_bytes = max(self.peak_worker_rss_bytes, result.peak_rss_bytes)
        if result.state is JobState.SKIPPED:
            self._skip(document.source_id, f"unsupported: {result.message}")
            self._count_type(result.kind or document.extension or "unknown", "skipped", document.size, 0)
            return
        self.states[result.state.value] += 1
        self.processed += 1
        self.bytes_done += document.size
        self.durations.add(record.duration_s)
        by_stage = self.stage_times.setdefault(result.kind or document.extension or "unknown", {})
        times = result.times
        for stage, seconds in (
            ("dispatch", times.dispatch_s),
            ("read", times.read_s),
            ("detect", times.detect_s),
            ("extract", times.extract_s),
            ("transform", times.transform_s),
            ("write", times.write_s),
        ):
            for table in (by_stage, self.stage_totals):
                histogram = table.get(stage)
                if histogram is None:
                    histogram = table[stage] = Histogram()
                histogram.add(seconds)
        self._track_slowest(record)
        if result.state is JobState.SUCCEEDED:
            pages = result.pages
            self.pages_done += pages
            self._count_type(result.kind or "unknown", "succeeded", document.size, pages)
            return
        kind = result.error_kind.value if result.error_kind else "internal"
        self.error_kinds[kind] += 1
        self._count_type(result.kind or document.extension or "unknown", "failed", document.size, 0)
        failure = Failure(
            source_id=document.source_id,
            path=str(document.path),
            state=result.state.value,
            error_kind=kind,
            message=result.message or "",
            attempts=record.attempt,
            stderr=result.stderr_tail,
        )
        self.failures.append(failure)
        self.recent_failures.append(failure)

    def _count_type(self, kind: str, outcome: str, size: int, pages: int) -> None:
        counts = self.by_type.setdefault(kind, TypeCounts())
        setattr(counts, outcome, getattr(counts, outcome) + 1)
        counts.bytes += size
        counts.pages += pages

    def _track_slowest(self, record: JobRecord) -> None:
        if len(self.slowest) >= MAX_SLOWEST and record.duration_s <= self.slowest[-1].duration_s:
            return
        self.slowest.append(
            SlowDocument(
                source_id=record.document.source_id,
                duration_s=round(record.duration_s, 6),
                size=record.document.size,
                kind=record.result.kind,
            )
        )
        self.slowest.sort(key=lambda slow: slow.duration_s, reverse=True)
        del self.slowest[MAX_SLOWEST:]
