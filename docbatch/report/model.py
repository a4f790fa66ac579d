"""The run report: a versioned schema written as report.json at the top of the output folder."""

from __future__ import annotations

from pydantic import BaseModel, Field, JsonValue

from docbatch.report.stats import Distribution

REPORT_SCHEMA = "docbatch.report/1"


class Counts(BaseModel):
    """Documents by final state in this run; `discovered` is their sum (see `reconciles`).
    `dead_carried_over` is the part of `dead` that died in an earlier run and was reported again
    unchanged, without being tried: `dead - dead_carried_over` died in this run."""

    discovered: int = 0
    succeeded: int = 0
    skipped: int = 0
    failed: int = 0
    dead: int = 0
    dead_carried_over: int = 0
    cancelled: int = 0
    pending: int = 0

    @property
    def new_failures(self) -> int:
        """Documents that failed or died in this run."""
        return self.failed + self.dead - self.dead_carried_over

    @property
    def reconciles(self) -> bool:
        return self.discovered == (
            self.succeeded + self.skipped + self.failed + self.dead + self.cancelled + self.pending
        )


class TypeCounts(BaseModel):
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    bytes: int = 0
    pages: int = 0


class Throughput(BaseModel):
    documents_per_s: float = 0.0
    megabytes_per_s: float = 0.0
    pages_per_s: float = 0.0


class Bottleneck(BaseModel):
    """The stage where the jobs spent most of their time, and why that matters."""

    stage: str
    share: float = Field(description="Share of all job time spent in this stage (0-1).")
    reason: str


class TimelinePoint(BaseModel):
    """One sample of the run's progress, about a second apart."""

    elapsed_s: float
    finished: int
    processed: int | None = None  # of the finished, those a worker processed (not skipped); None in older reports
    bytes_done: int
    active: int
    workers_rss_bytes: int


class Failure(BaseModel):
    source_id: str
    path: str
    state: str
    error_kind: str
    message: str
    attempts: int = 1
    stderr: str | None = Field(
        default=None, description="The last meaningful lines the job wrote to stderr (at most 2 KiB), if any."
    )


class SkipEntry(BaseModel):
    source_id: str
    reason: str


class SlowDocument(BaseModel):
    source_id: str
    duration_s: float
    size: int
    kind: str | None = None


class Resources(BaseModel):
    peak_worker_rss_bytes: int = Field(default=0, description="Largest one job's process tree (or worker) reached.")
    peak_workers_total_bytes: int = Field(default=0, description="Largest RSS of all jobs together (memory governor).")
    free_memory_low_bytes: int | None = Field(default=None, description="Lowest free memory seen (memory governor).")
    throttled_s: float = Field(default=0.0, description="Time admission was paused for memory.")
    throttle_events: int = 0
    pressure_kills: int = Field(default=0, description="Jobs killed and requeued to stay under --memory-limit.")
    coordinator_peak_rss_bytes: int = 0
    cpu_utilisation: float = Field(default=0.0, description="(user+sys of coordinator and workers) / (wall x cores)")


class RunReport(BaseModel):
    """Everything a run did, reconciled. Written at the end and also on interruption."""

    schema_version: str = Field(default=REPORT_SCHEMA, alias="schema")
    run_id: str
    status: str = Field(
        description="finished | interrupted (stopped early, resumable; also when the environment failed) | "
        "cancelled | failed"
    )
    stop_reason: str | None = Field(default=None, description="Why the run stopped early, if it did.")
    exit_code: int
    command: list[str]
    config: dict[str, JsonValue]
    executor: str
    executor_info: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="What the executor said of itself at the end: a broker's workers and queue statistics "
        "(waiting, in_flight, redeliveries, dead_lettered, broker_depth, ...), a Dask cluster's workers.",
    )
    started_at: str
    finished_at: str
    wall_s: float
    counts: Counts
    by_type: dict[str, TypeCounts]
    bytes_processed: int
    pages_processed: int
    throughput: Throughput
    durations: Distribution
    stages: dict[str, Distribution] = Field(description="Per stage; the stages' totals add up to the jobs' total.")
    stages_by_type: dict[str, dict[str, Distribution]] = Field(default_factory=dict)
    bottleneck: Bottleneck | None = None
    slowest: list[SlowDocument]
    failures: list[Failure]
    skipped: list[SkipEntry]
    skip_reasons: dict[str, int]
    error_kinds: dict[str, int]
    retries: int = Field(default=0, description="Tries that failed and were scheduled again.")
    batches: int = Field(default=0, description="Hand-overs to workers (short documents travel together).")
    largest_batch: int = 0
    resources: Resources
    output_dir: str
    ledger: str
    timeline: list[TimelinePoint] = Field(default_factory=list, description="Progress sampled about once a second.")

    model_config = {"populate_by_name": True}
