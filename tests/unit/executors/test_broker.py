"""The broker executor and `docbatch worker` over the in-process transport: whole runs with workers in
threads of the test, and the failure cases a real broker is too slow to stage (a worker that vanishes
with a batch, a batch delivered too often, a wedged worker, a dead run's messages, a drain).

The same behaviours against real Redis, RabbitMQ and SQS with `docbatch worker` processes are in
tests/integration/test_brokers.py."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from docbatch.app.runs import run_to_end
from docbatch.app.worker import WorkerHandle, start_worker
from docbatch.brokers.messages import Reply, WorkerInfo, WorkMessage, decode_work, encode
from docbatch.brokers.transport import Transport, TransportSettings
from docbatch.brokers.urls import open_transport
from docbatch.checkpoint.base import DocumentRow
from docbatch.checkpoint.reader import LedgerReader
from docbatch.config import RunConfig
from docbatch.executors import broker
from docbatch.executors.broker_worker import WorkerOptions
from docbatch.models import JobBatch, JobSpec
from docbatch.serialization import loads
from tests.conftest import write_texts
from tests.helpers.outputs import output_files


class ThreadWorker:
    """A `docbatch worker` running in a thread of the test, on its own event loop."""

    def __init__(self, url: str, concurrency: int = 1, **options: object) -> None:
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.handle: WorkerHandle | None = None
        settings = WorkerOptions(concurrency=concurrency, **options)  # type: ignore[arg-type]
        self._thread = threading.Thread(target=self._main, args=(url, settings), daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    def _main(self, url: str, options: WorkerOptions) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self.handle = await start_worker(url, options)
            self._ready.set()
            await self.handle.serve()

        asyncio.run(serve())

    def drain(self) -> None:
        assert self._loop is not None and self.handle is not None
        self._loop.call_soon_threadsafe(self.handle.drain)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.drain()
        self._thread.join(30)
        assert not self._thread.is_alive()


@pytest.fixture
def broker_url() -> str:
    name = "t" + uuid.uuid4().hex[:10]
    return f"memory://{name}?queue=q&visibility=1"


@pytest.fixture
def workers() -> Iterator[Callable[..., ThreadWorker]]:
    started: list[ThreadWorker] = []

    def start(url: str, concurrency: int = 1, **options: object) -> ThreadWorker:
        worker = ThreadWorker(url, concurrency, **options)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def _raw(url: str) -> Transport:
    return open_transport(url, TransportSettings(queue="q", visibility_timeout_s=1))


def _rows(config: RunConfig) -> list[DocumentRow]:
    reader = LedgerReader.open(config.state_dir)
    try:
        ids = [str(row[0]) for row in reader.query("SELECT source_id FROM documents ORDER BY source_id")]
        return [row for row in map(reader.document, ids) if row is not None]
    finally:
        reader.close()


def _report(config: RunConfig) -> dict[str, object]:
    report: dict[str, object] = loads((config.output.root / "report.json").read_bytes())
    return report


def _queue(config: RunConfig) -> dict[str, object]:
    info = _report(config)["executor_info"]
    assert isinstance(info, dict)
    queue = info["queue"]
    assert isinstance(queue, dict)
    return queue


async def test_a_run_through_a_broker_writes_what_a_local_run_writes(
    sample_docs: Path,
    make_config: Callable[..., RunConfig],
    broker_url: str,
    workers: Callable[..., ThreadWorker],
    tmp_path: Path,
) -> None:
    local = make_config(sample_docs)
    local_outcome = await run_to_end(local)
    workers(broker_url, 2)
    workers(broker_url, 1)
    brokered = make_config(sample_docs, executor=broker_url).model_copy(
        update={
            "output": local.output.model_copy(update={"root": tmp_path / "via-broker"}),
            "state_dir": tmp_path / "state-broker",
        }
    )
    outcome = await run_to_end(brokered)
    assert outcome.exit_code == local_outcome.exit_code
    assert output_files(brokered.output.root) == output_files(local.output.root)
    assert outcome.report.counts == local_outcome.report.counts
    info = _report(brokered)["executor_info"]
    assert isinstance(info, dict) and info["broker"] == broker_url.split("?")[0]
    assert _queue(brokered)["published"] >= 1  # type: ignore[operator]
    assert _queue(brokered)["dead_lettered"] == 0


async def _take_one(transport: Transport, wait_s: float = 20) -> WorkMessage:
    """Receive one message and drop it on the floor, like a worker SIGKILLed right after taking it."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        delivery = await transport.receive(0.2)
        if delivery is not None:
            return decode_work(delivery.body)
    raise AssertionError("no message was published")


