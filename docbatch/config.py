"""Run configuration: pydantic models whose descriptions double as CLI help, and unit parsing.

Precedence: CLI flags > environment (DOCBATCH_*) > defaults. Per-run mutable state never lives here.
"""

from __future__ import annotations

import enum
import os
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from docbatch.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "kib": 1024,
    "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gib": 1024**3,
    "t": 1000**4, "tb": 1000**4, "tib": 1024**4,
}  # fmt: skip


def parse_duration(text: str) -> float:
    """Seconds from '90', '90s', '5m', '2h', '1d' or '250ms'; raises ConfigError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"invalid duration {text!r}: use a number with an optional unit, e.g. 90s, 5m, 2h")
    number, unit = match.groups()
    seconds = float(number) * _DURATION_UNITS[(unit or "s").lower()]
    if seconds <= 0:
        raise ConfigError(f"invalid duration {text!r}: it must be greater than zero")
    return seconds


def parse_size(text: str) -> int:
    """Bytes from '512MB', '2GiB', '100k', a plain number, or '75%' of this machine's memory."""
    if text.strip().endswith("%"):
        import psutil

        try:
            share = float(text.strip()[:-1]) / 100
        except ValueError:
            share = -1.0
        if not 0 < share <= 1:
            raise ConfigError(f"invalid size {text!r}: a share of memory is between 0% and 100%")
        return int(psutil.virtual_memory().total * share)
    match = _SIZE.match(text)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ConfigError(f"invalid size {text!r}: use a number with an optional unit, e.g. 512MB, 2GiB")
    number, unit = match.groups()
    return int(float(number) * _SIZE_UNITS[unit.lower()])


def default_concurrency() -> int:
    """The CPUs this process may run on (respects taskset and cgroup affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class QueueOrder(enum.StrEnum):
    """Order of documents within one priority level, among those queued at the time."""

    DISCOVERY = "discovery"
    SIZE_ASC = "size-asc"
    SIZE_DESC = "size-desc"  # largest first shortens the tail of a run


class OutputFormat(enum.StrEnum):
    """Shape of the per-document output."""

    JSON = "json"
    MD = "md"
    TXT = "txt"
    JSONL = "jsonl"


class SourceConfig(BaseModel):
    """What to process and what to leave out."""

    model_config = ConfigDict(frozen=True)

    paths: list[Path] = Field(default_factory=list, description="Files or folders, walked recursively.")
    manifests: list[Path] = Field(default_factory=list, description="Plain-list, CSV or JSONL manifests.")
    include: list[str] = Field(default_factory=list, description="Only files matching one of these globs.")
    exclude: list[str] = Field(default_factory=list, description="Leave out files matching these globs.")

    @field_validator("paths", "manifests")
    @classmethod
    def _must_exist(cls, paths: list[Path]) -> list[Path]:
        missing = [str(path) for path in paths if not os.path.lexists(path)]
        if missing:
            raise ValueError(f"no such file or folder: {', '.join(missing)}")
        return paths


class PoolConfig(BaseModel):
    """How many jobs run at once and how long one may take."""

    model_config = ConfigDict(frozen=True)

    concurrency: int = Field(default_factory=default_concurrency, ge=1, le=512, description="Parallel jobs.")
    timeout_s: float = Field(
        default=120.0, gt=0, description="Seconds one document may take before its worker is killed."
    )
    max_jobs_per_worker: int = Field(
        default=500, ge=0, description="Recycle a worker after this many hand-overs, a document or a batch (0: never)."
    )
    queue_size: int = Field(default=1024, ge=1, description="Documents discovered ahead of the workers.")
    order: QueueOrder = Field(default=QueueOrder.DISCOVERY, description="Order within a priority level.")
    priority_rules: list[tuple[str, int]] = Field(
        default_factory=list, description="(glob, priority) pairs; the first glob matching a document's id wins."
    )


class OutputConfig(BaseModel):
    """Where and how outputs are written."""

    model_config = ConfigDict(frozen=True)

    root: Path = Field(default=Path("docbatch-out"), description="Output folder; the report goes at its top.")
    format: OutputFormat = OutputFormat.JSON


class RunConfig(BaseModel):
    """Everything one `docbatch run` needs, validated before the first document is touched."""

    model_config = ConfigDict(frozen=True)

    sources: SourceConfig
    pool: PoolConfig = Field(default_factory=PoolConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    state_dir: Path = Field(default=Path(".docbatch"), description="Folder holding the ledger.")
    max_file_size_bytes: int | None = Field(
        default=None, gt=0, description="Documents larger than this fail as too_large."
    )
    processor_override: str | None = Field(
        default=None,
        description="module:function used for every document instead of the built-in processors.",
    )
    exec_template: str | None = Field(default=None, description="'CMD {in} {out}' run for every document.")
    retries: int = Field(
        default=2, ge=0, le=100, description="Extra tries for timeouts, crashes, memory and I/O errors."
    )
    backoff_s: float = Field(default=1.0, ge=0, description="Base of the exponential backoff between tries.")
    backoff_cap_s: float = Field(default=60.0, ge=0, description="Longest wait between two tries.")
    memory_limit_bytes: int | None = Field(default=None, gt=0, description="Bound on the RSS of all workers together.")
    memory_per_job_bytes: int | None = Field(default=None, gt=0, description="Bound on one job's process tree.")
    free_memory_floor_bytes: int | None = Field(default=None, gt=0, description="Throttle below this free memory.")
    grace_s: float = Field(default=30.0, ge=0, description="Seconds running jobs get to finish after a stop request.")
    max_runtime_s: float | None = Field(default=None, gt=0, description="Stop admitting documents after this long.")
    max_failures: str | None = Field(default=None, description="Stop after this many failures (50) or this share (5%).")
    wait_lock_s: float = Field(default=0.0, ge=0, description="Wait this long for another run's lock before giving up.")
    force: bool = Field(default=False, description="Process every document, even those already done.")
    retry_dead: bool = Field(default=False, description="Process again documents that died of a permanent error.")
    verify: bool = Field(default=False, description="Compare content hashes, not only size and mtime, before skipping.")
    parent_run_id: str | None = Field(default=None, description="The run that retry-failed re-runs.")
    executor: str = Field(default="local", description="local, dask://HOST:PORT or dask-local[:N].")
    command: list[str] = Field(default_factory=list, description="The command line, recorded in the report.")

    def recipe_options(self) -> dict[str, str | int | None]:
        """Options that change what a document's output holds (part of the recipe hash)."""
        return {
            "format": self.output.format.value,
            "processor_override": self.processor_override,
            "exec": self.exec_template,
        }


CONFIG_FILE = "docbatch.toml"
# Option names whose Python parameter is spelled differently (to avoid shadowing a builtin).
_PARAMETER_ALIASES = {"format": "fmt"}


def load_config_file(path: Path | None = None) -> dict[str, dict[str, object]]:
    """Per-command defaults from docbatch.toml (or $DOCBATCH_CONFIG): `[run]` holds option names as
    spelled on the command line without dashes (`timeout = "5m"`, `max-file-size = "200MB"`).
    Flags and DOCBATCH_* variables still win over it. A missing file means no defaults."""
    import tomllib

    path = path or Path(os.environ.get("DOCBATCH_CONFIG", CONFIG_FILE))
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read configuration: {error}") from error
    defaults: dict[str, dict[str, object]] = {}
    for command, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{command}] must be a table of options")
        options = {key.replace("-", "_"): value for key, value in table.items()}
        defaults[command] = {_PARAMETER_ALIASES.get(name, name): value for name, value in options.items()}
    return defaults
