"""The run's live tally (report/progress.py) as app/'s callers see it, so that cli/ needs no import
below app/ for it."""

from __future__ import annotations

from docbatch.report.progress import ActiveJob, Rates, RunProgress, rates

__all__ = ["ActiveJob", "Rates", "RunProgress", "rates"]
