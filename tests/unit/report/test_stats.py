from docbatch.report.model import Counts
from docbatch.report.stats import distribution, percentile


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
