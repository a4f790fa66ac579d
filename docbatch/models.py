"""Typed records passed between the stages of a run: discovery, pool, executor, writer, ledger, report."""

from __future__ import annotations

import enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class ErrorKind(enum.StrEnum):
    """Why a document failed. Permanent kinds go straight to dead; the others may be retried."""

    CORRUPT = "corrupt"
    ENCRYPTED = "encrypted"
    UNSUPPORTED = "unsupported"
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    CRASH = "crash"
    IO = "io"
    INTERNAL = "internal"
    # A --processor function or a plugin raised: a fault or limit of that code, not proven to be
    # the document's (`corrupt` would say so). Permanent: the same code fails the same way again.
    PROCESSOR = "processor"
    # Its output file already belongs to another source document (two inputs mapping to one output,
    # or another run's document): never overwritten. Permanent until the inputs or -o change.
    COLLISION = "collision"

    @property
    def is_permanent(self) -> bool:
        """True when trying again cannot help: the document itself, or the code reading it, is the problem."""
        return self in _PERMANENT_KINDS


_PERMANENT_KINDS = frozenset(
    {
        ErrorKind.CORRUPT,
        ErrorKind.ENCRYPTED,
        ErrorKind.UNSUPPORTED,
        ErrorKind.EMPTY,
        ErrorKind.TOO_LARGE,
        ErrorKind.PROCESSOR,
        ErrorKind.COLLISION,
    }
)


