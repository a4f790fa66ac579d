"""The ASGI application of `docbatch serve`: settings in ``app.state``, the run manager, the event hub
and the retention task started and stopped with the server (FastAPI's lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

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
        docs_url=None,  # served below, behind the token like every endpoint but /healthz
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    _include_routes(app)
    _include_docs(app)
    _limit_bodies(app)
    return app


def _include_docs(app: FastAPI) -> None:
    from fastapi import Depends
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse, JSONResponse

    from docbatch.server.auth import require_token

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require_token)])
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(require_token)])
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="docbatch API")


MAX_JSON_BODY_BYTES = 1 << 20


def _limit_bodies(app: FastAPI) -> None:
    """Request bodies other than uploads are small JSON: past 1 MiB (by Content-Length) they are
    refused with 413 before they are read, and a body without a length is refused with 411."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    @app.middleware("http")
    async def limit(request: Request, call_next: Any) -> Any:
        if request.method in ("POST", "PUT", "PATCH") and request.url.path != "/v1/documents":
            length = request.headers.get("content-length")
            if length is None and request.headers.get("transfer-encoding"):
                return JSONResponse({"detail": "send a Content-Length with the JSON body"}, status_code=411)
            if length is not None and (not length.isdigit() or int(length) > MAX_JSON_BODY_BYTES):
                return JSONResponse({"detail": f"request body over {MAX_JSON_BODY_BYTES} bytes"}, status_code=413)
        return await call_next(request)


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
