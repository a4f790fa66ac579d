"""`docbatch serve` as a user runs it: a real server process on a loopback port, driven over HTTP."""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import run_cli
from tests.helpers.outputs import output_files
from tests.helpers.server import ServerProcess, wait_run

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def served(tmp_path: Path, sample_docs: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path, "--state", str(tmp_path / "state"), "--root", str(sample_docs.parent), "-j", "2")
    yield server
    server.stop()


def test_a_run_by_path_ends_as_the_same_run_on_the_command_line(
    served: ServerProcess, tmp_path: Path, sample_docs: Path
) -> None:
    with served.client() as client:
        accepted = client.post("/v1/runs", json={"paths": [str(sample_docs)]})
        assert accepted.status_code == 202 and accepted.headers["location"] == accepted.json()["status_url"]
        view = wait_run(client, accepted.json()["run_id"])
        failed = client.get(f"/v1/runs/{view['run_id']}/documents", params={"state": "dead"}).json()["documents"]
        report = client.get(f"/v1/runs/{view['run_id']}/report").json()
        html = client.get(f"/v1/runs/{view['run_id']}/report.html")
    cli = run_cli(
        "run", str(sample_docs), "-o", str(tmp_path / "cli-out"), "--state", str(tmp_path / "cli-state"), cwd=tmp_path
    )
    cli_counts = {key: value for key, value in _report_counts(tmp_path / "cli-out").items() if value}
    assert cli.returncode == 1 and view["exit_code"] == 1 and view["status"] == "finished"
    assert (
        {state: count for state, count in view["states"].items() if count} == cli_counts == {"succeeded": 15, "dead": 1}
    )
    assert output_files(Path(view["output_dir"])) == output_files(tmp_path / "cli-out")
    assert [(doc["document_id"], doc["error_kind"]) for doc in failed] == [("broken/quarterly-figures.pdf", "corrupt")]
    assert failed[0]["message"] and report["counts"]["succeeded"] == 15
    assert html.status_code == 200 and view["run_id"] in html.text


def _report_counts(out: Path) -> dict[str, int]:
    import json

    counts: dict[str, int] = json.loads((out / "report.json").read_text())["counts"]
    return {
        key: value for key, value in counts.items() if key in ("succeeded", "failed", "dead", "skipped", "cancelled")
    }


def test_an_uploaded_pdf_s_text_comes_back(served: ServerProcess, sample_docs: Path) -> None:
    pdf = sample_docs / "annual-report-2025.pdf"
    with served.client() as client:
        accepted = client.post(
            "/v1/documents", files=[("file", ("../../etc/passwd.pdf", pdf.read_bytes(), "application/pdf"))],
            data={"priority": "high", "format": "txt"},
        )  # fmt: skip
        assert accepted.status_code == 202, accepted.text
        document = accepted.json()["documents"][0]
        assert document["filename"] == "passwd.pdf" and document["size"] == pdf.stat().st_size
        wait_run(client, accepted.json()["run_id"])
        state = client.get(document["status_url"]).json()
        text = client.get(document["output_url"])
        other_format = client.get(document["output_url"], params={"format": "json"})
    assert state["state"] == "succeeded" and state["path"] is None  # the server's own path is not shown
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert "Harbor Lane Library lent 48,210 items in 2025" in text.text and text.text.count("\f") == 3
    assert other_format.status_code == 406
    assert not list(Path("/etc").glob("passwd.pdf*"))


def test_token_roots_and_upload_limit_are_enforced(tmp_path: Path, sample_docs: Path) -> None:
    inside = tmp_path / "inside"
    shutil.copytree(sample_docs / "data", inside)
    (tmp_path / "outside").mkdir()
    (inside / "escape").symlink_to(tmp_path / "outside")
    server = ServerProcess(
        tmp_path, "--state", str(tmp_path / "state"), "--root", str(inside), "--max-upload", "1KB", token="s3cret-token"
    )
    try:
        with httpx.Client(base_url=server.url, timeout=30) as anonymous:
            assert anonymous.get("/healthz").status_code == 200
            for method, path in (("GET", "/v1/runs"), ("GET", "/v1/stats"), ("GET", "/metrics"), ("POST", "/v1/runs")):
                answer = anonymous.request(method, path, headers={"Authorization": "Bearer wrong"})
                assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
        with server.client() as client:
            assert client.post("/v1/runs", json={"paths": [str(sample_docs)]}).status_code == 403
            assert client.post("/v1/runs", json={"paths": [str(inside / "escape")]}).status_code == 403
            assert client.post("/v1/runs", json={"paths": [str(inside / ".." / "outside")]}).status_code == 403
            bad_option = client.post("/v1/runs", json={"paths": [str(inside)], "options": {"timeout": "soon"}})
            assert bad_option.status_code == 422 and "options.timeout" in bad_option.text
            assert client.post("/v1/runs", json={"paths": [str(inside)], "options": {"exec": "sh"}}).status_code == 422
            assert client.post("/v1/runs", json={"path": [str(inside)]}).status_code == 422
            too_big = client.post("/v1/documents", files={"file": ("big.txt", b"x" * 5000, "text/plain")})
            assert too_big.status_code == 413 and "big.txt" in too_big.json()["detail"]
            assert client.get("/v1/runs").json()["runs"] == []  # nothing was queued by the refused requests
    finally:
        server.stop()
    assert not any((tmp_path / "state-uploads").rglob("*.txt"))  # the partial upload is gone


