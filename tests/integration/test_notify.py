"""Webhook and completion command at the end of a run, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_texts


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:  # keep test output clean
        return None


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_webhook_receives_a_signed_summary(tmp_path: Path, receiver: str) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt", "b.txt")
    secret = "s3cret"
    result = run_cli("run", str(docs), "-q", "--notify", receiver, cwd=tmp_path, env={"DOCBATCH_NOTIFY_SECRET": secret})
    assert result.returncode == 0, result.stderr
    ((headers, body),) = _Receiver.received
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Docbatch-Signature"], expected)
    payload = json.loads(body)
    assert payload["event"] == "run.finished" and payload["exit_code"] == 0
    assert payload["counts"]["succeeded"] == 2
    assert Path(payload["report"]).is_file()


def test_a_dead_endpoint_is_logged_and_does_not_change_the_exit_code(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    docs = write_texts(tmp_path / "docs", "a.txt")
    (docs / "broken.json").write_text("{")
    result = run_cli("run", str(docs), "-q", "--notify", dead, cwd=tmp_path)
    assert result.returncode == 1  # the run's own outcome: one corrupt document
    assert "notification to" in result.stderr and "failed after 3 attempts" in result.stderr


def test_on_complete_runs_without_a_shell_and_gets_the_report_path(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    marker = tmp_path / "seen.txt"
    command = f"cp {{report}} {marker}; touch {tmp_path / 'PWNED'}"
    result = run_cli("run", str(docs), "-q", "--on-complete", command, cwd=tmp_path)
    assert result.returncode == 0
    assert not (tmp_path / "PWNED").exists()  # the ';' reached cp as an argument, not a shell
    simple = run_cli("run", str(docs), "-q", "--force", "--on-complete", f"cp {{report}} {marker}", cwd=tmp_path)
    assert simple.returncode == 0
    assert json.loads(marker.read_text())["counts"]["succeeded"] == 1


@pytest.mark.parametrize(
    "url", ["example.com/hook", "ftp://example.com/hook", "http://", "https:///hook", "http://exa mple.com/hook"]
)
def test_a_malformed_notify_url_is_a_usage_error_before_the_batch(tmp_path: Path, url: str) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    result = run_cli("run", str(docs), "-q", "--notify", url, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"docbatch: error: --notify {url!r}: ") and result.stderr.count("\n") == 1
    assert not (tmp_path / "docbatch-out").exists()  # nothing was processed


class _Failing(BaseHTTPRequestHandler):
    calls = 0

    def do_POST(self) -> None:
        _Failing.calls += 1
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def test_an_endpoint_answering_500_is_one_logged_line_and_the_exit_code_stands(tmp_path: Path) -> None:
    _Failing.calls = 0
    server = HTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        docs = write_texts(tmp_path / "docs", "a.txt")
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        result = run_cli("run", str(docs), "-q", "--notify", url, cwd=tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0  # the run's own outcome
    assert _Failing.calls == 3
    (line,) = result.stderr.splitlines()
    assert line.endswith(f"docbatch error: notification to {url} failed after 3 attempts: HTTP 500")


@pytest.mark.parametrize("answer", [None, b"garbage, not HTTP\r\n\r\n"], ids=["silent", "garbage"])
def test_an_endpoint_that_never_answers_or_answers_garbage_is_a_failed_delivery(answer: bytes | None) -> None:
    from docbatch.app.notify import post_webhook

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            accepted.append(connection)
            if answer is not None:
                connection.recv(65536)
                connection.sendall(answer)
                connection.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
        assert post_webhook(url, {"event": "run.finished"}, timeout_s=0.3, attempts=2) is False
    finally:
        listener.close()
        for connection in accepted:
            connection.close()
