"""The service in process (FastAPI's TestClient runs its lifespan: the run manager, the event hub and
retention), on a real SQLite ledger with real runs: queueing, uploads, retries, expiry, paging."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from docbatch.server.app import create_app
from docbatch.server.settings import ServerSettings
from tests.conftest import write_texts

pytestmark = pytest.mark.timeout(120)


def _client(tmp_path: Path, **settings: Any) -> TestClient:
    fields: dict[str, Any] = {"state_dir": tmp_path / "state", "roots": (tmp_path.resolve(),), "concurrency": 1}
    return TestClient(create_app(ServerSettings(**{**fields, **settings})))


def _wait(client: TestClient, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        view = client.get(f"/v1/runs/{run_id}", params={"wait": 5}).json()
        if view["status"] not in ("queued", "running"):
            return view
    raise AssertionError(f"run {run_id} did not end: {view}")


def test_uploads_sent_together_share_one_run_and_keep_their_own_priority(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        first = client.post("/v1/documents", files=[("file", ("a.txt", b"alpha\n")), ("file", ("b.TXT", b"beta\n"))])
        run_id = first.json()["run_id"]
        ids = [document["document_id"] for document in first.json()["documents"]]
        assert len(set(ids)) == 2 and all(document_id.startswith(run_id + ".") for document_id in ids)
        view = _wait(client, run_id)
        outputs = [json.loads(client.get(f"/v1/documents/{document_id}/output").text)["text"] for document_id in ids]
    assert view["kind"] == "upload" and view["states"] == {"succeeded": 2}
    assert outputs == ["alpha\n", "beta\n"]
    manifest = (tmp_path / "state-uploads" / run_id / "manifest.jsonl").read_text().splitlines()
    assert [json.loads(line)["priority"] for line in manifest] == ["normal", "normal"]
    assert sorted(path.name for path in (tmp_path / "state-uploads" / run_id).iterdir()) == sorted(
        [f"{ids[0]}.txt", f"{ids[1]}.txt", "manifest.jsonl"]
    )  # the server's names, the client's extension (lower case)


def test_a_retry_is_a_linked_run_of_the_failures_only(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "good.txt")
    (docs / "bad.pdf").write_bytes(b"%PDF-1.7 not really")
    with _client(tmp_path) as client:
        run_id = client.post("/v1/runs", json={"paths": [str(docs)]}).json()["run_id"]
        first = _wait(client, run_id)
        assert (
            client.get(f"/v1/runs/{run_id}/documents", params={"state": "dead"}).json()["documents"][0]["document_id"]
            == "bad.pdf"
        )
        retry = client.post(f"/v1/runs/{run_id}/retry")
        assert retry.status_code == 202
        second = _wait(client, retry.json()["run_id"])
        linked = client.get(f"/v1/runs/{run_id}").json()
    assert first["states"] == {"succeeded": 1, "dead": 1}
    assert second["kind"] == "retry" and second["parent_run_id"] == run_id and second["discovered"] == 1
    assert linked["retried_by"] == [retry.json()["run_id"]]


def test_queued_runs_start_in_priority_order_and_a_cancelled_one_never_starts(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", *(f"d{index}.txt" for index in range(3)))
    with _client(tmp_path) as client:
        runs = [client.post("/v1/runs", json={"paths": [str(docs)]}).json()["run_id"] for _ in range(3)]
        urgent = client.post("/v1/documents", files={"file": ("u.txt", b"now\n")}, data={"priority": "critical"})
        cancelled = client.delete(f"/v1/runs/{runs[2]}")
        views = [_wait(client, run_id) for run_id in [*runs, urgent.json()["run_id"]]]
    assert cancelled.status_code == 202
    assert [view["status"] for view in views] == ["finished", "finished", "cancelled", "finished"]
    assert views[2]["discovered"] == 0 and views[0]["started_at"] < views[1]["started_at"]
    assert views[3]["started_at"] < views[1]["started_at"]  # accepted last, started before a normal one


def test_runs_are_paged_newest_first(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    with _client(tmp_path) as client:
        made = [client.post("/v1/runs", json={"paths": [str(docs)]}).json()["run_id"] for _ in range(3)]
        for run_id in made:
            _wait(client, run_id)
        page = client.get("/v1/runs", params={"limit": 2}).json()
        rest = client.get("/v1/runs", params={"limit": 2, "before": page["next"]}).json()
    assert [run["run_id"] for run in page["runs"] + rest["runs"]] == made[::-1] and rest["next"] is None


def test_expired_runs_answer_410_with_when(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    with _client(tmp_path, keep_s=0.5) as client:
        run_id = client.post("/v1/runs", json={"paths": [str(docs)]}).json()["run_id"]
        view = _wait(client, run_id)
        deadline = time.monotonic() + 30
        while client.get(f"/v1/runs/{run_id}").json()["expired_at"] is None and time.monotonic() < deadline:
            time.sleep(0.2)
        report = client.get(f"/v1/runs/{run_id}/report")
        output = client.get("/v1/documents/a.txt/output")
        document = client.get("/v1/documents/a.txt")
    assert report.status_code == 410 and report.json()["expired_at"] >= view["started_at"]
    assert output.status_code == 410 and document.json()["state"] == "succeeded"
    assert not Path(view["output_dir"]).exists() and docs.joinpath("a.txt").is_file()  # inputs are not ours


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        _Hook.received.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def hook() -> Iterator[str]:
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/done"
    server.shutdown()
    server.server_close()


def test_an_upload_s_callback_gets_the_signed_summary(
    tmp_path: Path, hook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCBATCH_NOTIFY_SECRET", "shh")
    with _client(tmp_path) as client:
        accepted = client.post("/v1/documents", files={"file": ("a.txt", b"alpha\n")}, data={"callback_url": hook})
        _wait(client, accepted.json()["run_id"])
        deadline = time.monotonic() + 20
        while not _Hook.received and time.monotonic() < deadline:
            time.sleep(0.1)
        bad = client.post("/v1/documents", files={"file": ("a.txt", b"x")}, data={"callback_url": "ftp://nope"})
    ((headers, body),) = _Hook.received
    assert headers["X-Docbatch-Signature"] == "sha256=" + hmac.new(b"shh", body, hashlib.sha256).hexdigest()
    assert json.loads(body)["run_id"] == accepted.json()["run_id"] and json.loads(body)["counts"]["succeeded"] == 1
    assert bad.status_code == 422 and "callback_url" in bad.json()["detail"]


def test_the_token_is_asked_for_everywhere_but_healthz(tmp_path: Path) -> None:
    with _client(tmp_path, token=SecretStr("t0ken")) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 401
        assert client.get("/v1/runs", headers={"Authorization": "Bearer t0ken"}).status_code == 200
        assert client.get("/v1/runs", headers={"Authorization": "Basic t0ken"}).status_code == 401
        assert client.get("/openapi.json").status_code == 401 and client.get("/docs").status_code == 401
        assert (
            client.get("/openapi.json", headers={"Authorization": "Bearer t0ken"}).json()["info"]["title"] == "docbatch"
        )
        assert client.get("/redoc").status_code == 404


def test_readyz_says_503_and_why_when_the_broker_is_unreachable_or_memory_low(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        ready = client.get("/readyz")
    with _client(tmp_path, executor="redis://127.0.0.1:1/0", memory_floor_bytes=2**60) as client:
        unready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    checks = unready.json()["checks"]
    assert unready.status_code == 503 and checks["ledger"] == "ok" and checks["queue"] == "ok"
    assert checks["executor"].startswith("unusable") and "127.0.0.1:1" in checks["executor"]
    assert checks["memory"].endswith(f"floor {2**60}")


def test_one_folder_run_twice_keeps_each_run_s_own_documents(tmp_path: Path) -> None:
    # A second run of the same ids must not take the first run's documents away from its list.
    docs = write_texts(tmp_path / "docs", "a.txt")
    with _client(tmp_path) as client:
        first = client.post("/v1/runs", json={"paths": [str(docs)]}).json()["run_id"]
        _wait(client, first)
        (docs / "a.txt").write_bytes(b"%PDF-1.7 broken now")
        (docs / "a.txt").rename(docs / "a.pdf")
        write_texts(docs, "a.txt")
        second = client.post("/v1/runs", json={"paths": [str(docs)], "options": {"force": True}}).json()["run_id"]
        _wait(client, second)
        listed = [client.get(f"/v1/runs/{run}/documents").json()["documents"] for run in (first, second)]
    assert [(doc["document_id"], doc["state"]) for doc in listed[0]] == [("a.txt", "succeeded")]
    assert [(doc["document_id"], doc["state"]) for doc in listed[1]] == [("a.pdf", "dead"), ("a.txt", "succeeded")]


def test_requests_that_cannot_be_served_are_refused_with_the_reason(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    with _client(tmp_path, concurrency=2) as client:
        nul = client.post("/v1/runs", json={"paths": [str(docs) + "\u0000x"]})
        state = client.post("/v1/runs", json={"paths": [str(tmp_path / "state")]})
        (tmp_path / "state-uploads").mkdir(exist_ok=True)
        uploads = client.post("/v1/runs", json={"paths": [str(tmp_path / "state-uploads")]})
        missing = client.post("/v1/runs", json={"paths": [str(docs / "nope")]})
        huge = client.post(
            "/v1/runs", content=b"{" + b" " * (2 << 20) + b"}", headers={"content-type": "application/json"}
        )
        many = client.post("/v1/runs", json={"paths": [str(docs)], "options": {"concurrency": "16"}})
        view = _wait(client, many.json()["run_id"])
        nothing = client.post(f"/v1/runs/{view['run_id']}/retry")
        report = client.get(f"/v1/runs/{view['run_id']}/report").json()
        xml = client.get("/v1/documents/a.txt/output", params={"format": "xml"})
    assert nul.status_code == 422 and state.status_code == 403 and uploads.status_code == 403
    assert missing.status_code == 422 and "no such file" in missing.json()["detail"]
    assert huge.status_code == 413
    assert report["config"]["pool"]["concurrency"] == 2  # asked for 16 as a string: capped at the server's -j
    assert nothing.status_code == 409 and xml.status_code == 422
