import asyncio
import threading
import time

from docbatch.checkpoint.base import LedgerEvent
from docbatch.checkpoint.recorder import LedgerRecorder
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
