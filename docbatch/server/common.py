"""What every route shares: the server's parts from ``app.state``, ledger reads in a worker thread,
and the mapping of docbatch's errors to HTTP statuses (one JSON `detail` line each)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from docbatch.errors import ConfigError, LedgerError, LedgerUnusable
from docbatch.server.settings import ServerSettings
from docbatch.server.submissions import PathNotAllowed
from docbatch.server.uploads import UploadRejected
from docbatch.server.views import NotFound

if TYPE_CHECKING:
    from docbatch.checkpoint.reader import LedgerReader
    from docbatch.server.manager import RunManager

T = TypeVar("T")


class Gone(Exception):
    """Pruned by retention (HTTP 410): ``expired_at`` is when (epoch seconds)."""

    def __init__(self, what: str, expired_at: float) -> None:
        super().__init__(f"{what} expired (pruned after the server's --keep)")
        self.expired_at = expired_at


class Conflict(Exception):
    """Not possible in the run's or document's present state (HTTP 409)."""


def settings_of(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


def manager_of(request: Request) -> RunManager:
    manager: RunManager = request.app.state.manager
    return manager


async def read_ledger(settings: ServerSettings, read: Callable[..., T], *args: Any) -> T:
    """``read(reader, *args)`` with a read-only ledger connection of its own, in a worker thread."""
    from docbatch.checkpoint.reader import LedgerReader

    def work() -> T:
        reader: LedgerReader = LedgerReader.open(settings.state_dir)
        try:
            return read(reader, *args)
        finally:
            reader.close()

    return await asyncio.to_thread(work)


def install_error_handlers(app: FastAPI) -> None:
    statuses: list[tuple[type[Exception], int]] = [
        (NotFound, 404), (PathNotAllowed, 403), (ConfigError, 422), (Conflict, 409),
        (LedgerUnusable, 503), (LedgerError, 404),
    ]  # fmt: skip
    for kind, status in statuses:
        app.add_exception_handler(kind, _handler(status))

    async def rejected(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, UploadRejected)
        return JSONResponse({"detail": str(error)}, status_code=error.status)

    async def gone(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, Gone)
        return JSONResponse({"detail": str(error), "expired_at": error.expired_at}, status_code=410)

    app.add_exception_handler(UploadRejected, rejected)
    app.add_exception_handler(Gone, gone)


def _handler(status: int) -> Callable[[Request, Exception], Any]:
    async def handle(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=status)

    return handle
