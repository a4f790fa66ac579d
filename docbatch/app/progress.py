"""The run's live tally as app/ and its callers see it: the one place app/ imports it from the engine."""

from __future__ import annotations

from docbatch.report.progress import ActiveJob, Rates, RunProgress, rates

__all__ = ["ActiveJob", "Rates", "RunProgress", "rates"]
