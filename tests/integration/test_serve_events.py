"""The event stream of the real app under uvicorn on loopback: every event the ledger receives
reaches a WebSocket and an SSE client exactly once, a reconnect with `after` (or Last-Event-ID)
resumes with no gap and no duplicate, the token is enforced, and stopping the server ends the
streams it holds open."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from docbatch.checkpoint.base import LedgerEvent, RunRecord
from docbatch.checkpoint.sqlite import SqliteLedger
from docbatch.models import JobState
from docbatch.server.app import create_app
from docbatch.server.events import EventHub
from docbatch.server.settings import ServerSettings

TOKEN = "t0ken-for-tests"


class LiveServer:
    """The app under uvicorn in a thread, on a free loopback port."""

    def __init__(self, settings: ServerSettings) -> None:
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_config=None, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the server did not start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.http = f"http://127.0.0.1:{port}/v1/events"
        self.ws = f"ws://127.0.0.1:{port}/v1/events"
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        assert not self.thread.is_alive(), "the server did not stop"

    @property
    def hub(self) -> EventHub:
        hub: EventHub = self.app.state.events
        return hub

    def seen(self, last_id: int) -> None:
        """Wait until the hub has seen the sequence reach ``last_id``."""
        deadline = time.monotonic() + 5
        while self.hub.last_id < last_id:
            assert time.monotonic() < deadline
            time.sleep(0.01)


@pytest.fixture
def live(state: Path) -> Iterator[LiveServer]:
    with LiveServer(ServerSettings(state_dir=state)) as server:
        yield server


def write_run(ledger: SqliteLedger, run_id: str, documents: int, *, finish: bool = True) -> None:
    ledger.begin_run(RunRecord(run_id, time.time(), 1, "h", "docbatch run", "{}", "/out", "local"))
    write_documents(ledger, run_id, documents)
    if finish:
        ledger.finish_run(
            run_id, status="finished", finished_at=time.time(), exit_code=0, report_path=None, counts_json="{}"
        )


def write_documents(ledger: SqliteLedger, run_id: str, count: int, prefix: str = "d") -> None:
    for n in range(count):
        at = time.time()
        ledger.apply(
            [
                LedgerEvent(run_id, f"{prefix}{n}.txt", JobState.RUNNING, at, attempt=1),
                LedgerEvent(run_id, f"{prefix}{n}.txt", JobState.SUCCEEDED, at, attempt=1),
            ]
        )


def all_ids(ledger: SqliteLedger) -> list[int]:
    return [int(row[0]) for row in ledger.query("SELECT id FROM events ORDER BY id")]  # type: ignore[call-overload]


def connect(url: str, **options: Any) -> ClientConnection:
    """A WebSocket client that buffers what it has not read: with its default bounded queue it
    stops reading the socket, and so the server's close frame, while unread events wait (a close
    then takes its whole 10 s timeout)."""
    return ws_connect(url, max_queue=None, **options)


def ws_take(websocket: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [json.loads(websocket.recv(timeout=5)) for _ in range(count)]


def sse_take(lines: Iterator[str], count: int) -> list[tuple[int, dict[str, Any]]]:
    """The next ``count`` events of an SSE response's ``lines`` as (the `id:` field, the data parsed)."""
    events: list[tuple[int, dict[str, Any]]] = []
    fields: dict[str, str] = {}
    for line in lines:
        if not line:  # the end of one event
            if "data" in fields:
                events.append((int(fields["id"]), json.loads(fields["data"])))
            fields = {}
            if len(events) == count:
                return events
        elif not line.startswith(":"):  # not a ping comment
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
    raise AssertionError(f"the stream ended after {len(events)} of {count} events")


