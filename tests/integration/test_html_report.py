"""`docbatch report --html`: a self-contained page with charts and a searchable failures table; when
Debian's chromium is installed, it is opened headless and offline to prove it renders."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_texts

CHROMIUM = shutil.which("chromium")


@pytest.fixture
def html_report(tmp_path: Path) -> Path:
    docs = write_texts(tmp_path / "docs", "ok.txt", "<img src=x onerror=alert(1)>.txt")
    (docs / "broken.json").write_text('{"a": ')
    assert run_cli("run", str(docs), "-q", cwd=tmp_path).returncode == 1
    result = run_cli("report", "--html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return Path(tmp_path / result.stdout.strip())


def test_html_report_is_self_contained_and_escapes_names(html_report: Path) -> None:
    page = html_report.read_text()
    assert page.count("<svg") == 2 and "Where the time goes" in page
    assert "broken.json" in page and "invalid JSON" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.txt" in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch: it opens offline


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_html_report_renders_in_a_headless_browser(html_report: Path, tmp_path: Path) -> None:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    dom = subprocess.run(
        [str(CHROMIUM), *flags, "--dump-dom", html_report.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert 'id="failures"' in dom.stdout and "broken.json" in dom.stdout
    shot = tmp_path / "report.png"
    subprocess.run(
        [str(CHROMIUM), *flags, "--window-size=1200,1400", f"--screenshot={shot}", html_report.as_uri()],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert shot.stat().st_size > 10_000  # a real rendering, not a blank page
