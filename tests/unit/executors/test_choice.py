import pytest

from docbatch.errors import ConfigError
from docbatch.executors.choice import parse_executor


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("local", ("local", None, None)),
        ("dask://scheduler:8786", ("dask", "tcp://scheduler:8786", None)),
        ("tcp://10.0.0.5:8786", ("dask", "tcp://10.0.0.5:8786", None)),
        ("dask-local", ("dask-local", None, None)),
        ("dask-local:4", ("dask-local", None, 4)),
    ],
)
def test_executor_addresses(text: str, parsed: tuple[str, str | None, int | None]) -> None:
    assert parse_executor(text) == parsed


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("dask://scheduler", "give the scheduler's port"),
        ("dask-local:0", "a worker count of 1 or more"),
        ("dask-local:x", "a worker count of 1 or more"),
        ("ray://head:10001", "use local, dask://HOST:PORT or dask-local[:N]"),
    ],
)
def test_bad_executors_are_usage_errors_with_a_hint(text: str, hint: str) -> None:
    with pytest.raises(ConfigError, match="--executor") as raised:
        parse_executor(text)
    assert hint in str(raised.value)