def _slow_folder(tmp_path: Path, sample_docs: Path, count: int) -> Path:
    folder = tmp_path / "many"
    folder.mkdir()
    pdf = (sample_docs / "annual-report-2025.pdf").read_bytes()
    for index in range(count):
        (folder / f"report-{index:03d}.pdf").write_bytes(pdf)
    return folder


def _wait_finished(client: httpx.Client, run_id: str, at_least: int) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        view: dict[str, object] = client.get(f"/v1/runs/{run_id}").json()
        if int(str(view["finished"])) >= at_least:
            return view
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not reach {at_least} documents")


def test_a_hard_cancel_ends_with_counts_that_reconcile(tmp_path: Path, sample_docs: Path) -> None:
    folder = _slow_folder(tmp_path, sample_docs, 400)
    server = ServerProcess(tmp_path, "--state", str(tmp_path / "state"), "--root", str(folder), "-j", "1")
    try:
        with server.client() as client:
            run_id = client.post("/v1/runs", json={"paths": [str(folder)]}).json()["run_id"]
            _wait_finished(client, run_id, 5)
            assert client.delete(f"/v1/runs/{run_id}", params={"hard": "true"}).status_code == 202
            view = wait_run(client, run_id)
            assert client.delete(f"/v1/runs/{run_id}").status_code == 409
    finally:
        server.stop()
    states = view["states"]
    assert view["status"] == "cancelled" and 0 < states.get("succeeded", 0) < 400
    assert view["discovered"] == sum(states.values()) + view["pending"] == 400


def _restart_and_follow(tmp_path: Path, args: tuple[str, ...], run_id: str, *, left_as: str) -> dict[str, Any]:
    """Start the server again on the same state; the run ``run_id`` must show ``left_as`` with a
    continuation, whose final status is returned."""
    again = ServerProcess(tmp_path, *args)
    try:
        with again.client() as client:
            old = client.get(f"/v1/runs/{run_id}").json()
            assert old["status"] == left_as and old["continued_by"]
            return wait_run(client, old["continued_by"])
    finally:
        again.stop()


def test_a_server_killed_mid_run_finishes_the_run_when_started_again(tmp_path: Path, sample_docs: Path) -> None:
    folder = _slow_folder(tmp_path, sample_docs, 300)
    args = ("--state", str(tmp_path / "state"), "--root", str(folder), "-j", "1")
    server = ServerProcess(tmp_path, *args)
    with server.client() as client:
        run_id = client.post("/v1/runs", json={"paths": [str(folder)]}).json()["run_id"]
        before = _wait_finished(client, run_id, 10)
    server.kill()
    assert int(str(before["finished"])) < 300
    resumed = _restart_and_follow(tmp_path, args, run_id, left_as="crashed")
    assert resumed["status"] == "finished" and resumed["exit_code"] == 0 and resumed["parent_run_id"] == run_id
    outputs = sorted(Path(resumed["output_dir"]).rglob("*.pdf.json"))
    assert len(outputs) == 300 and len({path.read_bytes().split(b'"sha256"')[1] for path in outputs}) == 1


def test_sigterm_drains_and_the_next_start_resumes(tmp_path: Path, sample_docs: Path) -> None:
    folder = _slow_folder(tmp_path, sample_docs, 500)  # enough that a loaded machine cannot finish before the signal
    args = ("--state", str(tmp_path / "state"), "--root", str(folder), "-j", "1")
    server = ServerProcess(tmp_path, *args)
    with server.client() as client:
        run_id = client.post("/v1/runs", json={"paths": [str(folder)]}).json()["run_id"]
        _wait_finished(client, run_id, 5)
    assert server.stop(signal.SIGTERM) == 0
    resumed = _restart_and_follow(tmp_path, args, run_id, left_as="interrupted")
    assert resumed["status"] == "finished" and resumed["exit_code"] == 0


def test_a_websocket_client_that_reconnects_with_after_gets_every_event_once(tmp_path: Path, sample_docs: Path) -> None:
    import json
    import sqlite3

    from websockets.sync.client import connect

    folder = _slow_folder(tmp_path, sample_docs, 60)
    server = ServerProcess(tmp_path, "--state", str(tmp_path / "state"), "--root", str(folder), "-j", "1")
    ws_url = server.url.replace("http://", "ws://") + "/v1/events"
    received: list[dict[str, object]] = []
    try:
        with server.client() as client:
            run_id = client.post("/v1/runs", json={"paths": [str(folder)]}).json()["run_id"]
            ended = False
            while not ended:  # a short connection each time: every reconnect resumes from the last id seen
                after = received[-1]["id"] if received else 0
                with connect(f"{ws_url}?after={after}&run={run_id}", max_queue=None) as socket:
                    for _ in range(25):
                        event = json.loads(socket.recv(timeout=60))
                        received.append(event)
                        if event["type"] == "run" and event["state"] == "finished":
                            ended = True
                            break
            wait_run(client, run_id)
    finally:
        server.stop()
    with sqlite3.connect(tmp_path / "state" / "ledger.sqlite") as ledger:
        expected = [row[0] for row in ledger.execute("SELECT id FROM events WHERE run_id = ? ORDER BY id", (run_id,))]
    assert [event["id"] for event in received] == expected
    documents = [event for event in received if event["type"] == "document" and event["state"] == "succeeded"]
    assert len(documents) == 60 and len({event["document_id"] for event in documents}) == 60
