"""The live event stream of `docbatch serve`: the ledger's `events` table (its id is the sequence)
followed over Server-Sent Events and WebSocket, resumable from any event id.

One EventHub per server polls ``SELECT max(id) FROM events`` a few times a second and wakes the
subscribers when the sequence moves; each subscriber then reads its own pages after its own cursor.
The hub holds no events, so memory stays flat however many pass and however slow a client is (a
slow client only slows its own reads: the server's writes wait for its socket). The ledger is
written by other connections and other processes; SQLite has one writer at a time, so every id up
to the largest one seen is committed and a cursor never skips an event still to come.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request, WebSocket, WebSocketDisconnect, status
from pydantic import BaseModel, ConfigDict
from sse_starlette import EventSourceResponse, ServerSentEvent

from docbatch.checkpoint.base import RUN_EVENT_SOURCE
from docbatch.checkpoint.sqlite import LEDGER_FILE
from docbatch.server.auth import require_token, websocket_allowed

POLL_S = 0.15  # how often the hub looks at the sequence's end
PAGE = 500  # events one subscriber reads at a time (its whole memory)
PING_S = 15  # an SSE comment line this often keeps proxies from closing an idle stream
SSE_GRACE_S = 2.0  # how long sse-starlette lets a stream end by itself when the server exits

_log = logging.getLogger("docbatch")
T = TypeVar("T")


class EventMessage(BaseModel):
    """One event as clients receive it (api.md, "Events"):

    ``{"id": 42, "type": "document", "run_id": "R", "document_id": "a.pdf", "state": "failed",
    "attempt": 1, "at": 1764489600.5, "error_kind": "parse", "message": "...", "exit_code": null}``;
    a run's event has ``type`` "run", ``document_id`` null and, when the run ended, its ``exit_code``.
    """

    model_config = ConfigDict(frozen=True)

    id: int
    type: Literal["document", "run"]
    run_id: str
    document_id: str | None
    state: str
    attempt: int
    at: float
    error_kind: str | None
    message: str | None
    exit_code: int | None


# Named as EventMessage's fields; `document_id` and `details` are made over by _message.
_COLUMNS = "id, run_id, source_id AS document_id, state, attempt, at, error_kind, message, details"
_FIELDS = ("id", "run_id", "document_id", "state", "attempt", "at", "error_kind", "message", "details")


def open_ledger(state_dir: Path) -> sqlite3.Connection | None:
    """A read-only connection to the ledger of ``state_dir`` (WAL: it never blocks the writer), or
    None while there is no ledger yet."""
    path = (state_dir / LEDGER_FILE).absolute()
    if not path.is_file():
        return None
    try:
        return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    except sqlite3.OperationalError:  # gone again, or not readable yet
        return None


def read_events(
    source: Path | sqlite3.Connection, after: int, limit: int, run_id: str | None = None, *, upto: int | None = None
) -> list[EventMessage]:
    """Up to ``limit`` events with ``after < id [<= upto]`` in id order, of run ``run_id`` when given.
    ``source``: a state folder (a read-only connection is opened and closed) or an open connection.
    A ledger that does not exist yet, or has no events table yet, has no events."""
    if not isinstance(source, sqlite3.Connection):
        connection = open_ledger(source)
        if connection is None:
            return []
        with contextlib.closing(connection):
            return read_events(connection, after, limit, run_id, upto=upto)
    sql = f"SELECT {_COLUMNS} FROM events WHERE id > ?"
    parameters: tuple[object, ...] = (after,)
    if upto is not None:
        sql, parameters = f"{sql} AND id <= ?", (*parameters, upto)
    if run_id is not None:
        # `+run_id`: walk the ids from the cursor (a follower is near the end), not the (run_id, state)
        # index, which would sort every event of the run for every page.
        sql, parameters = f"{sql} AND +run_id = ?", (*parameters, run_id)
    return [_message(row) for row in _rows(source, f"{sql} ORDER BY id LIMIT ?", *parameters, limit)]


def last_event_id(connection: sqlite3.Connection) -> int:
    """The sequence's end: the largest event id, 0 for none (or no events table yet)."""
    found = _rows(connection, "SELECT max(id) FROM events")
    return found[0][0] if found and isinstance(found[0][0], int) else 0


