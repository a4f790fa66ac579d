"""Small, dependency-free statistics for the report."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel


class Distribution(BaseModel):
    """Summary of a list of durations in seconds."""

    count: int = 0
    mean: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    max: float = 0.0
    total: float = 0.0


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for an empty list)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def distribution(values: Sequence[float]) -> Distribution:
    if not values:
        return Distribution()
    ordered = sorted(values)
    total = math.fsum(ordered)
    return Distribution(
        count=len(ordered),
        mean=round(total / len(ordered), 6),
        p50=round(percentile(ordered, 0.50), 6),
        p95=round(percentile(ordered, 0.95), 6),
        p99=round(percentile(ordered, 0.99), 6),
        max=round(ordered[-1], 6),
        total=round(total, 6),
    )
