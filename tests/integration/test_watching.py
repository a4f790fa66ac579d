"""What an operator sees of a run, through the real CLI: memory limits that do what they say, rates
of the work really done, the stop message, pending documents, and `status --watch` on a terminal."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from docbatch.cli.console import human_seconds
from tests.conftest import REPO, run_cli, start_run, wait_started, write_texts

MISBEHAVE = "tests.helpers.processors:misbehave"
MEET = "tests.helpers.processors:meet"


def _events(cwd: Path) -> list[tuple[str, str, float, int | None]]:
    with sqlite3.connect(cwd / ".docbatch" / "ledger.sqlite") as db:
        return db.execute("SELECT source_id, state, at, pid FROM events ORDER BY id").fetchall()


def test_a_memory_limit_with_room_for_every_worker_lets_them_run_at_once(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt", "b.txt")
    (tmp_path / "meet").mkdir()
    result = run_cli(
        "run", str(docs), "-j", "2", "--memory-limit", "2GiB", "--processor", MEET,
        cwd=tmp_path, env={"DOCBATCH_TEST_MEET_DIR": str(tmp_path / "meet")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Each job waited for the other to start: both met, so both ran at the same time.
    for name in ("a.txt", "b.txt"):
        assert json.loads((tmp_path / "docbatch-out" / f"{name}.json").read_text())["text"] == "met"
    events = _events(tmp_path)
    started = {source: at for source, state, at, _ in events if state == "running"}
    ended = {source: (at, pid) for source, state, at, pid in events if state == "succeeded"}
    assert ended["a.txt"][1] != ended["b.txt"][1]  # two workers
    assert started["b.txt"] < ended["a.txt"][0] and started["a.txt"] < ended["b.txt"][0]  # overlapping


def test_a_tight_memory_limit_throttles_and_every_view_says_so_without_blaming_dispatch(tmp_path: Path) -> None:
    # Each job holds 120 MiB on top of its worker (about 170 MiB): one fits under 300 MiB, two do not.
    docs = write_texts(tmp_path / "docs", *(f"hold{index}.txt" for index in range(4)))
    result = run_cli(
        "run", str(docs), "-j", "2", "--memory-limit", "300MiB", "--retries", "6", "--backoff", "0.2s",
        "--processor", MISBEHAVE, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "docbatch-out" / "report.json").read_text())
    throttled = report["resources"]["throttled_s"]
    assert throttled > 1.0
    # The wait happened before the jobs started: no stage holds it.
    assert report["stages"]["dispatch"]["total"] < throttled / 2
    assert report["bottleneck"]["stage"] != "dispatch"
    status = json.loads(run_cli("status", "--json", cwd=tmp_path).stdout)
    assert status["memory"]["throttled_s"] >= throttled - 1.0
    waited = human_seconds(status["memory"]["throttled_s"])
    assert f"memory    new jobs waited {waited} for memory" in run_cli("status", cwd=tmp_path).stdout
    assert run_cli("report", "--html", cwd=tmp_path).returncode == 0
    (page_path,) = (tmp_path / "docbatch-out" / "reports").glob("*.html")  # beside the run's own report
    page = page_path.read_text()
    assert 'id="memory-wait"' in page and "this wait is not part of any stage" in page


def test_a_resumed_run_shows_no_rate_for_documents_it_skipped(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", *(f"n{index:02d}.txt" for index in range(30)))
    (docs / "broken.pdf").write_bytes(os.urandom(2048))  # dead: it is carried over, not read again
    assert run_cli("run", str(docs), "-j", "1", cwd=tmp_path).returncode == 1
    again = run_cli("run", str(docs), "-j", "1", cwd=tmp_path)
    assert again.returncode == 6, again.stderr  # only the broken PDF, dead since the first run
    report = json.loads((tmp_path / "docbatch-out" / "report.json").read_text())
    assert report["counts"]["skipped"] == 30 and report["counts"]["dead"] == 1
    assert report["throughput"]["documents_per_s"] == 0 and report["throughput"]["megabytes_per_s"] == 0
    status = json.loads(run_cli("status", "--json", cwd=tmp_path).stdout)
    assert (status["processed"], status["docs_per_s"], status["mb_per_s"]) == (0, 0, 0)


def test_the_first_sigint_says_what_happens_next_and_status_lists_what_stays_pending(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "hang1.txt", "hang2.txt", "x1.txt", "x2.txt", "x3.txt", "x4.txt")
    run = start_run(tmp_path, str(docs), "-j", "2", "--grace", "1s", "--processor", MISBEHAVE, stderr=subprocess.PIPE)
    wait_started(tmp_path, 2)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 4, stderr
    assert (
        "stopping (SIGINT received): no new documents; 2 running get up to 1s (--grace) to finish; "
        "Ctrl-C again cancels them now; the rest stay pending"
    ) in stderr
    report = json.loads((tmp_path / "docbatch-out" / "report.json").read_text())
    pending = report["counts"]["pending"]
    assert pending == 4 and report["counts"]["cancelled"] == 2
    status = json.loads(run_cli("status", "--json", cwd=tmp_path).stdout)
    assert status["status"] == "interrupted" and status["pending"] == pending
    text = run_cli("status", cwd=tmp_path).stdout
    assert f"pending {pending}" in text and "the same command again does them" in text


def _read_pty(command: list[str], cwd: Path, timeout_s: float) -> bytes:
    """Run ``command`` on a pseudo-terminal of 80 x 30 and return everything it wrote."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the command
        os.chdir(cwd)
        os.environ.update({"PYTHONPATH": str(REPO), "COLUMNS": "80", "LINES": "30", "TERM": "xterm"})
        os.execv(command[0], command)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 80, 0, 0))
    output = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the command ended and closed the terminal
                break
            if not chunk:
                break
            output += chunk
    if time.monotonic() >= deadline:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(fd)
    return output


