import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from docbatch.config import FailureBudget, RunConfig, parse_duration, parse_size
from docbatch.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("250ms", 0.25),
        ("1.5m", 90.0),
        ("1.5h", 5400.0),
        ("3h30m", 12600.0),
        ("1h 5m", 3900.0),
        ("1h30m15s", 5415.0),
        ("1d 2H", 93600.0),
    ],
)
def test_parses_durations_with_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "5 minutes", "-3s", "0", "3h30", "30m3h", "1h1h", "1h x", "h"])
def test_rejects_bad_durations_with_a_hint(text: str) -> None:
    with pytest.raises(ConfigError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"), [("512MB", 512_000_000), ("2GiB", 2 * 1024**3), ("100k", 100_000), ("4096", 4096)]
)
def test_parses_sizes_with_units(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_rejects_bad_sizes() -> None:
    with pytest.raises(ConfigError, match="invalid size"):
        parse_size("12 parsecs")


def test_zero_is_a_duration_only_where_allowed() -> None:
    assert parse_duration("0s", allow_zero=True) == 0.0
    with pytest.raises(ConfigError, match="greater than zero"):
        parse_duration("0s")


def test_values_typed_as_text_are_parsed_once_by_the_configuration_and_recorded_parsed(tmp_path: Path) -> None:
    config = RunConfig.model_validate(
        {
            "sources": {},
            "pool": {"timeout_s": "5m", "concurrency": "3", "priority_rules": ["invoices/*=high"]},
            "grace_s": "0",
            "max_runtime_s": "3h30m",
            "memory_limit_bytes": "2GiB",
            "max_failures": "5%",
            "executor": " dask-local:2 ",
        }
    )
    assert (config.pool.timeout_s, config.pool.concurrency, config.pool.priority_rules) == (
        300.0,
        3,
        [("invoices/*", 2)],
    )
    assert (config.grace_s, config.max_runtime_s, config.memory_limit_bytes) == (0.0, 12600.0, 2 * 1024**3)
    assert config.max_failures == FailureBudget(share=0.05) and config.executor == "dask-local:2"
    recorded = config.model_dump_json()  # what the ledger keeps, and retry-failed reads back
    assert '"max_failures":"5%"' in recorded
    assert RunConfig.model_validate_json(recorded) == config


@pytest.mark.parametrize(
    ("field", "text", "problem"),
    [
        ("timeout_s", "soon", "invalid duration 'soon'"),
        ("max_failures", "0", "invalid --max-failures '0'"),
        ("executor", "ftp://x", "use local, dask://HOST:PORT"),
        ("exec_template", "no-such-tool-here {in}", "no program 'no-such-tool-here' on PATH"),
    ],
)
def test_a_bad_value_is_refused_with_what_to_type_instead(field: str, text: str, problem: str) -> None:
    data: dict[str, object] = {"sources": {}, field: text}
    if field == "timeout_s":
        data = {"sources": {}, "pool": {field: text}}
    with pytest.raises(ValidationError, match=re.escape(problem)):
        RunConfig.model_validate(data)


def test_exec_and_processor_together_are_refused() -> None:
    with pytest.raises(ValidationError, match="--exec and --processor cannot be used together"):
        RunConfig.model_validate({"sources": {}, "exec_template": "cat {in}", "processor_override": "a.b:c"})


def test_every_run_flag_is_declared_once_on_a_configuration_field() -> None:
    from docbatch.cli.run_options import run_options

    declared = {option.flag.long_name for option in run_options()}
    assert {"--timeout", "--concurrency", "--max-file-size", "--executor", "--priority", "--output"} <= declared
    assert len(declared) == len(list(run_options()))  # no flag set by two fields
