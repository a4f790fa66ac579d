"""The same run on a real Dask cluster: a `dask scheduler` and two `dask worker` processes on 127.0.0.1.

Skipped when the dask extra is not installed (`uv sync --extra dask`; scripts/test.sh installs it)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import run_cli, survivors, write_texts
from tests.helpers.outputs import output_files

pytest.importorskip("distributed")

MISBEHAVE = "tests.helpers.processors:misbehave"
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cluster:
    def __init__(self, scheduler: subprocess.Popen[bytes], workers: list[subprocess.Popen[bytes]], address: str):
        self.scheduler, self.workers, self.address = scheduler, workers, address

    def worker_processes(self) -> list[psutil.Process]:
        """The processes that run tasks: each `dask worker` runs its worker under a nanny."""
        found = []
        for worker in self.workers:
            children = psutil.Process(worker.pid).children()
            found += [child for child in children if "resource_tracker" not in " ".join(child.cmdline())]
        return found


def _wait_for_workers(address: str, count: int, timeout_s: float = 90) -> None:
    from distributed import Client

    with Client(address, timeout=timeout_s) as client:
        client.wait_for_workers(count, timeout=timeout_s)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        # docbatch keeps the attempt count itself (test_dask_stock.py runs with no setting at all).
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
        # Where the `spawn*` test processor (running on the workers) writes the pid of its child.
        "DOCBATCH_TEST_CHILD_PID": str(tmp_path / "child.pid"),
    }
    bin_dir = Path(sys.executable).parent
    scheduler = subprocess.Popen(
        [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    workers = [
        subprocess.Popen(
            [
                str(bin_dir / "dask"),
                "worker",
                address,
                "--nthreads",
                "1",
                "--nworkers",
                "1",
                "--memory-limit",
                "2GiB",
                "--name",
                f"w{index}",
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        for index in range(2)
    ]
    try:
        _wait_for_workers(address, 2)
        yield Cluster(scheduler, workers, address)
    finally:
        for process in [*workers, scheduler]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def test_a_batch_on_dask_gives_the_local_outputs_and_survives_a_killed_worker(
    cluster: Cluster, sample_docs: Path, tmp_path: Path
) -> None:
    local = run_cli("run", str(sample_docs), "-o", "local-out", "--state", "local-state", cwd=tmp_path)
    assert local.returncode == 1, local.stderr
    on_dask = run_cli(
        "run", str(sample_docs), "-o", "dask-out", "--state", "dask-state", "--executor",
        cluster.address.replace("tcp://", "dask://"), cwd=tmp_path,
    )  # fmt: skip
    assert on_dask.returncode == 1, on_dask.stderr
    assert output_files(tmp_path / "dask-out") == output_files(tmp_path / "local-out")
    report = json.loads((tmp_path / "dask-out" / "report.json").read_text())
    assert report["executor"].startswith("dask tcp://127.0.0.1:")
    assert (report["counts"]["succeeded"], report["counts"]["dead"]) == (15, 1)

    # Now slow documents, and one of the two workers SIGKILLed while they run.
    docs = write_texts(tmp_path / "slow", *(f"slow{index:02d}.txt" for index in range(8)))
    run = subprocess.Popen(
        [sys.executable, "-m", "docbatch", "run", str(docs), "-o", "slow-out", "--state", "slow-state", "-q",
         "--executor", cluster.address.replace("tcp://", "dask://"), "--processor", MISBEHAVE, "--backoff", "0.2s"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(4.0)  # the run has connected and both workers are in the middle of a 1.5 s document
    victim = cluster.worker_processes()[0]
    job_processes = [c for c in victim.children(recursive=True) if "resource_tracker" not in " ".join(c.cmdline())]
    assert job_processes, "the worker runs its jobs in child processes"
    victim.kill()
    # A job's process must not outlive its Dask worker (parent-death signal).
    assert not survivors(job_processes, timeout_s=2.0)
    assert run.wait(timeout=120) == 0
    report = json.loads((tmp_path / "slow-out" / "report.json").read_text())
    assert (report["counts"]["succeeded"], report["counts"]["discovered"]) == (8, 8)
    assert report["retries"] >= 1  # the killed worker's jobs cost an attempt and ran elsewhere
    assert sorted(path.name for path in (tmp_path / "slow-out").glob("*.json") if path.name != "report.json") == [
        f"slow{index:02d}.txt.json" for index in range(8)
    ]


def test_a_hung_document_on_a_dask_worker_is_killed_at_its_timeout(cluster: Cluster, tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "hang.txt", "spawn.txt", *(f"ok{index}.txt" for index in range(6)))
    result = run_cli(
        "run", str(docs), "--executor", cluster.address.replace("tcp://", "dask://"), "--timeout", "2s",
        "--retries", "0", "--processor", MISBEHAVE, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    report = json.loads((tmp_path / "docbatch-out" / "report.json").read_text())
    kinds = sorted((f["source_id"], f["error_kind"]) for f in report["failures"])
    assert kinds == [("hang.txt", "timeout"), ("spawn.txt", "timeout")]
    assert report["counts"]["succeeded"] == 6
    # What the hung processor started died with it (its process group), on the Dask worker too.
    child = psutil.Process(int((tmp_path / "child.pid").read_text()))
    assert not survivors([child], timeout_s=2.0)
    # status names the executor, its workers and the dashboard.
    info = json.loads(run_cli("status", "--json", cwd=tmp_path).stdout)
    assert info["executor"].startswith("dask tcp://127.0.0.1:")
    assert info["executor_info"]["workers"] == 2 and info["executor_info"]["dashboard"].startswith("http://")
    assert "2 workers, dashboard http://" in run_cli("status", cwd=tmp_path).stdout
    # Both workers still serve: the cluster runs another batch.
    again = run_cli(
        "run", str(write_texts(tmp_path / "more", "a.txt", "b.txt", "c.txt")), "-o", "more-out", "--state",
        "more-state", "--executor", cluster.address.replace("tcp://", "dask://"), cwd=tmp_path,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr


def test_a_scheduler_that_goes_away_ends_the_run_as_interrupted_and_resumable(cluster: Cluster, tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", *(f"slow{index:02d}.txt" for index in range(10)))
    run = subprocess.Popen(
        [sys.executable, "-m", "docbatch", "run", str(docs), "-q", "-j", "1", "--processor", MISBEHAVE,
         "--executor", cluster.address.replace("tcp://", "dask://")],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    ledger = tmp_path / ".docbatch" / "ledger.sqlite"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _succeeded(ledger):
        time.sleep(0.2)
    os.killpg(cluster.scheduler.pid, signal.SIGKILL)
    # The next result or hand-over finds the client cut off from its scheduler: the run stops there.
    assert run.wait(timeout=120) == 4
    report = json.loads((tmp_path / "docbatch-out" / "report.json").read_text())
    assert report["status"] == "interrupted" and report["stop_reason"].startswith("lost the Dask scheduler")
    counts = report["counts"]
    assert counts["succeeded"] >= 1 and counts["failed"] == counts["dead"] == 0
    assert counts["succeeded"] + counts["cancelled"] + counts["pending"] == 10
    # The next run (on the local executor here) does only what is left.
    again = run_cli("run", str(docs), "-q", "--processor", MISBEHAVE, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    report = json.loads((tmp_path / "docbatch-out" / "report.json").read_text())
    assert report["counts"]["skipped"] == counts["succeeded"]
    assert report["counts"]["succeeded"] == 10 - counts["succeeded"]


def _succeeded(ledger: Path) -> int:
    import sqlite3

    if not ledger.exists():
        return 0
    try:
        with sqlite3.connect(ledger) as db:
            return int(db.execute("SELECT count(*) FROM documents WHERE state = 'succeeded'").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
