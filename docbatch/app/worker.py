"""The `docbatch worker` use case: connect to a broker, then serve batches until told to stop.

``start_worker`` connects at once (so a broker that cannot be reached is one error and exit 2
before anything runs) and returns a ``WorkerHandle``; ``drain`` and ``kill_now`` are what the CLI's
signal handlers call.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from docbatch.brokers.transport import TransportSettings
from docbatch.brokers.urls import open_transport
from docbatch.executors.broker_worker import BrokerWorker, WorkerOptions

_log = logging.getLogger("docbatch")


@dataclass
class WorkerHandle:
    """A connected worker. ``serve()`` runs it until drained; ``drain()`` asks it to finish its
    current jobs and hand the rest back; ``kill_now()`` kills the running jobs."""

    worker: BrokerWorker

    async def serve(self) -> None:
        """Raises BrokerUnavailable when the broker is lost for good."""
        try:
            await self.worker.serve()
        finally:
            await self.worker.transport.close()

    def drain(self) -> None:
        self.worker.drain()

    def kill_now(self) -> None:
        self.worker.kill_now()

    @property
    def draining(self) -> bool:
        return self.worker.draining


async def start_worker(url: str, options: WorkerOptions) -> WorkerHandle:
    """Connect to the broker at ``url`` with ``options.concurrency`` slots.

    Raises ConfigError for a malformed URL or a missing client extra, BrokerUnavailable when the
    broker cannot be reached (both exit 2)."""
    transport = open_transport(url, TransportSettings())
    # RabbitMQ pushes up to its prefetch count to a consumer: exactly the slots, never more.
    if hasattr(transport, "prefetch"):
        transport.prefetch = options.concurrency
    await transport.connect()
    worker = BrokerWorker(transport, options)
    _log.info("worker %s: %d slots on %s", worker.identity, options.concurrency, transport.name)
    return WorkerHandle(worker)


def run_worker_blocking(url: str, options: WorkerOptions) -> None:
    """For scripts and tests: start and serve in a fresh event loop until drained."""

    async def main() -> None:
        handle = await start_worker(url, options)
        await handle.serve()

    asyncio.run(main())
