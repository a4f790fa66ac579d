"""The event hub over a real SQLite ledger: order, resuming with `after`, the run filter, a ledger
that appears after the server started, and streams that end when the hub stops."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from docbatch.checkpoint.base import LedgerEvent, RunRecord
from docbatch.checkpoint.sqlite import SqliteLedger
from docbatch.models import JobState
from docbatch.server.events import EventHub, EventMessage, read_events


def begin(ledger: SqliteLedger, run_id: str) -> None:
    ledger.begin_run(RunRecord(run_id, time.time(), 1, "h", "docbatch run", "{}", "/out", "local"))


def documents(ledger: SqliteLedger, run_id: str, *names: str) -> None:
    """A running and a succeeded event for each of ``names``, in one batch."""
    batch = []
    for name in names:
        batch.append(LedgerEvent(run_id, name, JobState.RUNNING, time.time(), attempt=1))
        batch.append(LedgerEvent(run_id, name, JobState.SUCCEEDED, time.time(), attempt=1))
    ledger.apply(batch)


def finish(ledger: SqliteLedger, run_id: str, exit_code: int = 0) -> None:
    ledger.finish_run(
        run_id, status="finished", finished_at=time.time(), exit_code=exit_code, report_path=None, counts_json="{}"
    )


def all_ids(ledger: SqliteLedger, run_id: str | None = None) -> list[int]:
    if run_id is None:
        return [int(row[0]) for row in ledger.query("SELECT id FROM events ORDER BY id")]  # type: ignore[call-overload]
    rows = ledger.query("SELECT id FROM events WHERE run_id = ? ORDER BY id", (run_id,))
    return [int(row[0]) for row in rows]  # type: ignore[call-overload]


async def take(events: AsyncIterator[EventMessage], count: int, timeout_s: float = 5.0) -> list[EventMessage]:
    """The next ``count`` events (fails when they do not come within ``timeout_s``)."""
    taken: list[EventMessage] = []
    async with asyncio.timeout(timeout_s):
        async for event in events:
            taken.append(event)
            if len(taken) == count:
                break
    return taken


@pytest.fixture
async def hub(state: Path) -> AsyncIterator[EventHub]:
    # A page of 3 so that every test also crosses page boundaries.
    started = EventHub(state, poll_s=0.02, page=3)
    await started.start()
    yield started
    await started.stop()


def test_events_read_as_the_api_shapes_them(state: Path, ledger: SqliteLedger) -> None:
    begin(ledger, "r1")
    ledger.apply([LedgerEvent("r1", "a.pdf", JobState.FAILED, 5.5, attempt=2, error_kind="parse", message="bad")])
    finish(ledger, "r1", exit_code=1)

    running, failed, finished = read_events(state, after=0, limit=10)

    assert running.model_dump() == {
        "id": 1, "type": "run", "run_id": "r1", "document_id": None, "state": "running", "attempt": 0,
        "at": running.at, "error_kind": None, "message": None, "exit_code": None,
    }  # fmt: skip
    assert failed.model_dump() == {
        "id": 2, "type": "document", "run_id": "r1", "document_id": "a.pdf", "state": "failed", "attempt": 2,
        "at": 5.5, "error_kind": "parse", "message": "bad", "exit_code": None,
    }  # fmt: skip
    assert (finished.type, finished.state, finished.exit_code) == ("run", "finished", 1)
    assert [e.id for e in read_events(state, after=1, limit=1)] == [2]
    assert [e.id for e in read_events(state, after=0, limit=10, upto=2)] == [1, 2]


def test_no_ledger_has_no_events(tmp_path: Path) -> None:
    assert read_events(tmp_path / "nowhere", after=0, limit=10) == []


async def test_events_arrive_in_id_order_each_once_while_the_ledger_is_written(
    hub: EventHub, ledger: SqliteLedger
) -> None:
    begin(ledger, "r1")
    follower = hub.follow(0)

    async def write() -> None:
        for batch in range(10):
            documents(ledger, "r1", *(f"d{batch}-{n}.txt" for n in range(batch % 4)))
            await asyncio.sleep(0.005)
        finish(ledger, "r1")

    count = 1 + sum(2 * (batch % 4) for batch in range(10)) + 1
    received, _ = await asyncio.gather(take(follower, count), write())  # read while it is written
    await follower.aclose()
    expected = all_ids(ledger)

    assert [e.id for e in received] == expected
    assert received[-1].state == "finished"


async def test_after_resumes_with_no_gap_and_no_duplicate(hub: EventHub, ledger: SqliteLedger) -> None:
    begin(ledger, "r1")
    documents(ledger, "r1", *(f"{n}.txt" for n in range(5)))
    first = hub.follow(0)
    seen = await take(first, 4)
    await first.aclose()  # the client goes away mid-stream

    documents(ledger, "r1", "late.txt")
    finish(ledger, "r1")
    expected = all_ids(ledger)
    second = hub.follow(seen[-1].id)
    rest = await take(second, len(expected) - len(seen))
    await second.aclose()

    assert [e.id for e in seen + rest] == expected


async def test_the_run_filter_sees_only_that_run(hub: EventHub, ledger: SqliteLedger) -> None:
    follower = hub.follow(0, "r2")
    begin(ledger, "r1")
    begin(ledger, "r2")
    for n in range(4):
        documents(ledger, "r1", f"a{n}.txt", f"b{n}.txt")
        documents(ledger, "r2", f"c{n}.txt")
    finish(ledger, "r1")
    finish(ledger, "r2", exit_code=1)

    received = await take(follower, len(all_ids(ledger, "r2")))
    await follower.aclose()

    assert [e.id for e in received] == all_ids(ledger, "r2")
    assert {e.run_id for e in received} == {"r2"}
    assert (received[-1].type, received[-1].exit_code) == ("run", 1)


async def test_a_ledger_that_appears_after_the_start(state: Path) -> None:
    hub = EventHub(state, poll_s=0.02)
    await hub.start()
    try:
        assert hub.last_id == 0
        follower = hub.follow(hub.last_id)
        await asyncio.sleep(0.05)  # polled with no ledger: no events, no error
        ledger = SqliteLedger.open(state)
        begin(ledger, "r1")
        documents(ledger, "r1", "a.txt")
        received = await take(follower, 3)
        await follower.aclose()
        states = [(e.type, e.state) for e in received]
        assert states == [("run", "running"), ("document", "running"), ("document", "succeeded")]
        assert hub.last_id == 3
        ledger.close()
    finally:
        await hub.stop()


async def test_a_new_follower_from_last_id_sees_only_new_events(hub: EventHub, ledger: SqliteLedger) -> None:
    begin(ledger, "r1")
    documents(ledger, "r1", "old.txt")
    async with asyncio.timeout(5):
        while hub.last_id < 3:
            await asyncio.sleep(0.01)
    follower = hub.follow(hub.last_id)
    documents(ledger, "r1", "new.txt")
    received = await take(follower, 2)
    await follower.aclose()
    assert [e.document_id for e in received] == ["new.txt", "new.txt"]


async def test_stopping_the_hub_ends_every_stream(state: Path, ledger: SqliteLedger) -> None:
    hub = EventHub(state, poll_s=0.02)
    await hub.start()
    begin(ledger, "r1")

    async def drain() -> list[EventMessage]:
        return [event async for event in hub.follow(0)]

    followers = [asyncio.create_task(drain()) for _ in range(3)]
    await asyncio.sleep(0.1)
    await hub.stop()
    async with asyncio.timeout(2):
        results = await asyncio.gather(*followers)
    assert all([e.state for e in got] == ["running"] for got in results)
    assert [event async for event in hub.follow(0)] == []  # a stopped hub follows nothing
    await hub.stop()  # twice: nothing more to do