def test_status_watch_redraws_in_place_on_a_terminal_and_appends_plain_text_in_a_pipe(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", *(f"slow{index}.txt" for index in range(8)))
    run = start_run(tmp_path, str(docs), "-j", "2", "--processor", MISBEHAVE)
    wait_started(tmp_path, 1)
    piped = subprocess.Popen(
        [sys.executable, "-m", "docbatch", "status", "--watch"], cwd=tmp_path, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    on_terminal = _read_pty([sys.executable, "-m", "docbatch", "status", "--watch"], tmp_path, timeout_s=60)
    plain, _ = piped.communicate(timeout=60)
    assert run.wait(timeout=60) == 0
    frames = on_terminal.count(b"progress  ")
    assert frames >= 2  # it was redrawn ...
    assert b"\x1b[1A" in on_terminal and b"\x1b[2K" in on_terminal  # ... in place: cursor up, erase line
    assert "\x1b" not in plain and plain.count("progress  ") >= 2  # a pipe gets plain frames, one after another


def test_on_a_terminal_the_stop_message_stays_on_screen_after_the_live_view(tmp_path: Path) -> None:
    """What a person sees: tmux plays the terminal (80 x 30), Ctrl-C is typed, the screen is read."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    write_texts(tmp_path / "docs", "hang1.txt", "hang2.txt", "x1.txt")
    server = ["tmux", "-L", f"docbatch-test-{os.getpid()}"]
    command = (
        f"cd {tmp_path} && PYTHONPATH={REPO} {sys.executable} -m docbatch run docs -j 2 --grace 1s "
        f"--processor {MISBEHAVE}; echo exit=$?; sleep 60"
    )
    subprocess.run([*server, "new-session", "-d", "-x", "80", "-y", "30", command], check=True)
    try:
        wait_started(tmp_path, 2)
        subprocess.run([*server, "send-keys", "C-c"], check=True)
        deadline, screen = time.monotonic() + 30, ""
        while "exit=" not in screen and time.monotonic() < deadline:
            time.sleep(0.2)
            screen = subprocess.run([*server, "capture-pane", "-p"], capture_output=True, text=True).stdout
    finally:
        subprocess.run([*server, "kill-server"], check=False)
    assert "exit=4" in screen, screen
    flat = " ".join(screen.split())  # the terminal wraps the message at 80 columns
    assert "stopping (SIGINT received): no new documents; 2 running get up to 1s (--grace) to finish" in flat
