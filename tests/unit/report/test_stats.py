from docbatch.report.model import Counts
from docbatch.report.stats import distribution, memory_wait, percentile


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([], 0.5) == 0.0


def test_distribution_of_unsorted_values() -> None:
    summary = distribution([3.0, 1.0, 2.0])
    assert (summary.count, summary.p50, summary.max, summary.total, summary.mean) == (3, 2.0, 3.0, 6.0, 2.0)


def test_counts_reconcile_only_when_every_document_is_accounted_for() -> None:
    assert Counts(discovered=5, succeeded=2, skipped=1, failed=1, dead=1).reconciles
    assert not Counts(discovered=5, succeeded=2).reconciles


def test_bottleneck_names_the_largest_stage_with_its_share_and_type() -> None:
    from docbatch.report.stats import find_bottleneck

    found = find_bottleneck({"extract": 6.0, "write": 1.0, "dispatch": 1.0}, {"extract": "pdf"})
    assert found is not None
    stage, share, reason = found
    assert (stage, share) == ("extract", 0.75)
    assert reason.startswith("extract takes 75% of all job time; most of it in pdf documents")
    assert find_bottleneck({"extract": 0.0}, {}) is None


def test_histogram_percentiles_are_within_one_percent_and_totals_exact() -> None:
    import random

    from docbatch.report.stats import Histogram

    rng = random.Random(7)
    values = [rng.lognormvariate(-5, 2) for _ in range(20_000)]
    histogram = Histogram()
    for value in values:
        histogram.add(value)
    exact = distribution(values)
    found = histogram.distribution()
    assert (found.count, found.max) == (exact.count, exact.max)
    assert abs(found.total - exact.total) < 1e-6
    for name in ("p50", "p95", "p99"):
        assert getattr(exact, name) <= getattr(found, name) <= getattr(exact, name) * 1.0101, name


def test_histogram_merge_equals_one_histogram_of_everything() -> None:
    from docbatch.report.stats import Histogram

    left, right, both = Histogram(), Histogram(), Histogram()
    for index, value in enumerate([0.001 * n for n in range(1, 500)]):
        (left if index % 2 else right).add(value)
        both.add(value)
    left.merge(right)
    assert left.distribution() == both.distribution()
    assert Histogram().distribution().count == 0


def test_time_waiting_for_memory_is_named_as_its_own_thing_with_advice_when_it_held_the_run_back() -> None:
    assert memory_wait(0.0, 10.0, 0) is None
    brief = memory_wait(1.0, 10.0, 1)
    assert brief is not None and brief.startswith("new jobs waited 1.0 s for memory (10% of the wall time, once)")
    assert "not part of any stage" in brief and "held the run back" not in brief
    long = memory_wait(6.0, 10.0, 3)
    assert long is not None and "(60% of the wall time, 3 times)" in long and "raise --memory-limit" in long
