import asyncio
import threading
import time

from docbatch.checkpoint.base import LedgerEvent
from docbatch.checkpoint.recorder import LedgerRecorder
from docbatch.errors import LedgerUnusable
from docbatch.models import JobState


class SlowLedger:
    """Applies batches slowly, as a large ledger on a slow disk would."""

    def __init__(self) -> None:
        self.applied = 0
        self.lock = threading.Lock()

    def apply(self, events: list[LedgerEvent]) -> None:
        time.sleep(0.05)
        with self.lock:
            self.applied += len(events)


async def test_producers_wait_while_the_ledger_is_far_behind() -> None:
    ledger = SlowLedger()
    recorder = LedgerRecorder(ledger, interval_s=0.01, backlog_limit=100)  # type: ignore[arg-type]
    recorder.start()
    most_pending = 0
    for index in range(2000):
        await recorder.room()
        recorder.record(LedgerEvent("r", f"d{index}", JobState.RUNNING, 1.0))
        most_pending = max(most_pending, len(recorder._pending))
    await recorder.close()
    assert ledger.applied == 2000  # nothing lost
    assert most_pending <= 100  # and never more than the limit waiting in memory


async def test_room_returns_at_once_when_the_recorder_is_not_running() -> None:
    recorder = LedgerRecorder(SlowLedger(), backlog_limit=1)  # type: ignore[arg-type]
    recorder.record(LedgerEvent("r", "d", JobState.RUNNING, 1.0))
    recorder.record(LedgerEvent("r", "e", JobState.RUNNING, 1.0))
    await asyncio.wait_for(recorder.room(), 1.0)


class FullDiskLedger:
    """Refuses writes as a ledger on a full disk does, until ``room`` is made."""

    def __init__(self) -> None:
        self.room = False
        self.applied: list[str] = []

    def apply(self, events: list[LedgerEvent]) -> None:
        if not self.room:
            raise LedgerUnusable("state/ledger.sqlite: cannot write the ledger: disk full (database or disk is full)")
        self.applied += [event.source_id for event in events]


async def test_a_ledger_refusing_writes_is_reported_once_and_its_events_kept_for_the_last_flush() -> None:
    ledger = FullDiskLedger()
    failures: list[str] = []
    recorder = LedgerRecorder(
        ledger,  # type: ignore[arg-type]
        interval_s=0.01,
        backlog_limit=1,
        on_failure=lambda error: failures.append(str(error)),
    )
    recorder.start()
    recorder.record(LedgerEvent("r", "a", JobState.RUNNING, 1.0))
    await asyncio.sleep(0.1)  # several flushes, all refused
    recorder.record(LedgerEvent("r", "b", JobState.RUNNING, 1.0))
    await asyncio.wait_for(recorder.room(), 1)  # producers are not held up by a ledger that will not catch up
    assert failures == ["state/ledger.sqlite: cannot write the ledger: disk full (database or disk is full)"]
    ledger.room = True  # the run stopped and freed room: the last flush gets everything in, in order
    await recorder.close()
    assert ledger.applied == ["a", "b"]


async def test_events_a_ledger_refuses_to_the_end_are_dropped_without_an_error() -> None:
    recorder = LedgerRecorder(FullDiskLedger(), interval_s=0.01)  # type: ignore[arg-type]
    recorder.start()
    recorder.record(LedgerEvent("r", "a", JobState.RUNNING, 1.0))
    await recorder.close()  # no exception: the documents stay as the ledger last knew them
    assert recorder.failure is not None
