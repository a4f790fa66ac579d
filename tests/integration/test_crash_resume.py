"""A batch of 500+ real documents SIGKILLed at several moments and resumed each time ends exactly like
an uninterrupted run: same output names and bytes, no temporary files, a reconciled report, and only
documents that were in flight at a kill processed twice."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil

from tests.conftest import REPO, run_cli, survivors
from tests.helpers.outputs import output_files

COPIES = 34  # x 16 sample documents = 544


def _running(ledger: Path) -> set[str]:
    with sqlite3.connect(ledger) as db:
        return {row[0] for row in db.execute("SELECT source_id FROM documents WHERE state = 'running'")}


def test_sigkilled_runs_resume_to_the_same_outputs(tmp_path: Path, sample_docs: Path) -> None:
    docs = tmp_path / "docs"
    for copy in range(COPIES):
        shutil.copytree(sample_docs, docs / f"batch{copy:02d}")
    total = COPIES * 16

    reference = run_cli("run", str(docs), "-o", "ref-out", "--state", "ref-state", "-q", cwd=tmp_path, timeout=300)
    assert reference.returncode == 1
    expected = output_files(tmp_path / "ref-out")
    assert len(expected) == COPIES * 15

    out, state = tmp_path / "out", tmp_path / "state"
    ledger = state / "ledger.sqlite"
    rng = random.Random(20261122)
    thresholds = sorted(rng.sample(range(30, total - 150), 3))
    in_flight_at_kills: set[str] = set()
    command = [sys.executable, "-m", "docbatch", "run", str(docs), "-o", str(out), "--state", str(state), "-q"]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    for threshold in thresholds:
        coordinator = subprocess.Popen(command, cwd=tmp_path, env=environment, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 120
        while len(list(out.rglob("*.json"))) < threshold and coordinator.poll() is None:
            assert time.monotonic() < deadline, "the run made no progress"
            time.sleep(0.01)
        workers = psutil.Process(coordinator.pid).children(recursive=True)
        coordinator.send_signal(signal.SIGKILL)
        coordinator.wait()
        alive = survivors(workers, timeout_s=2.0)
        assert not alive, "worker processes outlived the killed coordinator"
        in_flight_at_kills |= _running(ledger)

    final = run_cli("run", str(docs), "-o", str(out), "--state", str(state), "-q", cwd=tmp_path, timeout=300)
    assert final.returncode == 1, final.stderr
    assert output_files(out) == expected
    assert not [p for p in out.rglob("*") if p.name.endswith(".docbatch-tmp")], "temporary files left behind"

    report = json.loads((out / "report.json").read_text())
    counts = report["counts"]
    assert counts["discovered"] == total
    assert counts["discovered"] == sum(
        counts[k] for k in ("succeeded", "skipped", "failed", "dead", "cancelled", "pending")
    )
    assert counts["dead"] == COPIES and counts["pending"] == counts["cancelled"] == 0

    with sqlite3.connect(ledger) as db:
        starts = Counter(
            row[0] for row in db.execute("SELECT source_id FROM events WHERE state = 'running' AND source_id != ''")
        )
        states = Counter(row[0] for row in db.execute("SELECT state FROM documents"))
    processed_twice = {source for source, count in starts.items() if count > 1}
    assert processed_twice <= in_flight_at_kills
    assert len(starts) == total  # every document was started at least once
    assert states == {"succeeded": COPIES * 15, "dead": COPIES}
