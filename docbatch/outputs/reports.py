"""Where run reports go: each run's own file, never overwritten by another run, and the latest
`docbatch run`'s report at the top of the output folder where people and scripts look first.

    <output>/reports/<run id>.json   every run, retries included (the ledger's report path)
    <output>/report.json             a copy of the latest plain `docbatch run`'s report
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from docbatch.outputs.paths import REPORT_NAME
from docbatch.outputs.writers import write_atomic

RUN_REPORTS_FOLDER = "reports"


def run_report_path(root: Path, run_id: str) -> Path:
    """The report file of run ``run_id`` under the output folder ``root``."""
    return root / RUN_REPORTS_FOLDER / f"{run_id}.json"


def write_run_report(root: Path, run_id: str, data: bytes, *, latest: bool) -> Path:
    """Write a run's report (JSON bytes) atomically to its own file and, when ``latest`` (a plain
    run, not a retry), to `<root>/report.json` too. Returns the run's own file. Raises OSError."""
    own = run_report_path(root, run_id)
    write_atomic(own, data)
    if latest:
        write_atomic(root / REPORT_NAME, data)
    return own


def remove_run_report(run_id: str, report_path: str | None) -> int:
    """Delete a pruned run's own report (`reports/<run id>.json`) and the `.html` rendered beside it;
    never `report.json` nor a file that is not provably that run's own. Returns the files removed."""
    if not report_path:
        return 0
    own = Path(report_path)
    if own.name != f"{run_id}.json" or own.parent.name != RUN_REPORTS_FOLDER:
        return 0
    removed = 0
    for path in (own, own.with_suffix(".html")):
        with contextlib.suppress(OSError):  # gone already, or not ours to delete: the ledger still prunes
            path.unlink()
            removed += 1
    return removed
