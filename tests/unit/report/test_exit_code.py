"""The exit code a run ends with, from its status and counts (README, "Exit codes")."""

from docbatch.errors import ExitCode
from docbatch.report.build import exit_code_for
from docbatch.report.model import Counts


def test_dead_documents_carried_over_alone_end_6_and_fresh_failures_1() -> None:
    carried = Counts(discovered=3, succeeded=2, dead=1, dead_carried_over=1)
    assert exit_code_for("finished", carried) is ExitCode.KNOWN_FAILURES_ONLY
    fresh_dead = Counts(discovered=4, succeeded=2, dead=2, dead_carried_over=1)
    assert exit_code_for("finished", fresh_dead) is ExitCode.DOCUMENTS_FAILED
    fresh_failed = Counts(discovered=4, succeeded=2, failed=1, dead=1, dead_carried_over=1)
    assert exit_code_for("finished", fresh_failed) is ExitCode.DOCUMENTS_FAILED
    assert exit_code_for("finished", Counts(discovered=2, succeeded=1, skipped=1)) is ExitCode.OK


def test_an_environment_failure_is_exit_5_whatever_else_happened() -> None:
    counts = Counts(discovered=3, succeeded=1, failed=1, pending=1)
    assert exit_code_for("interrupted", counts, environment_failed=True) is ExitCode.ENVIRONMENT
    assert exit_code_for("interrupted", counts) is ExitCode.INTERRUPTED


def test_carried_over_dead_documents_are_part_of_dead_and_the_counts_still_reconcile() -> None:
    counts = Counts(discovered=3, succeeded=1, dead=2, dead_carried_over=2)
    assert counts.reconciles and counts.new_failures == 0
