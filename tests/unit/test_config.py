import pytest

from docbatch.config import parse_duration, parse_size
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
