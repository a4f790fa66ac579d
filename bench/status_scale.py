"""How fast is `docbatch status` on a ledger of a million jobs, and how large is that ledger?

    uv run python bench/status_scale.py [JOBS]      (default 1,000,000)

Builds a ledger with the real SqliteLedger (one run, a running and a terminal event per job, batches
of 10,000, as the recorder writes them), leaves its run marked live with a fresh heartbeat and 2 jobs
running, then times `docbatch status` and `status --json` as subprocesses (median of 5).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from docbatch.checkpoint.base import LedgerEvent, RunRecord
from docbatch.checkpoint.sqlite import LEDGER_FILE, SqliteLedger
from docbatch.models import JobState
from docbatch.serialization import dumps_compact


def build(state: Path, jobs: int) -> float:
    started = time.perf_counter()
    ledger = SqliteLedger.open(state)
    ledger.begin_run(
        RunRecord("bench-run", time.time(), os.getpid(), os.uname().nodename, "bench", "{}", "out", "local")
    )
    batch: list[LedgerEvent] = []
    for index in range(jobs):
        source = f"folder{index // 1000:04d}/doc{index:07d}.txt"
        batch.append(LedgerEvent("bench-run", source, JobState.RUNNING, 1.0, attempt=1, path=source, size=100,
                                 mtime_ns=index))  # fmt: skip
        if index >= 2:  # two stay running
            batch.append(LedgerEvent("bench-run", source, JobState.SUCCEEDED, 2.0, attempt=1, sha256="x" * 64,
                                     recipe_hash="r", output_path=source + ".json", duration_s=0.01))  # fmt: skip
        if len(batch) >= 10_000:
            ledger.apply(batch)
            batch = []
    ledger.apply(batch)
    counts = {"discovered": jobs, "discovery_done": True, "discovered_bytes": jobs * 100, "bytes_done": jobs * 100,
              "states": {"succeeded": jobs - 2}, "active": 2, "error_kinds": {}}  # fmt: skip
    ledger.heartbeat("bench-run", time.time() + 3600, dumps_compact(counts).decode())
    ledger.close()
    return time.perf_counter() - started


def time_command(state: Path, *args: str) -> float:
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "docbatch", "status", "--state", str(state), *args],
                       check=True, capture_output=True)  # fmt: skip
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder)
        build_s = build(state, jobs)
        size_mb = (state / LEDGER_FILE).stat().st_size / 1e6
        baseline = time_command(state, "--help")
        plain, as_json = time_command(state), time_command(state, "--json")
        print(f"{jobs} jobs: ledger built in {build_s:.1f}s ({jobs / build_s:,.0f} jobs/s), {size_mb:.0f} MB")
        print(
            f"docbatch status: {plain:.3f}s, status --json: {as_json:.3f}s "
            f"(interpreter + --help alone: {baseline:.3f}s)"
        )


if __name__ == "__main__":
    main()
