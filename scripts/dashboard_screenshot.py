"""Take docs/dashboard.png: the dashboard of a real `docbatch serve` in headless chromium, with a run
going on (copies of sample_docs/, two at a time) beside a finished one.

The same setup as tests/integration/test_dashboard.py (tests/helpers/dashboard.py): a server with a
token on a free loopback port, signed in with `/?token=`, the live run started while the page is
open, so what the picture shows of it came from the event stream. Needs Debian's chromium.

    .venv/bin/python scripts/dashboard_screenshot.py [OUT.png] [--dark]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers.dashboard import ROW, live_dashboard  # noqa: E402

SHARE_DONE = 0.35  # take the picture once about a third of the live run is done


def main(argv: list[str]) -> int:
    dark = "--dark" in argv
    paths = [arg for arg in argv if not arg.startswith("--")]
    out = Path(paths[0]) if paths else REPO / "docs" / "dashboard.png"
    with (
        tempfile.TemporaryDirectory() as work,
        live_dashboard(Path(work), REPO / "sample_docs", concurrency=2, copies=120) as live,
    ):
        if dark:
            live.page.send("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "dark"}])
        row = ROW.format(run=live.live_run)
        live.page.wait_for(f"{row} && {row}.querySelector('.status').textContent === 'running'")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            view = live.client.get(f"/v1/runs/{live.live_run}").json()
            if view["finished"] >= SHARE_DONE * max(1, view["discovered"]) and view["discovery_done"]:
                break
            time.sleep(0.2)
        live.page.wait_for("document.querySelectorAll('#active-body tr').length > 0")
        time.sleep(0.6)  # the last refresh (two a second) has landed
        live.page.png(out)
        if live.page.errors:
            print("the page logged errors:", *live.page.errors, sep="\n  ", file=sys.stderr)
            return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
