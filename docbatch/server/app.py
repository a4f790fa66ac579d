"""The ASGI application of `docbatch serve`: settings in ``app.state``, the run manager, the event hub
and the retention task started and stopped with the server (FastAPI's lifespan)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from docbatch import __version__
from docbatch.server.settings import ServerSettings


def create_app(settings: ServerSettings) -> FastAPI:
    """The application for ``settings``; nothing starts until the ASGI server runs its lifespan."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from docbatch.server.events import EventHub

        hub = EventHub(settings.state_dir)
        app.state.events = hub
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

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
    from docbatch.server.events import events_router

    app.include_router(events_router())