class JobState(enum.StrEnum):
    """A document's state in the ledger (see ARCHITECTURE.md, "The ledger")."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # a retryable error; may be tried again
    DEAD = "dead"  # a permanent error, or attempts used up
    SKIPPED = "skipped"  # never processed, with a reason
    CANCELLED = "cancelled"  # interrupted; resumable


class Priority(enum.IntEnum):
    """Scheduling level; a larger value starts first."""

    LOW = 0
    NORMAL = 1
    HIGH = 2
    CRITICAL = 3


class Document(BaseModel):
    """One input file found by discovery, before any of its bytes are read."""

    model_config = ConfigDict(frozen=True)

    source_id: str = Field(description="Identity in the ledger: path relative to its root, or the manifest id.")
    path: Path
    size: int
    mtime_ns: int
    priority: Priority = Priority.NORMAL
    options: dict[str, JsonValue] = Field(default_factory=dict)

    @property
    def extension(self) -> str:
        """Lower-case extension without the dot ('' when there is none)."""
        return self.path.suffix.lower().lstrip(".")


class Skip(BaseModel):
    """A file discovery found but will not process, with the reason recorded in the ledger."""

    model_config = ConfigDict(frozen=True)

    source_id: str
    path: Path
    reason: str


class Page(BaseModel):
    """Text of one page, slide, sheet or chapter; numbered from 1."""

    number: int
    text: str
    label: str | None = None
    markdown: str | None = Field(
        default=None,
        description="The page as Markdown when the format has structure (tables, headings); not part of JSON outputs.",
    )


class Extraction(BaseModel):
    """What a processor returns for one document; the writer turns it into the output file."""

    kind: str = Field(description="Detected document type, e.g. 'pdf' or 'docx'.")
    title: str | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    pages: list[Page] = Field(default_factory=list)
    text: str = ""
    warnings: list[str] = Field(default_factory=list)
    markdown: str | None = Field(
        default=None,
        description="The whole document as Markdown when the processor knows its structure and it has no pages; "
        "the `--format md` writer prefers it (or the pages' markdown) to the plain text.",
    )

    @classmethod
    def from_pages(
        cls,
        kind: str,
        pages: list[Page],
        *,
        title: str | None = None,
        metadata: dict[str, JsonValue] | None = None,
        warnings: list[str] | None = None,
    ) -> Extraction:
        """Build an extraction whose full text is its pages joined by blank lines."""
        text = "\n\n".join(page.text for page in pages if page.text)
        return cls(kind=kind, title=title, metadata=metadata or {}, pages=pages, text=text, warnings=warnings or [])


class StageTimes(BaseModel):
    """Seconds spent in each stage of one job. ``dispatch_s`` is the rest of the job's duration (queueing
    for a worker, moving the job and its result between processes), so the stages add up to it."""

    dispatch_s: float = 0.0
    read_s: float = 0.0
    detect_s: float = 0.0
    extract_s: float = 0.0
    transform_s: float = 0.0
    write_s: float = 0.0

    def settle_dispatch(self, duration_s: float) -> None:
        measured = self.read_s + self.detect_s + self.extract_s + self.transform_s + self.write_s
        self.dispatch_s = max(0.0, duration_s - measured)


class JobSpec(BaseModel):
    """Everything a worker needs to process one document; workers read the file themselves."""

    source_id: str
    path: str
    size: int
    options: dict[str, JsonValue] = Field(default_factory=dict)
    processor_override: str | None = None
    exec_template: str | None = None
    token: str | None = Field(default=None, description="Set by an executor to follow the job to its worker.")
    priority: int = Field(default=1, description="The document's Priority level (0 low .. 3 critical), for brokers.")


class JobBatch(BaseModel):
    """Jobs handed to one worker together. Short jobs travel in batches so that the cost of moving a job
    between processes is shared; long ones travel alone. Each job keeps its own deadline."""

    specs: list[JobSpec]
    output_root: str | None = Field(
        default=None, description="Where the worker writes each output; None returns extractions instead."
    )
    output_format: str = "json"
    announce_stages: bool = Field(
        default=False, description="Report every stage change, not only the start (worth it for long jobs)."
    )


class JobResult(BaseModel):
    """What came back from a worker for one job: an extraction, a skip reason or an error."""

    source_id: str
    state: JobState
    kind: str | None = None
    processor: str | None = None
    processor_version: str | None = None
    sha256: str | None = None
    extraction: Extraction | None = None
    error_kind: ErrorKind | None = None
    message: str | None = None
    pid: int | None = None
    peak_rss_bytes: int | None = None
    times: StageTimes = Field(default_factory=StageTimes)
    output_path: str | None = Field(default=None, description="Set when the worker wrote the output itself.")
    environment: str | None = Field(
        default=None,
        description="Set when the machine, not the document, failed the job (its output could not be written: "
        "disk full, read-only file system): the job is pending again and the run stops.",
    )
    pages: int = 0
    started_at: float = Field(default=0.0, description="Wall clock in the worker when the job began (0: unknown).")
    queued_s: float = Field(
        default=0.0, description="Set on a batch's first result: how long the batch waited for a free worker."
    )
    finished_at: float = 0.0
    stderr_tail: str | None = Field(
        default=None, description="The last meaningful lines the job wrote to stderr (at most 2 KiB), if any."
    )
    stderr_bytes: int = Field(default=0, description="How many bytes the job wrote to stderr in all.")


class JobRecord(BaseModel):
    """A finished job as the runner sees it: the result plus where its output went and how long it took."""

    document: Document
    result: JobResult
    attempt: int
    started_at: float
    finished_at: float
    output_path: str | None = None

    @property
    def duration_s(self) -> float:
        return self.finished_at - self.started_at


class ActiveJobStatus(BaseModel):
    """A job a worker is on, as `docbatch status` and the heartbeat show it."""

    source_id: str
    stage: str = Field(description="read, detect, extract, transform, write; `started` before the first heartbeat.")
    running_s: float = Field(description="Seconds since a worker started it.")


class StageStatus(BaseModel):
    """Seconds the jobs of a run spent in one stage so far."""

    count: int = 0
    mean: float = 0.0
    p95: float = 0.0
    total: float = 0.0


class RunSnapshot(BaseModel):
    """The live counters a run publishes in its ledger row about once a second and at its end (what
    `docbatch status` reads from another process). Rows written by older versions lack some counters:
    those fields are None, and readers fall back as the field says."""

    model_config = ConfigDict(extra="ignore")

    discovered: int = 0
    discovery_done: bool | None = Field(default=None, description="None in old rows: whether the run finished.")
    discovered_bytes: int = 0
    processed: int | None = Field(default=None, description="None in old rows: finished minus skipped.")
    bytes_done: int = 0
    bytes_left: int | None = Field(default=None, description="None in old rows: discovered minus done bytes.")
    pages_done: int = 0
    states: dict[str, int] = Field(default_factory=dict)
    dead_carried_over: int = 0
    active: int = 0
    error_kinds: dict[str, int] = Field(default_factory=dict)
    started_at: float = 0.0
    stages: dict[str, StageStatus] = Field(default_factory=dict)
    workers_rss_bytes: int = 0
    memory_limit_bytes: int | None = None
    throttled: bool = False
    throttled_s: float = 0.0
    retry_waiting: int = 0
    next_retry_at: float | None = Field(default=None, description="Epoch seconds the next retry is due.")
    active_jobs: list[ActiveJobStatus] | None = Field(default=None, description="None before the first heartbeat.")
    waiting_in_batches: int = 0
    executor_info: dict[str, object] = Field(default_factory=dict)


class MemoryStatus(BaseModel):
    workers_rss_bytes: int = 0
    limit_bytes: int | None = None
    throttled: bool = False
    throttled_s: float = 0.0


class RunStatus(BaseModel):
    """How one run is doing, as `docbatch status` (and `--json`) shows it: a live run from its last
    heartbeat, a finished or crashed one from its final row."""

    run_id: str
    parent_run_id: str | None = None
    status: str = Field(description="running, finished, interrupted, cancelled, failed or crashed.")
    exit_code: int | None = None
    executor: str | None = None
    executor_info: dict[str, object] = Field(default_factory=dict)
    command: str | None = None
    started_at: float
    elapsed_s: float
    discovered: int
    discovery_done: bool
    finished: int
    states: dict[str, int]
    pending: int = Field(description="Queued, running or waiting for a retry; once stopped, left for the next run.")
    processed: int
    docs_per_s: float
    mb_per_s: float
    eta_s: float | None = None
    retry_waiting: int = 0
    next_retry_in_s: float | None = None
    active: list[ActiveJobStatus] = Field(default_factory=list)
    waiting_in_batches: int = 0
    stages: dict[str, StageStatus] = Field(default_factory=dict)
    memory: MemoryStatus = Field(default_factory=MemoryStatus)
    error_kinds: dict[str, int] = Field(default_factory=dict)
    output_dir: str
    report: str = Field(description="The run's report file (where it will be, while the run goes on).")
    ledger: str
    heartbeat_age_s: float | None = None