async def test_a_batch_whose_worker_vanished_is_delivered_again_and_done_once(
    tmp_path: Path, make_config: Callable[..., RunConfig], broker_url: str, workers: Callable[..., ThreadWorker]
) -> None:
    docs = write_texts(tmp_path / "docs", *(f"d{index}.txt" for index in range(6)))
    config = make_config(docs, executor=broker_url)
    run = asyncio.create_task(run_to_end(config))
    thief = _raw(broker_url)
    await thief.connect()
    taken = await _take_one(thief)  # never acked, never extended: the broker gives it to another
    workers(broker_url, 1)
    outcome = await asyncio.wait_for(run, 60)
    assert outcome.exit_code == 0
    assert outcome.report.counts.succeeded == 6
    assert _queue(config)["redeliveries"] >= 1
    attempts = {row.source_id: row.attempts for row in _rows(config)}
    assert all(attempts[spec.source_id] == 1 for spec in taken.batch.specs)  # a redelivery is not an attempt


async def test_a_batch_delivered_too_often_goes_to_the_dead_letters_and_fails_as_crash(
    tmp_path: Path, make_config: Callable[..., RunConfig], broker_url: str, workers: Callable[..., ThreadWorker]
) -> None:
    docs = write_texts(tmp_path / "docs", "only.txt")
    config = make_config(docs, executor=broker_url, retries=0)
    run = asyncio.create_task(run_to_end(config))
    thief = _raw(broker_url)
    await thief.connect()
    for _ in range(broker.MAX_DELIVERIES):  # three workers lost it in turn
        await _take_one(thief)
    workers(broker_url, 1)  # the fourth delivery: refused, dead-lettered, the coordinator told
    outcome = await asyncio.wait_for(run, 60)
    assert outcome.exit_code == 1
    (row,) = _rows(config)
    assert (row.state, row.error_kind) == ("failed", "crash")
    assert "dead-lettered" in (row.message or "")
    assert (await thief.stats()).dead_lettered == 1
    assert _queue(config)["dead_lettered"] == 1


