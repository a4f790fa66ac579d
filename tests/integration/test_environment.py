"""A machine that fails the run (folders not writable, a full disk, an unusable ledger) ends it with
one line naming what and where, exit 5, never a traceback and never exit 1; a run it stopped
mid-way leaves a consistent ledger that the next run resumes to the same outputs."""

from __future__ import annotations

import contextlib
import filecmp
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from docbatch.errors import ExitCode
from tests.conftest import REPO, run_cli, write_texts
from tests.helpers.environment import as_nobody, grow_disk, public_folder, small_disk

ENVIRONMENT = int(ExitCode.ENVIRONMENT)


def _run_as_nobody(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = as_nobody([sys.executable, "-m", "docbatch", *args], cwd=cwd)
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip


def _one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def _texts(folder: Path, count: int, words: int = 200) -> Path:
    """``count`` text documents of about ``words`` x 27 bytes each."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (folder / f"doc{index:03d}.txt").write_text(f"document {index} " + "lorem ipsum dolor sit amet " * words)
    return folder


def _ledger_states(state: Path) -> dict[str, tuple[int, int]]:
    """{state: (documents, attempts)} from the ledger's current-state table."""
    with sqlite3.connect(state / "ledger.sqlite") as db:
        rows = db.execute("SELECT state, count(*), sum(attempts) FROM documents GROUP BY state").fetchall()
    return {state: (count, attempts) for state, count, attempts in rows}


def test_a_read_only_output_or_state_folder_is_exit_5_before_the_batch() -> None:
    with public_folder() as home:
        write_texts(home / "docs", "a.txt", "b.txt")
        (home / "locked").mkdir(mode=0o555)
        (home / "locked").chmod(0o555)
        (home / "free").mkdir(mode=0o777)
        (home / "free").chmod(0o777)
        for flags, named in (
            (("-o", "locked", "--state", "free/state"), "-o/--output locked"),
            (("-o", "locked/out", "--state", "free/state"), "-o/--output locked/out"),
            (("-o", "free/out", "--state", "locked"), "--state locked"),
        ):
            result = _run_as_nobody("run", "docs", "-q", *flags, cwd=home)
            assert result.returncode == ENVIRONMENT, result.stderr
            assert _one_line(result.stderr) == f"docbatch: error: {named}: no permission to create or write it"
        # Before the batch: no ledger was opened for a run, no output and no report were written.
        assert not (home / "free" / "state" / "ledger.sqlite").exists()
        assert not (home / "free" / "out" / "report.json").exists()
        assert list((home / "locked").iterdir()) == []


def test_a_ledger_that_cannot_be_used_is_exit_5_naming_it(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    not_sqlite = tmp_path / "not-sqlite"
    not_sqlite.mkdir()
    (not_sqlite / "ledger.sqlite").write_bytes(b"this is no database, only words " * 200)
    result = run_cli("run", str(docs), "-q", "--state", "not-sqlite", cwd=tmp_path)
    assert result.returncode == ENVIRONMENT
    assert _one_line(result.stderr).startswith("docbatch: error: not-sqlite/ledger.sqlite: cannot open the ledger: ")
    assert "not a SQLite file" in result.stderr
    for command in (("status",), ("retry-failed",), ("report",)):  # the readers say the same, also exit 5
        result = run_cli(*command, "--state", "not-sqlite", cwd=tmp_path)
        assert result.returncode == ENVIRONMENT, (command, result.stderr)
        assert _one_line(result.stderr).startswith("docbatch: error: not-sqlite/ledger.sqlite: cannot open the ledger:")

    assert run_cli("run", str(docs), "-q", "--state", "newer", cwd=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "newer" / "ledger.sqlite") as db:
        db.execute("PRAGMA user_version = 99")
    result = run_cli("run", str(docs), "-q", "--state", "newer", cwd=tmp_path)
    assert result.returncode == ENVIRONMENT
    assert _one_line(result.stderr).startswith("docbatch: error: newer/ledger.sqlite: ledger schema version 99")


def test_a_read_only_ledger_file_is_exit_5_naming_it() -> None:
    with public_folder() as home:
        write_texts(home / "docs", "a.txt")
        assert run_cli("run", "docs", "-q", "-o", "out", "--state", "state", cwd=home).returncode == 0
        for folder in (home / "out", home / "state"):
            folder.chmod(0o777)
            for child in folder.iterdir():
                child.chmod(0o666)
        (home / "state" / "ledger.sqlite").chmod(0o444)
        result = _run_as_nobody("run", "docs", "-q", "--force", "-o", "out", "--state", "state", cwd=home)
        assert result.returncode == ENVIRONMENT, result.stderr
        assert _one_line(result.stderr) == (
            "docbatch: error: state/ledger.sqlite: cannot write the ledger: read-only "
            "(attempt to write a readonly database)"
        )


def test_a_full_disk_at_the_start_is_exit_5_before_the_batch(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    with small_disk(tmp_path / "disk", "64k") as disk:
        _fill(disk)
        for flags, named in ((("-o", "disk/out"), "-o/--output disk/out"), (("--state", "disk/st"), "--state disk/st")):
            result = run_cli("run", str(docs), "-q", *flags, cwd=tmp_path)
            assert result.returncode == ENVIRONMENT, result.stderr
            assert _one_line(result.stderr) == f"docbatch: error: {named}: disk full (No space left on device)"


def test_a_read_only_file_system_is_exit_5_before_the_batch(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    with small_disk(tmp_path / "disk", "64k") as disk:
        (disk / "out").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True, capture_output=True)
        for flags, named in ((("-o", "disk/out"), "-o/--output disk/out"), (("--state", "disk/st"), "--state disk/st")):
            result = run_cli("run", str(docs), "-q", *flags, cwd=tmp_path)
            assert result.returncode == ENVIRONMENT, result.stderr
            assert _one_line(result.stderr) == f"docbatch: error: {named}: read-only file system"


def _fill(disk: Path) -> None:
    """Write until the disk refuses another byte."""
    with contextlib.suppress(OSError), open(disk / "filler", "wb") as filler:
        while True:
            filler.write(b"\0" * 4096)
            filler.flush()


def test_a_disk_filling_up_mid_run_stops_it_resumably_with_exit_5(tmp_path: Path) -> None:
    docs = _texts(tmp_path / "docs", 200)  # 200 x 5.4 kB: outputs need about 2.5 MB, the disk holds 1 MiB
    assert (
        run_cli("run", str(docs), "-q", "-j", "2", "-o", "roomy", "--state", "roomy-state", cwd=tmp_path).returncode
        == 0
    )
    with small_disk(tmp_path / "disk", "1m") as disk:
        result = run_cli("run", str(docs), "-q", "-j", "2", "-o", "disk/out", cwd=tmp_path)
        assert result.returncode == ENVIRONMENT, result.stderr
        line = _one_line(result.stderr)
        assert line.startswith("docbatch: environment failure: disk full writing disk/out (No space left on device); ")
        assert "documents left pending, run again to resume" in line
        left = int(line.split("; ")[1].split()[0])
        assert 0 < left < 200
        # No half-written output or temporary file is left behind; the ledger holds no failure.
        assert not [name for name in os.listdir(disk / "out") if name.startswith(".") and name != ".docbatch-output"]
        states = _ledger_states(tmp_path / ".docbatch")
        assert set(states) <= {"succeeded", "pending"}, states
        assert states["pending"] == (left, 0)  # no attempt spent on the documents the disk refused
        with sqlite3.connect(tmp_path / ".docbatch" / "ledger.sqlite") as db:
            assert db.execute("SELECT status, exit_code FROM runs").fetchall() == [("interrupted", ENVIRONMENT)]
        report_path = disk / "out" / "report.json"
        if report_path.exists():  # written when it fitted (the refused documents' files were removed)
            report = json.loads(report_path.read_text())
            assert report["exit_code"] == ENVIRONMENT and report["counts"]["pending"] == left
            assert report["counts"]["failed"] == report["counts"]["dead"] == 0
        else:
            assert "the report could not be written (No space left on device)" in line

        grow_disk(disk, "16m")  # the operator frees room
        again = run_cli("run", str(docs), "-q", "-j", "2", "-o", "disk/out", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        report = json.loads((disk / "out" / "report.json").read_text())
        assert report["counts"]["succeeded"] == left and report["counts"]["skipped"] == 200 - left
        match, mismatch, errors = filecmp.cmpfiles(
            tmp_path / "roomy", disk / "out", [f"doc{index:03d}.txt.json" for index in range(200)], shallow=False
        )
        assert (len(match), mismatch, errors) == (200, [], [])


def test_a_ledger_filling_its_disk_mid_run_stops_it_resumably_with_exit_5(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for index in range(1500):
        (docs / f"t{index:04d}.txt").write_text(f"doc {index}\n")
    with small_disk(tmp_path / "disk", "256k") as disk:
        result = run_cli("run", str(docs), "-q", "-j", "2", "--state", "disk/state", cwd=tmp_path)
        assert result.returncode == ENVIRONMENT, result.stderr
        line = _one_line(result.stderr)
        assert line.startswith(
            "docbatch: environment failure: disk/state/ledger.sqlite: cannot write the ledger: disk full"
        )
        report = json.loads((tmp_path / "docbatch-out" / "report.json").read_text())
        assert report["exit_code"] == ENVIRONMENT and report["counts"]["pending"] > 0
        assert report["counts"]["failed"] == report["counts"]["dead"] == 0

        grow_disk(disk, "16m")
        again = run_cli("run", str(docs), "-q", "-j", "2", "--state", "disk/state", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert set(_ledger_states(disk / "state")) == {"succeeded"}
        assert _ledger_states(disk / "state")["succeeded"][0] == 1500


@contextlib.contextmanager
def _immutable(folder: Path) -> Iterator[None]:
    """``folder`` refuses new files even to root (chattr +i: EPERM), as a folder of another user
    refuses them to the run's user; skips where the file system has no such attribute."""
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot make a folder immutable here: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True, check=False)


def test_an_output_folder_that_refuses_writes_stops_the_run_with_exit_5_not_failures(tmp_path: Path) -> None:
    # out/office/ refuses new files: no document bound there can be written, so the run stops as for
    # a full disk and spends no attempt, instead of failing them one by one as io (then dead).
    write_texts(tmp_path / "docs" / "office", "a.txt", "b.txt")
    (tmp_path / "out" / "office").mkdir(parents=True)
    with _immutable(tmp_path / "out" / "office"):
        result = run_cli("run", "docs", "-q", "-j", "1", "-o", "out", cwd=tmp_path)
        assert result.returncode == ENVIRONMENT, result.stderr
        line = _one_line(result.stderr)
        assert line.startswith("docbatch: environment failure: no permission to write in ")
        assert "out/office (Operation not permitted; document office/" in line
        assert line.endswith("left pending, run again to resume")
        states = _ledger_states(tmp_path / ".docbatch")
        assert set(states) == {"pending"} and states["pending"][1] == 0, states  # no attempt spent
        as_json = run_cli("run", "docs", "-q", "-j", "1", "-o", "out", "--log-format", "json", cwd=tmp_path)
        event = json.loads(_one_line(as_json.stderr))  # the same line as a JSON error event
        assert (event["event"], event["level"], event["exit_code"]) == ("error", "error", ENVIRONMENT)
        assert event["message"].startswith("environment failure: no permission to write in ")
    resumed = run_cli("run", "docs", "-q", "-j", "1", "-o", "out", cwd=tmp_path)  # the folder is fixed
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "office").iterdir()) == ["a.txt.json", "b.txt.json"]


def test_a_ledger_damaged_inside_is_exit_5_naming_it(tmp_path: Path) -> None:
    docs = _texts(tmp_path / "docs", 300, words=1)
    assert run_cli("run", str(docs), "-q", cwd=tmp_path).returncode == 0
    ledger = tmp_path / ".docbatch" / "ledger.sqlite"
    with sqlite3.connect(ledger) as db:  # the page holding the documents' key index, read per document
        (root_page,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_documents_1'")
    page_size = 4096
    with ledger.open("r+b") as damaged:
        damaged.seek((root_page[0] - 1) * page_size)
        damaged.write(b"\xde\xad" * (page_size // 2))
    result = run_cli("run", str(docs), "-q", cwd=tmp_path)
    assert result.returncode == ENVIRONMENT, result.stderr
    line = _one_line(result.stderr)
    assert line.startswith("docbatch: error: .docbatch/ledger.sqlite: cannot read the ledger: the file is damaged")


def test_a_report_that_cannot_be_written_is_said_and_the_summary_names_no_file(tmp_path: Path) -> None:
    write_texts(tmp_path / "docs", "a.txt")
    (tmp_path / "out" / "reports").mkdir(parents=True)
    with _immutable(tmp_path / "out" / "reports"):
        result = run_cli("run", "docs", "-o", "out", cwd=tmp_path)
    assert result.returncode == ENVIRONMENT, result.stderr
    assert "docbatch: environment failure: cannot write the report out/reports/" in result.stderr
    (summary,) = [line for line in result.stdout.splitlines() if " docbatch summary " in line]
    assert summary.endswith(" report=none")  # not the path of a file that is not there
    assert not (tmp_path / "out" / "report.json").exists()
