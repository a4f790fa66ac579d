"""Operations: /v1/stats (the queue and the run going on), /healthz (the process answers), /readyz
(it can take work: ledger, run queue, memory), /metrics (Prometheus text exposition format)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import psutil
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from docbatch.checkpoint.reader import LedgerReader
from docbatch.models import RunStatus
from docbatch.server.auth import require_token
from docbatch.server.common import manager_of, read_ledger, settings_of
from docbatch.server.views import run_row, run_view

router = APIRouter(tags=["operations"])
DEFAULT_FLOOR_SHARE = 0.05
EXECUTOR_CHECK_S = 10.0  # /readyz: not ready below 5 % of the machine's memory available


class Stats(BaseModel):
    queued_runs: int
    queued_documents: int = Field(
        description="Uploaded documents waiting in queued runs (paths are counted once walked)."
    )
    running_run: str | None
    running: int = Field(description="Jobs running now.")
    concurrency: int
    executor: str
    workers: dict[str, object] = Field(default_factory=dict, description="The executor's own statistics.")
    docs_per_s: float
    pending: int = Field(description="Documents of the running run not finished yet.")
    error_kinds: dict[str, int] = Field(default_factory=dict, description="Of the running run.")
    events_last_id: int


async def _running_status(request: Request) -> RunStatus | None:
    manager = manager_of(request)
    if manager.current is None:
        return None
    run_id = manager.current[0].run_id
    return await read_ledger(settings_of(request), lambda reader: run_view(reader, run_row(reader, run_id)))


@router.get("/v1/stats", response_model=Stats, dependencies=[Depends(require_token)])
async def stats(request: Request) -> Stats:
    """Queue depth, the running run's progress and rate, its workers and error kinds."""
    manager = manager_of(request)
    settings = settings_of(request)
    running = await _running_status(request)
    return Stats(
        queued_runs=len(manager.queue),
        queued_documents=sum(queued.documents for queued in manager.queue),
        running_run=running.run_id if running else None,
        running=len(running.active) if running else 0,
        concurrency=settings.concurrency,
        executor=settings.executor,
        workers=running.executor_info if running else {},
        docs_per_s=running.docs_per_s if running else 0.0,
        pending=running.pending if running else 0,
        error_kinds=running.error_kinds if running else {},
        events_last_id=request.app.state.events.last_id,
    )


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """200 while the process answers (no token needed: for load balancers and systemd watchdogs)."""
    return {"status": "ok"}


@router.get("/readyz", dependencies=[Depends(require_token)])
async def readyz(request: Request) -> JSONResponse:
    """200 when the server can take work; 503 while the ledger cannot be read, the run queue is not
    served, a broker executor cannot be reached, or available memory is below the floor (5 % of
    the machine)."""
    settings = settings_of(request)
    checks: dict[str, Any] = {}
    try:
        await read_ledger(settings, lambda reader: reader.query("SELECT count(*) FROM runs"))
        checks["ledger"] = "ok"
    except Exception as error:
        checks["ledger"] = f"unusable: {error}"
    checks["queue"] = "ok" if manager_of(request).ready else "not serving"
    checks["executor"] = await _executor_check(request)
    memory = psutil.virtual_memory()
    floor = settings.memory_floor_bytes or int(memory.total * DEFAULT_FLOOR_SHARE)
    checks["memory"] = "ok" if memory.available >= floor else f"{memory.available} bytes available, floor {floor}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


async def _executor_check(request: Request) -> str:
    """A broker executor is reachable (connected and closed again, at most every 10 s; a broker
    that does not answer within 5 s counts as unusable); other executors need no check here."""
    from docbatch.brokers.urls import is_broker_url, open_transport

    settings = settings_of(request)
    if not is_broker_url(settings.executor):
        return "ok"
    cache: dict[str, tuple[float, str]] = request.app.state.__dict__.setdefault("executor_check", {})
    checked_at, verdict = cache.get("last", (0.0, ""))
    if time.monotonic() - checked_at < EXECUTOR_CHECK_S:
        return verdict
    transport = open_transport(settings.executor)
    try:
        await asyncio.wait_for(transport.connect(), timeout=5)
        verdict = "ok"
    except Exception as error:  # unreachable, refused, timed out: the reason, without any password
        verdict = f"unusable: {error}" if str(error) else f"unusable: {type(error).__name__}"
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(transport.close(), timeout=5)
    cache["last"] = (time.monotonic(), verdict)
    return verdict


@router.get("/metrics", dependencies=[Depends(require_token)], response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: queue, the running run's documents by state and rate, runs by status,
    the event sequence, and the server process's own (RSS, CPU, open files)."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.process_collector import ProcessCollector

    manager = manager_of(request)
    running = await _running_status(request)
    statuses = await read_ledger(settings_of(request), _runs_by_status)
    events_last_id = request.app.state.events.last_id

    class Snapshot:
        def collect(self) -> Iterator[GaugeMetricFamily]:
            yield GaugeMetricFamily("docbatch_queued_runs", "Runs accepted and not started.", value=len(manager.queue))
            documents = GaugeMetricFamily(
                "docbatch_run_documents", "The running run's documents by state.", labels=["state"]
            )
            for state, count in (running.states if running else {}).items():
                documents.add_metric([state], count)
            if running:
                documents.add_metric(["pending"], running.pending)
            yield documents
            yield GaugeMetricFamily(
                "docbatch_running_jobs", "Jobs running now.", value=len(running.active) if running else 0
            )
            yield GaugeMetricFamily(
                "docbatch_documents_per_second", "The running run's rate.", value=running.docs_per_s if running else 0
            )
            runs = GaugeMetricFamily("docbatch_runs", "Runs in the ledger by status.", labels=["status"])
            for status, count in statuses.items():
                runs.add_metric([status], count)
            yield runs
            yield GaugeMetricFamily("docbatch_events_last_id", "The ledger's last event id.", value=events_last_id)

    registry = CollectorRegistry()
    registry.register(Snapshot())
    ProcessCollector(registry=registry)
    body = await asyncio.to_thread(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _runs_by_status(reader: LedgerReader) -> dict[str, int]:
    """Runs by status, a 'running' one whose coordinator is gone counted as 'crashed' (as status shows)."""
    from docbatch.app.status import liveness
    from docbatch.checkpoint.reader import RUN_COLUMNS, RunRow

    counts = {
        str(status): int(str(count))
        for status, count in reader.query("SELECT status, count(*) FROM runs GROUP BY status")
    }
    now = time.time()
    for row in reader.query(f"SELECT {RUN_COLUMNS} FROM runs WHERE status = 'running'"):
        if liveness(RunRow(*row), now) == "crashed":  # type: ignore[arg-type]
            counts["running"] -= 1
            counts["crashed"] = counts.get("crashed", 0) + 1
    return counts