async def test_a_wedged_worker_costs_one_attempt_bounded_by_the_timeout(
    tmp_path: Path, make_config: Callable[..., RunConfig], broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(broker, "WEDGED_GRACE_S", 0.5)
    docs = write_texts(tmp_path / "docs", "stuck.txt")
    config = make_config(docs, executor=broker_url, retries=0, timeout_s=1.0)
    run = asyncio.create_task(run_to_end(config))
    wedged = _raw(broker_url)
    await wedged.connect()
    message = await _take_one(wedged)
    me = WorkerInfo(worker="wedged:1", host="wedged", pid=1, slots=1)
    await wedged.reply(
        message.session, encode(Reply(kind="started", worker=me, handover=message.handover, deliveries=1))
    )
    started = time.monotonic()
    while not run.done():  # alive and holding the batch, but never a result
        await wedged.reply(message.session, encode(Reply(kind="heartbeat", worker=me)))
        await asyncio.sleep(0.3)
        assert time.monotonic() - started < 30, "the coordinator never gave up on the wedged worker"
    outcome = run.result()
    assert outcome.exit_code == 1
    (row,) = _rows(config)
    assert (row.state, row.error_kind, row.attempts) == ("failed", "timeout", 1)
    assert "wedged:1 sent no result" in (row.message or "")


async def test_batches_of_a_run_that_is_gone_are_dropped_unread(
    tmp_path: Path, broker_url: str, workers: Callable[..., ThreadWorker]
) -> None:
    publisher = _raw(broker_url)
    await publisher.connect()
    victim = write_texts(tmp_path / "docs", "secret.txt") / "secret.txt"
    spec = JobSpec(source_id="secret.txt", path=str(victim), size=victim.stat().st_size)
    message = WorkMessage(
        session="a-dead-run", run_id="r", handover="h", indices=[0], batch=JobBatch(specs=[spec]), timeout_s=10
    )
    await publisher.publish(encode(message), 1)
    worker = workers(broker_url, 1)
    deadline = time.monotonic() + 10
    while (await publisher.stats()).depth or (await publisher.stats()).in_flight:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    assert worker.handle is not None and worker.handle.worker.info().done == 0


async def test_exec_jobs_run_only_on_workers_that_allow_them(
    tmp_path: Path, make_config: Callable[..., RunConfig], broker_url: str, workers: Callable[..., ThreadWorker]
) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    config = make_config(docs, executor=broker_url, exec_template="cat {in}", retries=0)
    refusing = workers(broker_url, 1)
    outcome = await run_to_end(config)
    assert outcome.exit_code == 1
    (row,) = _rows(config)
    assert (row.state, row.error_kind) == ("failed", "internal")  # not dead: a worker that allows it may come
    assert "--allow-exec" in (row.message or "")
    refusing.stop()
    workers(broker_url, 1, allow_exec=True)
    again = await run_to_end(config)
    assert again.exit_code == 0
    assert [row.state for row in _rows(config)] == ["succeeded"]


async def test_a_draining_worker_hands_back_the_jobs_it_has_not_started(
    tmp_path: Path, make_config: Callable[..., RunConfig], broker_url: str, workers: Callable[..., ThreadWorker]
) -> None:
    docs = write_texts(tmp_path / "docs", *(f"slow{index}.txt" for index in range(4)))
    config = make_config(
        docs, executor=broker_url, processor_override="tests.helpers.processors:misbehave", concurrency=1
    )
    first = workers(broker_url, 1)
    run = asyncio.create_task(run_to_end(config))
    await asyncio.sleep(2.0)  # the first worker is inside its batch of four 1.5 s jobs
    first.drain()
    workers(broker_url, 1)
    outcome = await asyncio.wait_for(run, 60)
    assert outcome.exit_code == 0
    assert outcome.report.counts.succeeded == 4
    assert [row.attempts for row in _rows(config)] == [1, 1, 1, 1]


async def test_a_worker_rides_out_a_broker_outage_and_serves_the_next_run(
    tmp_path: Path, make_config: Callable[..., RunConfig], broker_url: str, workers: Callable[..., ThreadWorker]
) -> None:
    from docbatch.brokers.memory import take_down

    name = broker_url.removeprefix("memory://").split("?")[0]
    worker = workers(broker_url, 1)
    docs = write_texts(tmp_path / "docs", "slow1.txt")
    config = make_config(docs, executor=broker_url, processor_override="tests.helpers.processors:misbehave")
    run = asyncio.create_task(run_to_end(config))
    await asyncio.sleep(1.0)  # the worker is inside the 1.5 s job
    take_down(name, "q")  # its results cannot be sent: it used to die of that
    outcome = await asyncio.wait_for(run, 60)
    assert outcome.exit_code == 4  # the coordinator lost the broker too: interrupted, resumable
    await asyncio.sleep(1.0)
    take_down(name, "q", down=False)
    again = await asyncio.wait_for(run_to_end(config), 60)  # served by the same worker, reconnected
    assert again.exit_code == 0
    assert worker.handle is not None and worker.handle.worker.info().done >= 1
