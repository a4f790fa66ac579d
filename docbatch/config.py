"""Run configuration: pydantic models whose descriptions double as CLI help, and unit parsing.

Precedence: CLI flags > environment (DOCBATCH_*) > defaults. Per-run mutable state never lives here.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from docbatch.errors import ConfigError

# One `<number><unit>` part of a duration; `3h30m` and `1h 5m` are several parts in a row.
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")
# Largest first: a compound duration names each unit once, in this order (`30m3h` is a typo).
_DURATION_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_DURATION_HINT = "use a number with a unit (ms, s, m, h, d), e.g. 90s, 5m, 2h, 3h30m"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "kib": 1024,
    "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gib": 1024**3,
    "t": 1000**4, "tb": 1000**4, "tib": 1024**4,
}  # fmt: skip


def parse_duration(text: str, *, allow_zero: bool = False) -> float:
    """Seconds from a duration: a bare number of seconds (`90`), one part (`90s`, `5m`, `2h`, `1d`,
    `250ms`, `1.5h`) or several, largest unit first, spaces allowed (`3h30m`, `1h 5m`, `1h30m15s`).

    Raises ConfigError naming the text and the accepted forms; zero is refused unless ``allow_zero``.
    """
    seconds = _duration_seconds(text)
    if seconds is None:
        raise ConfigError(f"invalid duration {text!r}: {_DURATION_HINT}")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError(f"invalid duration {text!r}: it must be greater than zero")
    return seconds


def _duration_seconds(text: str) -> float | None:
    """The seconds a well-formed duration stands for, or None when it is not one."""
    bare = _BARE_NUMBER.match(text)
    if bare:
        return float(bare.group(1))
    order = list(_DURATION_UNITS)
    seconds, position, last_rank = 0.0, 0, -1
    while position < len(text):
        part = _DURATION_PART.match(text, position)
        if not part or part.end() == position:
            return None
        unit = part.group(2).lower()
        rank = order.index(unit)
        if rank <= last_rank:  # a unit repeated or out of order
            return None
        seconds += float(part.group(1)) * _DURATION_UNITS[unit]
        position, last_rank = part.end(), rank
    return seconds if last_rank >= 0 else None


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


@dataclass(frozen=True)
class FailureBudget:
    """--max-failures: an absolute count, or a share of finished documents (after a minimum sample)."""

    count: int | None = None
    share: float | None = None
    min_sample: int = 20

    @classmethod
    def parse(cls, text: str) -> FailureBudget:
        """``50`` (a count) or ``5%`` (a share); ConfigError naming the flag otherwise."""
        text = text.strip()
        try:
            if text.endswith("%"):
                share = float(text[:-1]) / 100
                if not 0 < share <= 1:
                    raise ValueError
                return cls(share=share)
            count = int(text)
            if count < 1:
                raise ValueError
            return cls(count=count)
        except ValueError:
            raise ConfigError(f"invalid --max-failures {text!r}: use a count (50) or a share (5%)") from None

    def room(self, failures: int) -> int | None:
        """How many more failures a count budget allows (None: no count). Batches are kept this small,
        so that a run stops close to the budget even when its documents fail fast."""
        return None if self.count is None else max(1, self.count - failures)

    def exceeded(self, failures: int, finished: int) -> bool:
        """Whether ``failures`` (documents that failed or died in this run) is over the budget; a share
        is taken of ``finished`` (documents this run processed to a final state)."""
        if self.count is not None:
            return failures >= self.count
        if self.share is not None:
            return finished >= self.min_sample and failures / finished > self.share
        return False


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

    def with_absolute_paths(self) -> RunConfig:
        """This configuration with every folder and file as an absolute path (from the working
        directory), as the ledger records it: a later `retry-failed`, `status` or `prune` may run from
        anywhere. Symbolic links are kept as given; nothing is checked again."""
        sources = self.sources.model_copy(
            update={
                "paths": [Path(os.path.abspath(path)) for path in self.sources.paths],
                "manifests": [Path(os.path.abspath(path)) for path in self.sources.manifests],
            }
        )
        output = self.output.model_copy(update={"root": Path(os.path.abspath(self.output.root))})
        return self.model_copy(
            update={"sources": sources, "output": output, "state_dir": Path(os.path.abspath(self.state_dir))}
        )

    def recipe_options(self) -> dict[str, str | int | None]:
        """Options that change what a document's output holds (part of the recipe hash)."""
        return {
            "format": self.output.format.value,
            "processor_override": self.processor_override,
            "exec": self.exec_template,
        }


