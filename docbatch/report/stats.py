"""Small, dependency-free statistics for the report."""

from __future__ import annotations

import bisect
import math
from array import array
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


_ADVICE = {
    "extract": "parsing dominates: more cores (-j, a cluster) or a faster library help; orchestration does not",
    "read": "reading files dominates: the storage is the limit (network share? cold cache?)",
    "write": "writing outputs dominates: the output folder's storage is the limit",
    "transform": "rendering outputs dominates: a smaller --format (txt) helps",
    "dispatch": "time between jobs and workers dominates: the documents are tiny or the workers are starved",
    "detect": "type detection dominates: unusual for real documents",
}


def find_bottleneck(totals: dict[str, float], busiest_type: dict[str, str]) -> tuple[str, float, str] | None:
    """(stage, share of all job time, one-line reason) for the stage with the largest total."""
    whole = math.fsum(totals.values())
    if whole <= 0:
        return None
    stage = max(totals, key=lambda name: totals[name])
    share = totals[stage] / whole
    where = f"; most of it in {busiest_type[stage]} documents" if stage in busiest_type else ""
    reason = f"{stage} takes {share:.0%} of all job time{where}: {_ADVICE.get(stage, '')}".rstrip(": ")
    return stage, round(share, 4), reason


def memory_wait(throttled_s: float, wall_s: float, events: int) -> str | None:
    """One line on the time new jobs waited for memory (None when they never did). That wait happens
    before a job starts, so it is in no stage: without this line it would go unseen."""
    if throttled_s <= 0:
        return None
    share = throttled_s / wall_s if wall_s > 0 else 0.0
    times = "once" if events == 1 else f"{events} times"
    advice = (
        ": the memory options held the run back (raise --memory-limit, or lower -j to match it)"
        if share >= 0.25
        else ""
    )
    return (
        f"new jobs waited {throttled_s:.1f} s for memory ({share:.0%} of the wall time, {times}) under "
        f"--memory-limit or --min-free-memory; this wait is not part of any stage{advice}"
    )


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


_GROWTH = 1.01  # bucket width: percentiles are exact to within 1 %
_FLOOR_S = 1e-6
_BUCKETS = int(math.log(86400 / _FLOOR_S, _GROWTH)) + 2  # 1 µs .. one day
# Upper edge of each bucket; bucket 0 holds everything up to the floor.
_EDGES = [_FLOOR_S * _GROWTH**index for index in range(_BUCKETS - 1)]


class Histogram:
    """Durations kept as counts in logarithmic buckets: constant memory however many jobs a run has
    (a million jobs in six stages would otherwise hold 48 MB of floats), percentiles within 1 %, and
    count, total and max exact."""

    __slots__ = ("_counts", "count", "maximum", "total")

    def __init__(self) -> None:
        self._counts: array[int] = array("q", bytes(8 * _BUCKETS))
        self.count = 0
        self.total = 0.0
        self.maximum = 0.0

    def add(self, seconds: float) -> None:
        index = bisect.bisect_left(_EDGES, seconds)
        self._counts[index] += 1
        self.count += 1
        self.total += seconds
        self.maximum = max(self.maximum, seconds)

    def merge(self, other: Histogram) -> None:
        for index, count in enumerate(other._counts):
            if count:
                self._counts[index] += count
        self.count += other.count
        self.total += other.total
        self.maximum = max(self.maximum, other.maximum)

    def percentile(self, fraction: float) -> float:
        """Nearest-rank percentile: the upper edge of the bucket holding that rank, never above the max."""
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(fraction * self.count))
        seen = 0
        for index, count in enumerate(self._counts):
            seen += count
            if seen >= rank:
                return min(_EDGES[index] if index < len(_EDGES) else self.maximum, self.maximum)
        return self.maximum

    def distribution(self) -> Distribution:
        if not self.count:
            return Distribution()
        return Distribution(
            count=self.count,
            mean=round(self.total / self.count, 6),
            p50=round(self.percentile(0.50), 6),
            p95=round(self.percentile(0.95), 6),
            p99=round(self.percentile(0.99), 6),
            max=round(self.maximum, 6),
            total=round(self.total, 6),
        )