def _rows(connection: sqlite3.Connection, sql: str, *parameters: object) -> list[tuple[object, ...]]:
    try:
        return connection.execute(sql, parameters).fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):  # a ledger being created
            return []
        raise


def _message(row: tuple[object, ...]) -> EventMessage:
    fields = dict(zip(_FIELDS, row, strict=True))
    details = fields.pop("details")
    is_run = fields["document_id"] == RUN_EVENT_SOURCE
    fields["type"] = "run" if is_run else "document"
    fields["exit_code"] = _exit_code(details) if is_run else None
    if is_run:
        fields["document_id"] = None
    return EventMessage.model_validate(fields)


def _exit_code(details: object) -> int | None:
    """The exit code a run's end carries in its details (``{"exit_code": N}``)."""
    if not isinstance(details, str):
        return None
    try:
        value = json.loads(details).get("exit_code")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


class EventHub:
    """The server's one follower of the ledger's event sequence (see the module's docstring).

    Every read runs in one thread of the hub's own, which alone uses the hub's read-only connection:
    reads never wait on the default thread pool the routes use, and stopping never closes the
    connection under a read still running."""

    def __init__(self, state_dir: Path, *, poll_s: float = POLL_S, page: int = PAGE) -> None:
        self._state_dir = state_dir
        self._poll_s = poll_s
        self._page = page
        self._connection: sqlite3.Connection | None = None  # touched only in the executor's thread
        self._executor: ThreadPoolExecutor | None = None
        self._poller: asyncio.Task[None] | None = None
        self._last_id = 0
        self._moved = asyncio.Event()  # set (and replaced) whenever the sequence's end moves
        self._stopped = False
        self._failing = ""

    @property
    def last_id(self) -> int:
        """The largest event id seen (0 before the first event): where a new follower starts."""
        return self._last_id

    async def start(self) -> None:
        """Read where the sequence ends, then poll it in the background."""
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="docbatch-events")
        with contextlib.suppress(sqlite3.Error):  # the poller tells it, and retries
            self._last_id = await self._call(self._read_last_id)
        self._poller = asyncio.create_task(self._poll(), name="docbatch-events")

    async def stop(self) -> None:
        """End every follower's stream and the poller; release the connection. Cancelled midway
        (by a stream that ended meanwhile), a later call finishes the job."""
        self._stopped = True
        self._wake()
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
            await asyncio.wait([poller])
        executor, self._executor = self._executor, None
        if executor is not None:  # no read starts any more: followers look at `_stopped` first
            closed = executor.submit(self._close)  # after the reads already queued, in the same thread
            executor.shutdown(wait=False)  # its thread ends once the queue is done
            await asyncio.wrap_future(closed)

    async def follow(self, after: int, run_id: str | None = None) -> AsyncGenerator[EventMessage, None]:
        """Every event with an id above ``after`` (of run ``run_id`` when given), in id order, each
        once, as the ledger receives them; ends when the hub stops. Holds at most one page."""
        cursor = after
        while not self._stopped:
            moved, upto = self._moved, self._last_id
            while cursor < upto and not self._stopped:
                page = await self._call(self._read_page, cursor, upto, run_id)
                for event in page:
                    yield event
                # A short page read everything up to `upto`: the cursor moves past other runs' events.
                cursor = page[-1].id if len(page) == self._page else upto
            if not self._stopped:
                await moved.wait()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                last = await self._call(self._read_last_id)
            except (sqlite3.Error, OSError) as error:
                if str(error) != self._failing:  # once per distinct problem, not 7 times a second
                    _log.warning("events: cannot read the ledger in %s: %s", self._state_dir, error)
                    self._failing = str(error)
                await self._call(self._close)  # reopened on the next try
                continue
            self._failing = ""
            if last != self._last_id:
                self._last_id = last
                self._wake()

    def _wake(self) -> None:
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def _call(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    # In the hub's thread only:

    def _ledger(self) -> sqlite3.Connection | None:
        if self._connection is None:
            self._connection = open_ledger(self._state_dir)
        return self._connection

    def _read_last_id(self) -> int:
        connection = self._ledger()
        return 0 if connection is None else last_event_id(connection)

    def _read_page(self, after: int, upto: int, run_id: str | None) -> list[EventMessage]:
        connection = self._ledger()
        return [] if connection is None else read_events(connection, after, self._page, run_id, upto=upto)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# The routes ----------------------------------------------------------------------------------------

AFTER_HELP = (
    "Send the events with a larger id. Omitted: only events from now on (the newest id the server "
    "has seen); 0 replays the whole ledger. On SSE a Last-Event-ID header (a reconnecting EventSource) wins."
)
After = Annotated[int | None, Query(ge=0, description=AFTER_HELP)]
Run = Annotated[str | None, Query(min_length=1, max_length=200, description="Only this run's events (its id).")]


def events_router() -> APIRouter:
    """``GET /v1/events`` (Server-Sent Events) and the WebSocket on the same path."""
    router = APIRouter(tags=["events"])
    router.add_api_route(
        "/v1/events",
        sse_events,
        methods=["GET"],
        dependencies=[Depends(require_token)],
        response_class=EventSourceResponse,
        summary="The event stream as Server-Sent Events (`id:` = event id, data = one Event as JSON)",
    )
    router.add_api_websocket_route("/v1/events", websocket_events)
    return router


async def sse_events(
    request: Request,
    after: After = None,
    run: Run = None,
    last_event_id: Annotated[int | None, Header(ge=0, alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    """The event stream over SSE; a ping comment every 15 s; ends when the server stops."""
    hub: EventHub = request.app.state.events
    start = last_event_id if last_event_id is not None else after
    events = hub.follow(hub.last_id if start is None else start, run)
    # uvicorn runs the lifespan's shutdown (hub.stop) only once every connection has closed; sse-starlette
    # sees the server's exit before that (its signal) and sets `exiting`: the hub stops then, so that
    # every stream ends with its last chunk instead of being cut.
    exiting = anyio.Event()
    return EventSourceResponse(
        _sse(hub, events, exiting), ping=PING_S, shutdown_event=exiting, shutdown_grace_period=SSE_GRACE_S
    )


async def _sse(
    hub: EventHub, events: AsyncGenerator[EventMessage, None], exiting: anyio.Event
) -> AsyncIterator[ServerSentEvent]:
    watcher = asyncio.create_task(_stop_on(exiting, hub))
    try:
        async with contextlib.aclosing(events):
            async for event in events:
                yield ServerSentEvent(data=event.model_dump_json(), id=str(event.id))
    finally:
        watcher.cancel()


async def _stop_on(exiting: anyio.Event, hub: EventHub) -> None:
    await exiting.wait()
    await hub.stop()


async def websocket_events(websocket: WebSocket, after: After = None, run: Run = None) -> None:
    """The event stream over a WebSocket: one JSON text message per event. Messages from the
    client are read and ignored. Closed with 1001 when the server stops (uvicorn says 1012)."""
    if not await websocket_allowed(websocket):
        return
    hub: EventHub = websocket.app.state.events
    events = hub.follow(hub.last_id if after is None else after, run)
    await websocket.accept()
    sender = asyncio.create_task(_send_all(websocket, events))
    listener = asyncio.create_task(_until_disconnect(websocket))
    try:
        done, _ = await asyncio.wait({sender, listener}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, listener):
            task.cancel()
        await asyncio.gather(sender, listener, return_exceptions=True)
    error = None if listener in done or sender.cancelled() else sender.exception()
    if listener in done or sender.cancelled() or isinstance(error, (WebSocketDisconnect, OSError)):
        return  # the client left
    if error is not None:  # the ledger could not be read: the client reconnects with `after`
        _log.warning("events: a WebSocket stream failed: %s", error, exc_info=error)
    code = status.WS_1011_INTERNAL_ERROR if error is not None else status.WS_1001_GOING_AWAY
    with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
        await websocket.close(code=code)


async def _send_all(websocket: WebSocket, events: AsyncGenerator[EventMessage, None]) -> None:
    async with contextlib.aclosing(events):
        async for event in events:
            await websocket.send_text(event.model_dump_json())


async def _until_disconnect(websocket: WebSocket) -> None:
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass
