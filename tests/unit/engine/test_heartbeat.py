"""The run's pulse: counters published for `docbatch status`, and the C heap trimmed now and then."""

from __future__ import annotations

import asyncio
import types

import pytest

from docbatch.engine import heartbeat
from docbatch.processes import trim_memory
from docbatch.report.progress import RunProgress


class _Ledger:
    def __init__(self) -> None:
        self.beats = 0

    def heartbeat(self, run_id: str, at: float, counts_json: str) -> None:
        self.beats += 1


def test_the_coordinator_gives_freed_heap_pages_back_every_few_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    # Freed blocks kept by the C heap (a thread's arena) made a long run's RSS creep up between
    # the tenth and the millionth document: every TRIM_EVERY heartbeats they are given back.
    trims: list[int] = []
    ledger = _Ledger()
    monkeypatch.setattr(heartbeat, "HEARTBEAT_INTERVAL_S", 0.001)
    monkeypatch.setattr(heartbeat, "trim_memory", lambda: trims.append(ledger.beats) or True)
    run = types.SimpleNamespace(run_id="r", progress=RunProgress(), governor=None, executor_started=False, stopper=None)

    async def beat() -> None:
        task = asyncio.create_task(heartbeat.publish_heartbeats(run, ledger))  # type: ignore[arg-type]
        while ledger.beats < 3 * heartbeat.TRIM_EVERY:
            await asyncio.sleep(0.001)
        task.cancel()

    asyncio.run(beat())
    assert trims[:3] == [heartbeat.TRIM_EVERY - 1, 2 * heartbeat.TRIM_EVERY - 1, 3 * heartbeat.TRIM_EVERY - 1]


def test_trimming_is_glibc_s_and_harmless() -> None:
    assert trim_memory() is True  # this machine runs glibc; elsewhere it is a no-op returning False
    kept = [bytes(1 << 20) for _ in range(8)]
    del kept
    assert trim_memory() is True
