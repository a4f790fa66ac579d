"""What `docbatch prune` may drop: old runs, except those a kept run still needs.

Kept whatever their age: runs still running, the latest run (what `status`, `report` and
`retry-failed` mean by default), and every run a kept run was retried from, up its chain of parents
(its failures are what the retry was about, and `status` names it). The documents table is never
pruned: it is the current state that resume relies on, whatever run last touched a document.
"""

from __future__ import annotations

from dataclasses import dataclass

from docbatch.checkpoint.reader import LedgerReader, RunRow, latest_run, list_runs


@dataclass(frozen=True)
class PrunePlan:
    """``keep``: run ids that stay although they ended before the cutoff; ``drop``: the runs to remove."""

    keep: frozenset[str]
    drop: tuple[RunRow, ...]


def plan_prune(reader: LedgerReader, finished_before: float) -> PrunePlan:
    """The runs that ended before ``finished_before`` (seconds since the epoch), split into those a
    kept run needs and those that can go."""
    rows = {row.run_id: row for row in list_runs(reader, limit=None)}
    old = {run_id for run_id, row in rows.items() if _ended_before(row, finished_before)}
    latest = latest_run(reader)
    needed = [run_id for run_id in rows if run_id not in old]
    if latest is not None:
        needed.append(latest.run_id)
    keep: set[str] = set()
    for run_id in needed:
        # Up the chain of retries: a retry of a retry needs both parents.
        current: str | None = run_id
        while current is not None and current in rows and current not in keep:
            keep.add(current)
            current = rows[current].parent_run_id
    return PrunePlan(keep=frozenset(keep & old), drop=tuple(rows[run_id] for run_id in sorted(old - keep)))


def _ended_before(row: RunRow, cutoff: float) -> bool:
    return row.status != "running" and row.finished_at is not None and row.finished_at < cutoff
