"""The dashboard in a real headless browser (Debian's chromium) against a real `docbatch serve`: it
signs in with `/?token=`, shows a finished run with its report link and failures, and follows a run
started while the page is open through the event stream alone, to its final counts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.browser import CHROMIUM
from tests.helpers.dashboard import ROW, TOKEN, LiveDashboard, live_dashboard
from tests.helpers.server import wait_run

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"),
    pytest.mark.timeout(240),
]
HOSTILE = "<b>bold<i>ital & co.json"  # a file name that would be markup if the page wrote it as HTML


@pytest.fixture
def live(tmp_path: Path, sample_docs: Path) -> Iterator[LiveDashboard]:
    with live_dashboard(tmp_path, sample_docs, concurrency=1, copies=20, broken_json=HOSTILE) as dashboard:
        yield dashboard


def row_text(live: LiveDashboard, run_id: str) -> str:
    return str(live.page.evaluate(f"{ROW.format(run=run_id)}.innerText"))


def finished_count(text: str) -> int:
    found = re.search(r"(\d+) / \d+", text)
    assert found, text
    return int(found.group(1))


def test_the_dashboard_signs_in_and_shows_a_finished_run(live: LiveDashboard) -> None:
    page = live.page
    assert page.evaluate("location.pathname + location.search") == "/"  # the token left the address bar
    assert TOKEN not in str(page.evaluate("document.cookie"))  # HttpOnly: scripts cannot read it
    row = row_text(live, live.finished_run)
    assert live.finished_run in row and "finished" in row
    assert "17 / 17" in row and "15 ok" in row and "2 dead" in row
    link = page.evaluate(f"{ROW.format(run=live.finished_run)}.querySelector('a[href$=\"report.html\"]').href")
    assert link.endswith(f"/v1/runs/{live.finished_run}/report.html")
    report = page.evaluate(f"fetch({json.dumps(link)}).then(r => r.text().then(t => [r.status, t.length]))")
    assert report[0] == 200 and report[1] > 1000  # the cookie opens the report too
    page.wait_for("document.querySelectorAll('#failures li').length >= 2")
    failures = str(page.evaluate("document.querySelector('#failures').innerText"))
    assert "broken/quarterly-figures.pdf" in failures and "corrupt" in failures
    assert HOSTILE in failures and "invalid JSON" in failures  # shown as text ...
    assert page.evaluate("document.querySelector('#failures b, #failures i')") is None  # ... never as markup
    assert page.errors == []
    # Without the cookie (another token, a browser that forgot it) the page says how to sign in again.
    page.send("Network.clearBrowserCookies")
    page.wait_for("document.querySelector('#connection').dataset.state === 'signed-out'", timeout_s=20)
    assert "/?token=" in str(page.evaluate("document.querySelector('#notice').textContent"))


def test_a_run_started_while_the_page_is_open_is_followed_live_to_its_end(live: LiveDashboard) -> None:
    page, run = live.page, live.live_run
    page.evaluate("window.notReloaded = true")
    page.wait_for(f"{ROW.format(run=run)} !== null")  # a new row from the run's `queued` event
    page.wait_for(f"{ROW.format(run=run)}.querySelector('.status').textContent === 'running'")
    # The running documents, with their stage, and failures of this run as they happen (not "earlier").
    page.wait_for("document.querySelectorAll('#active-body tr').length > 0")
    stage = str(page.evaluate("document.querySelector('#active-body .stage').textContent"))
    assert stage.strip()  # read, extract, ... (what the run's last heartbeat said)
    assert re.fullmatch(r"batch-\d\d/\S+", str(page.evaluate("document.querySelector('#active-body td').textContent")))
    page.wait_for(
        "[...document.querySelectorAll('#failures li')].some(li => /batch-\\d\\d\\/broken\\//.test(li.innerText)"
        " && / ago$/.test(li.querySelector('.when').textContent))"
    )
    first = finished_count(row_text(live, run))
    page.wait_for(f"Number(/(\\d+) \\//.exec({ROW.format(run=run)}.innerText)[1]) > {first}")
    final = wait_run(live.client, run)
    assert final["status"] == "finished" and final["discovered"] == 320
    ok, dead = final["states"]["succeeded"], final["states"]["dead"]
    assert (ok, dead) == (300, 20)
    row_js = ROW.format(run=run)
    page.wait_for(
        f"{row_js}.innerText.includes('320 / 320') && {row_js}.querySelector('.status').textContent === 'finished'"
    )
    row = row_text(live, run)
    assert f"{ok} ok" in row and f"{dead} dead" in row and "finished" in row and "report" in row
    assert page.evaluate("window.notReloaded") is True  # all of it came while the page stayed open
    assert page.evaluate("document.querySelector('#connection').dataset.state") == "live"
    dom = page.dom()
    assert run in dom and live.finished_run in dom and f"/v1/runs/{run}/report.html" in dom
    assert page.errors == []
