"""Run configuration, declared once: pydantic models whose fields carry their default, their
description (the CLI help), their unit and, as a Flag, the command-line flag and DOCBATCH_* variable
that set them; the `docbatch run` options are generated from these fields (cli/run_options.py).

Each value is parsed once, by the field's validator: durations (`90s`, `3h30m`), sizes (`512MB`,
`75%`), the failure budget, priority rules and the executor URL arrive as text from a flag, a
variable or docbatch.toml and are stored parsed. Precedence: CLI flags > environment (DOCBATCH_*) >
docbatch.toml > defaults. Per-run mutable state never lives here.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from docbatch.errors import ConfigError
from docbatch.units import FailureBudget, parse_duration, parse_size

__all__ = [
    "ConfigFile", "Flag", "FailureBudget", "OutputConfig", "OutputFormat", "PoolConfig", "QueueOrder", "RunConfig",
    "SourceConfig", "default_concurrency", "flag", "load_config_file", "parse_duration", "parse_size",
]  # fmt: skip


def default_concurrency() -> int:
    """The CPUs this process may run on (respects taskset and cgroup affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Flag:
    """How a configuration field is set from outside: its command-line ``names`` (`-j`,
    `--concurrency`; none for the positional PATH), its DOCBATCH_* ``env`` variable, ``default_text``,
    how its default reads in --help when the field's own would not say it well, and ``metavar``, how
    --help names its value when the unit (`_s`: DURATION, `_bytes`: SIZE) or type does not say it."""

    names: tuple[str, ...] = ()
    env: str | None = None
    default_text: str | None = None
    metavar: str | None = None

    @property
    def long_name(self) -> str:
        """`--concurrency`, or `PATH` for the positional argument: how error messages name it."""
        return next((name for name in self.names if name.startswith("--")), "PATH")


def flag(*names: str, env: str | None = None, default_text: str | None = None, metavar: str | None = None) -> Flag:
    return Flag(names=names, env=env, default_text=default_text, metavar=metavar)


def _as_value_error(parse: Callable[[str], object]) -> Callable[[object], object]:
    """A before-validator: text goes through ``parse`` (its ConfigError told as pydantic's ValueError,
    so that the CLI names where the text came from); values of the right type pass as they are."""

    def validate(value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return parse(value)
        except ConfigError as error:
            raise ValueError(str(error)) from None

    return validate


def _priority_rule(rule: object) -> object:
    """`GLOB=LEVEL` -> (glob, priority); pairs (as the ledger records them) pass as they are."""
    from docbatch.discovery.manifest import parse_priority

    if not isinstance(rule, str):
        return rule
    pattern, separator, level = rule.rpartition("=")
    if not separator or not pattern:
        raise ValueError("use GLOB=LEVEL, e.g. 'invoices/*=high'")
    return (pattern, int(parse_priority(level)))  # its ValueError names the level and the known ones


def _runnable_template(template: str) -> str:
    """An --exec template whose program exists: said once before the batch, not once per document."""
    from docbatch.processors.command import parse_template

    try:
        parse_template(template)
    except ConfigError as error:
        raise ValueError(str(error)) from None
    return template


def _executor_url(text: str) -> str:
    from docbatch.executors.registry import parse_executor

    try:
        parse_executor(text)
    except ConfigError as error:
        raise ValueError(str(error)) from None
    return text.strip()


# Seconds, from `90`, `90s`, `5m`, `3h30m` (zero refused) or, OrZero, also `0`.
Duration = Annotated[float, BeforeValidator(_as_value_error(parse_duration))]
DurationOrZero = Annotated[float, BeforeValidator(_as_value_error(lambda text: parse_duration(text, allow_zero=True)))]
# Bytes, from `512MB`, `2GiB`, `100k` or `75%` of this machine's memory.
Size = Annotated[int, BeforeValidator(_as_value_error(parse_size))]
# --max-failures: `50` or `5%`, kept parsed, recorded as written.
Budget = Annotated[FailureBudget, BeforeValidator(_as_value_error(FailureBudget.parse)), PlainSerializer(str)]
PriorityRule = Annotated[tuple[str, int], BeforeValidator(_priority_rule)]
ExecutorUrl = Annotated[str, AfterValidator(_executor_url)]
ExecTemplate = Annotated[str, AfterValidator(_runnable_template)]


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

    paths: Annotated[list[Path], flag(metavar="PATH")] = Field(
        default_factory=list, description="Files or folders to process (walked recursively)."
    )
    manifests: Annotated[list[Path], flag("--manifest", metavar="FILE")] = Field(
        default_factory=list,
        description="Documents listed in a .txt (a path a line), .csv (path,id,priority,options) or .jsonl.",
    )
    include: Annotated[list[str], flag("--include", metavar="GLOB")] = Field(
        default_factory=list, description="Only files matching this glob (repeatable)."
    )
    exclude: Annotated[list[str], flag("--exclude", metavar="GLOB")] = Field(
        default_factory=list, description="Leave out files and folders matching this glob."
    )

    @field_validator("paths", "manifests")
    @classmethod
    def _must_exist(cls, paths: list[Path]) -> list[Path]:
        missing = [str(path) for path in paths if not os.path.lexists(path)]
        if missing:
            raise ValueError(f"no such file or folder: {', '.join(missing)}")
        return paths


class PoolConfig(BaseModel):
    """How many jobs run at once, how long one may take, and in which order they start."""

    model_config = ConfigDict(frozen=True)

    concurrency: Annotated[
        int, flag("-j", "--concurrency", env="DOCBATCH_CONCURRENCY", default_text="number of CPUs")
    ] = Field(default_factory=default_concurrency, ge=1, le=512, description="Parallel jobs.")
    timeout_s: Annotated[Duration, flag("--timeout", env="DOCBATCH_TIMEOUT")] = Field(
        default=120.0, gt=0, description="Per-document limit (90, 90s, 5m); the worker is killed."
    )
    max_jobs_per_worker: Annotated[int, flag("--max-jobs-per-worker")] = Field(
        default=500,
        ge=0,
        description="Recycle a worker after N hand-overs (a document or a batch of short ones); 0: never.",
    )
    queue_size: int = Field(default=1024, ge=1, description="Documents discovered ahead of the workers.")
    order: Annotated[QueueOrder, flag("--order")] = Field(
        default=QueueOrder.DISCOVERY, description="Order within a priority level."
    )
    priority_rules: Annotated[list[PriorityRule], flag("--priority", metavar="GLOB=LEVEL")] = Field(
        default_factory=list,
        description="GLOB=LEVEL (low|normal|high|critical); repeatable; the first glob matching a document wins.",
    )


class OutputConfig(BaseModel):
    """Where and how outputs are written."""

    model_config = ConfigDict(frozen=True)

    root: Annotated[Path, flag("-o", "--output", env="DOCBATCH_OUTPUT", metavar="DIR")] = Field(
        default=Path("docbatch-out"), description="Output folder; the report goes at its top."
    )
    format: Annotated[OutputFormat, flag("--format", "-f")] = Field(
        default=OutputFormat.JSON, description="Output format per document."
    )


class RunConfig(BaseModel):
    """Everything one `docbatch run` needs, validated before the first document is touched."""

    model_config = ConfigDict(frozen=True)

    sources: SourceConfig
    pool: PoolConfig = Field(default_factory=PoolConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    state_dir: Annotated[Path, flag("--state", env="DOCBATCH_STATE", metavar="DIR")] = Field(
        default=Path(".docbatch"), description="Folder of the ledger."
    )
    max_file_size_bytes: Annotated[Size | None, flag("--max-file-size")] = Field(
        default=None, gt=0, description="Larger documents fail as too_large (200MB)."
    )
    processor_override: Annotated[str | None, flag("--processor", metavar="MODULE:FUNCTION")] = Field(
        default=None, description="Use package.module:function for every document."
    )
    exec_template: Annotated[ExecTemplate | None, flag("--exec", metavar="'CMD {in} {out}'")] = Field(
        default=None, description="Run 'CMD {in} {out}' per document (no shell); its output is the text."
    )
    retries: Annotated[int, flag("--retries")] = Field(
        default=2, ge=0, le=100, description="Extra tries for timeout, crash, memory and I/O failures."
    )
    backoff_s: Annotated[DurationOrZero, flag("--backoff")] = Field(
        default=1.0, ge=0, description="First wait before a retry; doubles each time (cap 60s)."
    )
    backoff_cap_s: float = Field(default=60.0, ge=0, description="Longest wait between two tries.")
    memory_limit_bytes: Annotated[Size | None, flag("--memory-limit")] = Field(
        default=None, gt=0, description="Bound on all workers' memory (4GiB or 50%)."
    )
    memory_per_job_bytes: Annotated[Size | None, flag("--memory-per-job")] = Field(
        default=None, gt=0, description="Kill a job whose processes exceed this."
    )
    free_memory_floor_bytes: Annotated[Size | None, flag("--min-free-memory")] = Field(
        default=None, gt=0, description="Pause admission below this free memory."
    )
    grace_s: Annotated[DurationOrZero, flag("--grace")] = Field(
        default=30.0, ge=0, description="After a stop request, how long running jobs may finish."
    )
    max_runtime_s: Annotated[Duration | None, flag("--max-runtime")] = Field(
        default=None, gt=0, description="Stop admitting documents after this long (2h)."
    )
    max_failures: Annotated[Budget | None, flag("--max-failures", metavar="N|N%")] = Field(
        default=None, description="Stop after N failures, or a share (5%)."
    )
    wait_lock_s: Annotated[DurationOrZero, flag("--wait-lock")] = Field(
        default=0.0, ge=0, description="Wait this long for another run's lock (exit 3 after)."
    )
    force: Annotated[bool, flag("--force")] = Field(
        default=False, description="Process every document, even those already done."
    )
    retry_dead: Annotated[bool, flag("--retry-dead")] = Field(
        default=False, description="Try again documents that died of permanent errors."
    )
    verify: Annotated[bool, flag("--verify")] = Field(
        default=False, description="Compare content hashes, not only size and mtime."
    )
    parent_run_id: str | None = Field(default=None, description="The run that retry-failed re-runs.")
    executor: Annotated[ExecutorUrl, flag("--executor", env="DOCBATCH_EXECUTOR", metavar="URL")] = Field(
        default="local", description="Where jobs run: local, dask://HOST:PORT (a Dask cluster) or dask-local[:N]."
    )
    command: list[str] = Field(default_factory=list, description="The command line, recorded in the report.")

    @model_validator(mode="after")
    def _one_processor_choice(self) -> RunConfig:
        if self.exec_template and self.processor_override:
            raise ValueError("--exec and --processor cannot be used together")
        return self

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
