"""The dashboard with something on it: a real `docbatch serve` (with a token) that has finished one run
over the sample documents, a browser signed in on `/`, and then a second, long run started while the
page is open, so that everything the page shows of it came from the event stream.

Shared by tests/integration/test_dashboard.py and scripts/dashboard_screenshot.py (docs/dashboard.png).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.helpers.browser import Browser
from tests.helpers.server import ServerProcess, wait_run

TOKEN = "dashboard-test-token"  # noqa: S105 (a test's own server)
ROW = "document.querySelector('#runs-body tr[data-run=\"{run}\"]')"


@dataclass
class LiveDashboard:
    server: ServerProcess
    client: httpx.Client
    page: Browser
    finished_run: str  # the sample documents, ended before the page opened (15 succeeded, 1 dead)
    live_run: str  # copies of the sample documents, started while the page is open, still running


def sample_copies(folder: Path, sample_docs: Path, copies: int) -> Path:
    """``copies`` copies of the sample tree (16 documents each, one of them a broken PDF) under ``folder``."""
    for number in range(1, copies + 1):
        shutil.copytree(sample_docs, folder / f"batch-{number:02d}")
    return folder


@contextmanager
def live_dashboard(
    work: Path, sample_docs: Path, *, concurrency: int = 1, copies: int = 12, broken_json: str | None = None
) -> Iterator[LiveDashboard]:
    """The server, a signed-in page, the finished run and the live run (hard-cancelled at the end if
    it is still going). ``broken_json``: the name of one more document of the finished run, a JSON
    file cut short (dead, `invalid JSON`)."""
    roots = work / "docs"
    shutil.copytree(sample_docs, roots / "samples")
    if broken_json is not None:
        (roots / "samples" / broken_json).write_text('{"a": ')
    sample_copies(roots / "intake", sample_docs, copies)
    server = ServerProcess(
        work, "--state", str(work / "state"), "--root", str(roots), "-j", str(concurrency), token=TOKEN
    )
    live_run = None
    try:
        with server.client() as client, Browser(width=1280, height=800) as page:
            finished = client.post("/v1/runs", json={"paths": [str(roots / "samples")]}).json()["run_id"]
            assert wait_run(client, finished)["status"] == "finished"
            page.open(f"{server.url}/?token={TOKEN}")  # signs in: the cookie, then a 303 to /
            page.wait_for(
                f"{ROW.format(run=finished)} && document.querySelector('#connection').dataset.state === 'live'"
            )
            live_run = client.post("/v1/runs", json={"paths": [str(roots / "intake")]}).json()["run_id"]
            yield LiveDashboard(server, client, page, finished, live_run)
            client.delete(f"/v1/runs/{live_run}", params={"hard": "true"})
            wait_run(client, live_run)
    finally:
        server.stop()