CONFIG_FILE = "docbatch.toml"
CONFIG_ENV = "DOCBATCH_CONFIG"


@dataclass(frozen=True)
class ConfigFile:
    """Per-command defaults read from docbatch.toml, with where each came from.

    ``defaults`` maps a command (`run`) to {parameter name: value as written in the file} (what the
    CLI takes as its default map); ``origins`` maps (command, parameter name) to the text an error
    message quotes, e.g. `docbatch.toml [run] timeout = "5 minutes"`.
    """

    path: Path | None = None
    defaults: dict[str, dict[str, object]] = field(default_factory=dict)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)


def load_config_file(options: Mapping[str, Mapping[str, str]], path: Path | None = None) -> ConfigFile:
    """Per-command defaults from docbatch.toml in the working directory (or the file $DOCBATCH_CONFIG
    names): a table per command (`[run]`) holding options by their long names without the dashes
    (`timeout = "5m"`, `max-file-size = "200MB"`; `max_file_size` works too). Flags and DOCBATCH_*
    variables still win over it.

    ``options`` maps each command to {option name as written in the file: parameter name}. A missing
    docbatch.toml means no defaults; a DOCBATCH_CONFIG naming a missing file, a file that is not
    TOML, an unknown section or an unknown option raise ConfigError naming the file (and the nearest
    known name when there is one).
    """
    path = path or _config_path()
    if path is None:
        return ConfigFile()
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read configuration: {error}") from error
    loaded = ConfigFile(path=path)
    for section, table in data.items():
        if not isinstance(table, dict):
            homes = _homes(section, options)
            where = f": put it under {homes}" if homes else ""
            raise ConfigError(f"{path}: {section} = {_toml_text(table)} is outside any [section]{where}")
        if section not in options:
            raise ConfigError(f"{path}: unknown section [{section}]{_nearest(section, options, '[{}]')}")
        known = options[section]
        for key, value in table.items():
            name = known.get(key)
            if name is None:
                homes = _homes(key, options)
                hint = _nearest(key, _spelled(known), "{}") or (f" (an option of {homes})" if homes else "")
                raise ConfigError(f"{path} [{section}] {key}: unknown option{hint}")
            loaded.defaults.setdefault(section, {})[name] = value
            loaded.origins[(section, name)] = f"{path} [{section}] {key} = {_toml_text(value)}"
    return loaded


def _config_path() -> Path | None:
    """The file to read: $DOCBATCH_CONFIG (which must exist), else ./docbatch.toml if there is one."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.exists():
            raise ConfigError(f"{CONFIG_ENV}={named}: no such file")
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV}={named}: not a file")
        return path
    path = Path(CONFIG_FILE)
    return path if path.is_file() else None


def _spelled(known: Mapping[str, str]) -> list[str]:
    """The documented spellings (dashes), not the underscore variants accepted alongside them."""
    return [key for key in known if "_" not in key]


def _nearest(name: str, candidates: Iterable[str], shape: str) -> str:
    """` (did you mean X?)` for the closest candidate, or nothing when none is close."""
    import difflib

    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {shape.format(close[0])}?)" if close else ""


def _homes(key: str, options: Mapping[str, Mapping[str, str]]) -> str:
    """The sections that do know ``key`` (`[run], [retry-failed]`), or nothing."""
    return ", ".join(f"[{section}]" for section, known in options.items() if key in known)


def _toml_text(value: object) -> str:
    """A value as it would be written in TOML (strings quoted), for error messages."""
    import json

    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)
