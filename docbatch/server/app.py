"""The ASGI application of `docbatch serve`: settings in ``app.state``, the run manager, the event hub
and the retention task started and stopped with the server (FastAPI's lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from docbatch import __version__
from docbatch.server.settings import ServerSettings


def create_app(settings: ServerSettings) -> FastAPI:
    """The application for ``settings``; nothing starts until the ASGI server runs its lifespan.
    Raises nothing itself; the lifespan raises LedgerUnusable when the ledger cannot be opened."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from docbatch.server.events import EventHub
        from docbatch.server.manager import RunManager
        from docbatch.server.retention import keep_pruning

        manager = RunManager(settings)
        hub = EventHub(settings.state_dir)
        app.state.manager = manager
        app.state.events = hub
        await manager.start()
        await hub.start()
        pruning = asyncio.create_task(keep_pruning(manager), name="docbatch-serve-retention")
        try:
            yield
        finally:
            pruning.cancel()
            await hub.stop()
            await manager.stop()

    app = FastAPI(
        title="docbatch",
        version=__version__,
        summary="Batch text and metadata extraction as a service: runs, uploads, live events.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    _include_routes(app)
    return app


def _include_routes(app: FastAPI) -> None:
    from docbatch.server.common import install_error_handlers
    from docbatch.server.dashboard import dashboard_router
    from docbatch.server.events import events_router
    from docbatch.server.routes_documents import router as documents
    from docbatch.server.routes_ops import router as operations
    from docbatch.server.routes_runs import router as runs

    install_error_handlers(app)
    for router in (runs, documents, events_router(), operations, dashboard_router()):
        app.include_router(router)
