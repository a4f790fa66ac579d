import random

import pytest

from docbatch.engine.retry import compute_backoff, is_retryable
from docbatch.models import ErrorKind


def test_backoff_bound_doubles_then_stops_at_the_cap() -> None:
    class Highest(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    bounds = [compute_backoff(attempt, 1.0, 10.0, Highest()) for attempt in range(1, 7)]
    assert bounds == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_backoff_has_full_jitter_between_zero_and_the_bound() -> None:
    rng = random.Random(7)
    draws = [compute_backoff(3, 1.0, 60.0, rng) for _ in range(2000)]
    assert all(0.0 <= draw <= 4.0 for draw in draws)
    assert min(draws) < 0.2 and max(draws) > 3.8  # spread over the whole range, not clustered


def test_backoff_rejects_an_attempt_below_one() -> None:
    with pytest.raises(ValueError):
        compute_backoff(0, 1.0, 10.0)


@pytest.mark.parametrize(
    ("kind", "retryable"),
    [(ErrorKind.TIMEOUT, True), (ErrorKind.CRASH, True), (ErrorKind.MEMORY, True), (ErrorKind.IO, True),
     (ErrorKind.CORRUPT, False), (ErrorKind.ENCRYPTED, False), (ErrorKind.EMPTY, False), (None, False)],
)  # fmt: skip
def test_only_transient_and_resource_kinds_are_retried(kind: ErrorKind | None, retryable: bool) -> None:
    assert is_retryable(kind) is retryable
