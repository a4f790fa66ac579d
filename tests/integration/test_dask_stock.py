"""A Dask cluster started the ordinary way: a stock `dask scheduler` and two stock `dask worker` processes
with no DASK_* setting at all (as dask-kubernetes or dask-jobqueue start them: each worker runs as a
daemonic process under its nanny). docbatch runs there with the local executor's outputs, byte for
byte, and a worker SIGKILLed mid-run costs nothing but one retry of its documents.

Skipped when the dask extra is not installed (`uv sync --extra dask`; scripts/test.sh installs it)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import CORPUS, SAMPLE_DOCS, survivors, write_texts
from tests.helpers.outputs import output_files

pytest.importorskip("distributed")

MISBEHAVE = "tests.helpers.processors:misbehave"
REPO = Path(__file__).resolve().parents[2]


def _stock_environment() -> dict[str, str]:
    """This environment without a single Dask setting; PYTHONPATH only lets the workers import the test
    processors, as a user's own processor package would be installed on theirs."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("DASK_")}
    return {**environment, "PYTHONPATH": str(REPO)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class StockCluster:
    def __init__(self, processes: list[subprocess.Popen[bytes]], port: int) -> None:
        self.scheduler, *self.workers = processes
        self.executor = f"dask://127.0.0.1:{port}"

    def task_processes(self) -> list[psutil.Process]:
        """The processes that run tasks: each `dask worker` runs its worker as a child of its nanny."""
        found = []
        for worker in self.workers:
            children = psutil.Process(worker.pid).children()
            found += [child for child in children if "resource_tracker" not in " ".join(child.cmdline())]
        return found


@pytest.fixture(scope="module")
def stock_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StockCluster]:
    from distributed import Client

    port = _free_port()
    folder = tmp_path_factory.mktemp("cluster")
    dask = str(Path(sys.executable).parent / "dask")
    commands = [[dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"]]
    commands += [[dask, "worker", f"tcp://127.0.0.1:{port}"]] * 2
    processes = []
    for command in commands:
        processes.append(
            subprocess.Popen(
                command,
                env=_stock_environment(),
                cwd=folder,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        )
        if len(processes) == 1:
            time.sleep(0.5)  # the scheduler listens before the workers look for it (they retry anyway)
    try:
        with Client(f"tcp://127.0.0.1:{port}", timeout=90) as client:
            client.wait_for_workers(2, timeout=90)
        yield StockCluster(processes, port)
    finally:
        for process in reversed(processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`docbatch run ARGS` with no Dask setting either: what the coordinator needs it sets itself."""
    return subprocess.run(
        [sys.executable, "-m", "docbatch", "run", *args, "--timeout", "60s"],
        cwd=cwd, env=_stock_environment(), capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("corpus", [SAMPLE_DOCS, CORPUS], ids=["sample_docs", "corpus"])
def test_a_stock_dask_cluster_gives_the_local_outputs_byte_for_byte(
    stock_cluster: StockCluster, corpus: Path, tmp_path: Path
) -> None:
    if not corpus.is_dir():
        pytest.skip(f"{corpus} is not present")
    local = _run(str(corpus), "-o", "local-out", "--state", "local-state", cwd=tmp_path)
    on_dask = _run(str(corpus), "-o", "dask-out", "--state", "dask-state", "--executor", stock_cluster.executor,
                   cwd=tmp_path)  # fmt: skip
    assert "daemonic" not in on_dask.stderr
    assert on_dask.returncode == local.returncode, on_dask.stderr
    local_report = json.loads((tmp_path / "local-out" / "report.json").read_text())
    dask_report = json.loads((tmp_path / "dask-out" / "report.json").read_text())
    assert dask_report["executor"].startswith("dask tcp://127.0.0.1:")
    assert dask_report["counts"] == local_report["counts"]
    local_outputs, dask_outputs = output_files(tmp_path / "local-out"), output_files(tmp_path / "dask-out")
    assert dask_outputs.keys() == local_outputs.keys() and len(dask_outputs) >= 10
    assert sorted(name for name in local_outputs if local_outputs[name] != dask_outputs[name]) == []


@pytest.mark.timeout(300)
def test_a_stock_dask_worker_killed_mid_run_costs_one_retry_of_its_documents(
    stock_cluster: StockCluster, tmp_path: Path
) -> None:
    docs = write_texts(tmp_path / "slow", *(f"slow{index:02d}.txt" for index in range(12)))
    local = _run(str(docs), "-o", "local-out", "--state", "local-state", "--processor", MISBEHAVE, cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    run = subprocess.Popen(
        [sys.executable, "-m", "docbatch", "run", str(docs), "-o", "dask-out", "--state", "dask-state", "-q",
         "--executor", stock_cluster.executor, "--processor", MISBEHAVE, "--backoff", "0.2s"],
        cwd=tmp_path, env=_stock_environment(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    victim, job_processes = _a_worker_running_a_job(stock_cluster)
    victim.kill()
    # A job's process does not outlive its Dask worker (parent-death signal), daemonic or not.
    assert not survivors(job_processes, timeout_s=2.0)
    assert run.wait(timeout=240) == 0
    report = json.loads((tmp_path / "dask-out" / "report.json").read_text())
    assert report["counts"]["succeeded"] == report["counts"]["discovered"] == 12
    counts = report["counts"]
    assert counts["discovered"] == sum(counts[state] for state in ("succeeded", "skipped", "failed", "dead",
                                                                    "cancelled", "pending"))  # fmt: skip
    assert output_files(tmp_path / "dask-out") == output_files(tmp_path / "local-out")
    with contextlib.closing(sqlite3.connect(tmp_path / "dask-state" / "ledger.sqlite")) as ledger:
        attempts = dict(ledger.execute("SELECT source_id, attempts FROM documents").fetchall())
    assert len(attempts) == 12 and max(attempts.values()) <= 2, attempts


def _a_worker_running_a_job(
    cluster: StockCluster, timeout_s: float = 120
) -> tuple[psutil.Process, list[psutil.Process]]:
    """A Dask worker process (not its nanny) with a supervised job process under it, and those processes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for worker in cluster.task_processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                jobs = [
                    child for child in worker.children(recursive=True) if "serve_child" in " ".join(child.cmdline())
                ]
                if jobs:
                    return worker, jobs
        time.sleep(0.1)
    raise AssertionError("no Dask worker started a job process")
