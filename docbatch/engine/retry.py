"""Which failures are tried again, and when: a pure backoff function with full jitter and a cap."""

from __future__ import annotations

import random

from docbatch.models import ErrorKind


def is_retryable(kind: ErrorKind | None) -> bool:
    """Transient and resource errors may succeed on another try; a document's own defects never will."""
    return kind is not None and not kind.is_permanent


def compute_backoff(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before try number ``attempt + 1``, after ``attempt`` failed tries (1, 2, ...).

    Exponential (base, 2 x base, 4 x base, ...) up to ``cap_s``, with full jitter: a uniform draw
    between 0 and that bound, so that documents failing together do not come back together.
    """
    if attempt < 1:
        raise ValueError("attempt counts failed tries and starts at 1")
    bound = min(cap_s, base_s * 2 ** (attempt - 1))
    return (rng or random).uniform(0.0, bound)
