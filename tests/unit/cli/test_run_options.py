"""`docbatch run`'s options come from the configuration's fields, and a bad value names its origin."""

from __future__ import annotations

import pytest

from docbatch.cli.run_options import RunOption, build_config, run_options
from docbatch.errors import ConfigError

OPTIONS = list(run_options())


def _as_flag(option: RunOption, value: object) -> str:
    return f'{option.flag.long_name} "{value}"' if isinstance(value, str) else option.flag.long_name


def test_values_build_the_configuration_and_absent_ones_keep_the_field_defaults() -> None:
    config = build_config(OPTIONS, {"timeout": "90s", "max_file_size": "1MB", "force": True}, _as_flag)
    assert (config.pool.timeout_s, config.max_file_size_bytes, config.force) == (90.0, 1_000_000, True)
    assert (config.grace_s, config.retries) == (30.0, 2)


def test_every_bad_value_is_named_by_its_origin_on_one_line() -> None:
    with pytest.raises(ConfigError) as raised:
        build_config(OPTIONS, {"timeout": "soon", "priority": ["ok=high", "nolevel"], "concurrency": "0"}, _as_flag)
    assert str(raised.value) == (
        '--concurrency "0": Input should be greater than or equal to 1; '
        '--timeout "soon": invalid duration: use a number with a unit (ms, s, m, h, d), e.g. 90s, 5m, 2h, 3h30m; '
        "--priority \"nolevel\": use GLOB=LEVEL, e.g. 'invoices/*=high'"
    )