def test_every_event_reaches_a_websocket_and_an_sse_client_once(live: LiveServer, ledger: SqliteLedger) -> None:
    write_run(ledger, "r1", 30)  # before they connect: replayed with after=0
    with (
        connect(f"{live.ws}?after=0") as websocket,
        httpx.Client(timeout=5) as client,
        client.stream("GET", live.http, params={"after": 0}) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        write_run(ledger, "r2", 30)  # while they are connected
        expected = all_ids(ledger)
        over_ws = ws_take(websocket, len(expected))
        over_sse = sse_take(response.iter_lines(), len(expected))

    assert [event["id"] for event in over_ws] == expected
    assert [event_id for event_id, _ in over_sse] == expected
    assert [data for _, data in over_sse] == over_ws
    first, last = over_ws[0], over_ws[-1]
    assert (first["type"], first["state"], first["document_id"]) == ("run", "running", None)
    assert (last["type"], last["run_id"], last["state"], last["exit_code"]) == ("run", "r2", "finished", 0)
    assert set(first) == {
        "id", "type", "run_id", "document_id", "state", "attempt", "at", "error_kind", "message", "exit_code",
    }  # fmt: skip


def test_a_reconnect_with_after_misses_nothing_and_repeats_nothing(live: LiveServer, ledger: SqliteLedger) -> None:
    write_run(ledger, "r1", 10, finish=False)
    with connect(f"{live.ws}?after=0") as websocket:
        first = ws_take(websocket, 7)  # and the client drops mid-stream
    write_documents(ledger, "r1", 10, prefix="late")
    expected = all_ids(ledger)
    with connect(f"{live.ws}?after={first[-1]['id']}") as websocket:
        rest = ws_take(websocket, len(expected) - len(first))
    assert [event["id"] for event in first + rest] == expected

    # SSE: a reconnecting EventSource sends Last-Event-ID, which wins over the ?after= of its URL.
    with httpx.Client(timeout=5) as client:
        with client.stream("GET", live.http, params={"after": 0}) as response:
            before = sse_take(response.iter_lines(), 5)
        headers = {"Last-Event-ID": str(before[-1][0])}
        with client.stream("GET", live.http, params={"after": 0}, headers=headers) as response:
            after = sse_take(response.iter_lines(), len(expected) - len(before))
    assert [event_id for event_id, _ in before + after] == expected


def test_without_after_only_new_events_and_the_run_filter(live: LiveServer, ledger: SqliteLedger) -> None:
    write_run(ledger, "old", 3)
    live.seen(all_ids(ledger)[-1])
    with connect(f"{live.ws}?run=r2") as only_r2, connect(live.ws) as everything:
        write_run(ledger, "r1", 2)
        write_run(ledger, "r2", 2)
        rows = ledger.query("SELECT id, run_id FROM events ORDER BY id")
        r2 = [event_id for event_id, run_id in rows if run_id == "r2"]
        new = [event_id for event_id, run_id in rows if run_id != "old"]
        assert [event["id"] for event in ws_take(only_r2, len(r2))] == r2
        assert [event["id"] for event in ws_take(everything, len(new))] == new


def test_a_bad_after_is_refused(live: LiveServer) -> None:
    with httpx.Client(timeout=5) as client:
        for params, headers in (({"after": "-1"}, {}), ({"after": "x"}, {}), ({}, {"Last-Event-ID": "x"})):
            assert client.get(live.http, params=params, headers=headers).status_code == 422
    with pytest.raises(InvalidStatus) as refused:  # closed before the handshake: 403
        connect(f"{live.ws}?after=-1")
    assert refused.value.response.status_code == 403


def test_the_token_is_required_when_set(state: Path, ledger: SqliteLedger) -> None:
    write_run(ledger, "r1", 1)
    with LiveServer(ServerSettings(state_dir=state, token=SecretStr(TOKEN))) as live:
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{live.ws}?after=0")
        assert refused.value.response.status_code == 403
        with connect(f"{live.ws}?after=0", additional_headers={"Authorization": f"Bearer {TOKEN}"}) as websocket:
            assert ws_take(websocket, 1)[0]["state"] == "running"

        with httpx.Client(timeout=5) as client:
            assert client.get(live.http, params={"after": 0}).status_code == 401
            assert client.get(live.http, headers={"Authorization": "Bearer wrong"}).status_code == 401
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with client.stream("GET", live.http, params={"after": 0}, headers=headers) as response:
                assert response.status_code == 200
                assert sse_take(response.iter_lines(), 1)[0][1]["state"] == "running"


_SERVE = """
import sys
from pathlib import Path
import uvicorn
from docbatch.server.app import create_app
from docbatch.server.settings import ServerSettings
uvicorn.run(create_app(ServerSettings(state_dir=Path(sys.argv[1]))), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="warning")
"""


def test_stopping_the_server_ends_open_streams(state: Path, ledger: SqliteLedger) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    write_run(ledger, "r1", 1)
    server = subprocess.Popen([sys.executable, "-c", _SERVE, str(state), str(port)], env={**os.environ})
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/events?after=-1", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
                time.sleep(0.05)
        with (
            connect(f"ws://127.0.0.1:{port}/v1/events?after=0") as websocket,
            httpx.Client(timeout=5) as client,
            client.stream("GET", f"http://127.0.0.1:{port}/v1/events", params={"after": 0}) as response,
        ):
            ws_take(websocket, 4)  # the whole ledger: one run of one document
            lines = response.iter_lines()
            sse_take(lines, 4)
            started = time.monotonic()
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=10) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it stopped on
            stopped_in = time.monotonic() - started
            assert stopped_in < 5, stopped_in
            with pytest.raises(ConnectionClosed):
                websocket.recv(timeout=5)
            assert list(lines) == []  # the SSE stream ended
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
