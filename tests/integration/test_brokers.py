"""Runs through real brokers on 127.0.0.1 with real `docbatch worker` processes: Redis (redis-server),
RabbitMQ (rabbitmq-server) and SQS (moto's server). Each test starts its own workers on its own queue;
the brokers are started once per session (tests/helpers/brokers.py) and a broker that cannot be had
here skips its tests with the reason.

What a user must be able to count on: the same outputs, byte for byte, as a local run, also when a
worker is SIGKILLed mid-run or the coordinator is SIGKILLed and the command run again; a report that
reconciles; `docbatch status` showing the workers and the queue; priorities honoured across runs
sharing a broker."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import CORPUS, REPO, SAMPLE_DOCS, run_cli, survivors, write_texts
from tests.helpers.brokers import RunningBroker, fresh_queue_name
from tests.helpers.outputs import output_files

KINDS = ["redis", "rabbitmq", "sqs"]
_local_outputs: dict[str, tuple[int, dict[str, bytes]]] = {}


class Broker:
    """One test's queue on a running broker, and the `docbatch worker` processes it started."""

    def __init__(self, server: RunningBroker, folder: Path) -> None:
        self.server = server
        self.url = server.url(fresh_queue_name(), visibility_s=5)
        self.env = {**os.environ, "PYTHONPATH": str(REPO), **server.env}
        self.folder = folder
        self.workers: list[subprocess.Popen[str]] = []
        self._logs: list[object] = []

    def start_worker(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        log = open(self.folder / f"worker{len(self.workers)}.log", "w")  # noqa: SIM115 (closed by stop())
        self._logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "docbatch", "worker", self.url, *args],
            env={**self.env, **(env or {})}, cwd=self.folder, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            text=True,
        )  # fmt: skip
        self.workers.append(process)
        return process

    def run(self, *args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return run_cli("run", *args, "--executor", self.url, cwd=cwd, timeout=timeout, env=self.server.env)

    def stop(self) -> None:
        for process in self.workers:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for log in self._logs:
            log.close()  # type: ignore[attr-defined]

    def logs(self) -> str:
        return "\n".join(path.read_text() for path in sorted(self.folder.glob("worker*.log")))


@pytest.fixture(params=KINDS)
def broker(request: pytest.FixtureRequest, broker_servers: Callable[[str], object], tmp_path: Path) -> Iterator[Broker]:
    server = broker_servers(str(request.param))
    assert isinstance(server, RunningBroker)
    folder = tmp_path / "workers"
    folder.mkdir()
    made = Broker(server, folder)
    yield made
    made.stop()


def _local(corpus: Path, tmp_path: Path) -> tuple[int, dict[str, bytes]]:
    """A local run's exit code and outputs (once per corpus per session)."""
    key = str(corpus)
    if key not in _local_outputs:
        done = run_cli("run", str(corpus), "-o", "local-out", "--state", "local-state", cwd=tmp_path, timeout=900)
        _local_outputs[key] = (done.returncode, output_files(tmp_path / "local-out"))
    return _local_outputs[key]


def _ledger_rows(state: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(state / "ledger.sqlite") as db:
        return db.execute(sql).fetchall()


def _wait_for_finished(state: Path, count: int, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.Error):
            if (state / "ledger.sqlite").exists():
                done = _ledger_rows(state, "SELECT count(*) FROM documents WHERE state NOT IN ('pending','running')")
                if int(done[0][0]) >= count:  # type: ignore[call-overload]
                    return
        time.sleep(0.05)
    raise AssertionError(f"{count} documents never finished")


def _kill_worker(process: subprocess.Popen[str]) -> list[psutil.Process]:
    """SIGKILL a `docbatch worker`; its job processes (which must die with it) are returned."""
    children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    return children


def _reconciles(report: dict[str, object]) -> bool:
    counts = report["counts"]
    assert isinstance(counts, dict)
    ended = sum(counts[key] for key in ("succeeded", "skipped", "failed", "dead", "cancelled", "pending"))
    return bool(ended == counts["discovered"])


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("corpus", [SAMPLE_DOCS, CORPUS], ids=["sample_docs", "corpus"])
def test_two_workers_give_a_local_runs_outputs_also_when_one_is_sigkilled(
    broker: Broker, corpus: Path, tmp_path: Path
) -> None:
    if not corpus.is_dir():
        pytest.skip(f"{corpus} is not present")
    local_code, local_outputs = _local(corpus, tmp_path)
    doomed = broker.start_worker("-j", "2")
    broker.start_worker("-j", "2")
    run = subprocess.Popen(
        [sys.executable, "-m", "docbatch", "run", str(corpus), "-o", "out", "--state", "state", "-j", "4",
         "--executor", broker.url, "--log-format", "json"],
        cwd=tmp_path, env=broker.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    documents = sum(1 for path in corpus.rglob("*") if path.is_file())
    _wait_for_finished(tmp_path / "state", max(2, documents // 5))
    orphans = _kill_worker(doomed)
    stdout, stderr = run.communicate(timeout=900)
    assert run.returncode == local_code, stderr[-2000:]
    assert output_files(tmp_path / "out") == local_outputs
    report_text = (tmp_path / "out" / "report.json").read_text()
    assert "guest:guest" not in report_text  # the broker's password is not in the report
    report = json.loads(report_text)
    assert _reconciles(report)
    assert report["executor"].startswith("broker ")
    queue = report["executor_info"]["queue"]
    assert queue["published"] >= 1 and queue["dead_lettered"] == 0
    attempts = _ledger_rows(tmp_path / "state", "SELECT max(attempts) FROM documents")
    assert int(attempts[0][0]) <= 2  # type: ignore[call-overload]
    assert survivors(orphans, 10) == []  # the killed worker's job processes died with it
    status = run_cli("status", "--state", "state", "--json", cwd=tmp_path)
    shown = json.loads(status.stdout)["executor_info"]
    assert shown["workers"] >= 1 and "queue" in shown


@pytest.mark.timeout(900)
def test_a_sigkilled_coordinator_then_the_same_command_ends_as_an_uninterrupted_run(
    broker: Broker, tmp_path: Path
) -> None:
    docs = write_texts(tmp_path / "docs", *(f"doc{index:03}.txt" for index in range(300)))
    for index in range(0, 300, 30):  # slow enough that the kill lands mid-run
        (docs / f"doc{index:03}.txt").write_text(f"slow {index}\n")
    local = run_cli("run", "docs", "-o", "local-out", "--state", "local-state", cwd=tmp_path)
    broker.start_worker("-j", "2")
    broker.start_worker("-j", "2")
    args = ["docs", "-o", "out", "--state", "state", "-j", "4", "-q"]
    coordinator = subprocess.Popen(
        [sys.executable, "-m", "docbatch", "run", *args, "--executor", broker.url],
        cwd=tmp_path, env=broker.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait_for_finished(tmp_path / "state", 60)
    coordinator.send_signal(signal.SIGKILL)
    coordinator.wait(10)
    again = broker.run(*args, cwd=tmp_path)
    failures = _ledger_rows(
        tmp_path / "state", "SELECT source_id, state, message FROM documents WHERE state != 'succeeded'"
    )
    assert again.returncode == local.returncode == 0, (failures, broker.logs()[-3000:])
    assert output_files(tmp_path / "out") == output_files(tmp_path / "local-out")


@pytest.mark.timeout(600)
def test_a_higher_priority_run_starts_first_on_a_shared_broker(broker: Broker, tmp_path: Path) -> None:
    order = tmp_path / "order.log"
    order.touch()
    write_texts(tmp_path / "low", *(f"low{index}.txt" for index in range(6)))
    write_texts(tmp_path / "urgent", *(f"urgent{index}.txt" for index in range(3)))
    common = ["--processor", "tests.helpers.processors:record_order", "-j", "1", "-q"]
    runs = []
    for name, level in (("low", "low"), ("urgent", "critical")):
        runs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "docbatch",
                    "run",
                    name,
                    "-o",
                    f"{name}-out",
                    "--state",
                    f"{name}-state",
                    "--priority",
                    f"*={level}",
                    *common,
                    "--executor",
                    broker.url,
                ],
                cwd=tmp_path,
                env=broker.env,
                stdin=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
        )
        time.sleep(4 if name == "low" else 0)  # the low run's batches are on the queue first
    time.sleep(4)  # both runs have published what their slots allow
    broker.start_worker("-j", "1", env={"DOCBATCH_TEST_ORDER_LOG": str(order)})
    for run in runs:
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr
    started = order.read_text().split()
    assert sorted(started) == sorted([f"low{i}.txt" for i in range(6)] + [f"urgent{i}.txt" for i in range(3)])
    # One worker slot: every urgent document starts before any low one waiting beside it on the broker.
    assert [name[:6] for name in started[:3]] == ["urgent"] * 3, started


def test_a_worker_that_cannot_reach_its_broker_says_so_in_one_line(tmp_path: Path) -> None:
    from tests.helpers.brokers import free_port

    for url in (f"redis://127.0.0.1:{free_port()}/0", f"amqp://guest:secret@127.0.0.1:{free_port()}/"):
        done = run_cli("worker", url, cwd=tmp_path, timeout=60)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "127.0.0.1" in lines[0], done.stderr
        assert "secret" not in done.stderr


def test_a_run_whose_broker_cannot_be_reached_ends_before_anything_runs(tmp_path: Path) -> None:
    from tests.helpers.brokers import free_port

    write_texts(tmp_path / "docs", "a.txt")
    url = f"amqp://guest:secret@127.0.0.1:{free_port()}/"
    done = run_cli("run", "docs", "--executor", url, cwd=tmp_path, timeout=60)
    assert done.returncode == 5, done.stderr
    assert "secret" not in done.stderr
    assert "127.0.0.1" in done.stderr.strip().splitlines()[-1]
    joined = run_cli("run", "docs", f"--executor={url}", "--log-file", "run.log", cwd=tmp_path, timeout=60)
    assert joined.returncode == 5
    assert "secret" not in joined.stderr + (tmp_path / "run.log").read_text()  # the start line masks it too
    status = run_cli("status", "--json", cwd=tmp_path)
    assert "secret" not in status.stdout
    malformed = run_cli("run", "docs", "--executor", "amqp://guest:secret@rabbit:99999/", cwd=tmp_path)
    assert malformed.returncode == 2
    assert malformed.stderr.count("\n") == 1 and "secret" not in malformed.stderr
    assert "a port from 1 to 65535" in malformed.stderr
