"""The real `docbatch` command in a subprocess, as a user or cron runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.conftest import REPO, run_cli, survivors, wait_started


def test_run_on_sample_docs_reports_the_broken_file_and_exits_1(sample_docs: Path, tmp_path: Path) -> None:
    result = run_cli("run", str(sample_docs), "-o", "out", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["counts"]["succeeded"] == 15 and report["counts"]["dead"] == 1
    good = [p for p in sample_docs.rglob("*") if p.is_file() and "broken" not in p.parts]
    for source in good:
        output = tmp_path / "out" / (source.relative_to(sample_docs).as_posix() + ".json")
        assert json.loads(output.read_text())["text"].strip(), output
    # Cron-friendly: plain lines, the failure named with its reason, a summary line, no control codes.
    assert "dead corrupt broken/quarterly-figures.pdf: PDFium cannot open it" in result.stderr
    assert "docbatch summary" in result.stdout and "exit=1" in result.stdout
    assert "\x1b" not in result.stdout + result.stderr
    # The ledger lives in ./.docbatch of the working directory by default.
    assert (tmp_path / ".docbatch" / "ledger.sqlite").is_file()


def test_exit_0_when_every_document_succeeds_or_is_skipped(sample_docs: Path, tmp_path: Path) -> None:
    result = run_cli("run", str(sample_docs), "--exclude", "broken", "--format", "md", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert (tmp_path / "docbatch-out" / "office" / "board-minutes.docx.md").read_text().startswith("# Board minutes")


def test_missing_path_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_cli("run", "no/such/folder", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["docbatch: error: PATH: no such file or folder: no/such/folder"]


def test_bad_values_and_flags_exit_2_without_a_traceback(sample_docs: Path, tmp_path: Path) -> None:
    for args in (
        ["run", str(sample_docs), "--timeout", "soon"],
        ["run", str(sample_docs), "--max-file-size", "huge"],
        ["run", str(sample_docs), "-j", "0"],
        ["run", str(sample_docs), "--no-such-flag"],
        ["run"],
    ):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.stderr.strip(), args


def test_unimportable_processor_is_a_usage_error_before_the_batch(sample_docs: Path, tmp_path: Path) -> None:
    result = run_cli("run", str(sample_docs), "--processor", "nowhere.module:fn", cwd=tmp_path)
    assert result.returncode == 2
    assert "nowhere.module:fn" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "docbatch-out").exists()


def test_processors_lists_every_format_with_its_library_version(tmp_path: Path) -> None:
    result = run_cli("processors", "--json", cwd=tmp_path)
    assert result.returncode == 0
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) >= {"pdf", "docx", "pptx", "spreadsheet", "html", "text", "csv", "json", "email"}
    assert rows["pdf"]["library"] == "pypdfium2" and rows["pdf"]["library_version"][0].isdigit()
    assert "xlsx" in rows["spreadsheet"]["extensions"]


def test_help_is_fast_because_it_imports_no_heavy_module() -> None:
    code = (
        "import sys, docbatch.cli.app as app\n"
        "heavy = {'rich', 'pypdfium2', 'docx', 'pptx', 'selectolax', 'python_calamine',"
        " 'sqlite3'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"


def test_workers_die_with_a_sigkilled_coordinator(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for index in range(2):
        (docs / f"hang{index}.txt").write_text("x")
    coordinator = subprocess.Popen(
        [sys.executable, "-m", "docbatch", "run", str(docs), "-j", "2", "-q",
         "--processor", "tests.helpers.processors:misbehave"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    parent = psutil.Process(coordinator.pid)
    deadline = time.monotonic() + 60
    workers: list[psutil.Process] = []
    while time.monotonic() < deadline:
        workers = [c for c in parent.children() if "resource_tracker" not in " ".join(c.cmdline())]
        if len(workers) >= 2:
            break
        time.sleep(0.05)
    assert len(workers) >= 2, "the workers never started"
    time.sleep(1.0)  # let them pick up the hanging jobs
    coordinator.send_signal(signal.SIGKILL)
    coordinator.wait()
    alive = survivors(workers, timeout_s=2.0)
    assert not alive, f"workers outlived the coordinator: {[p.pid for p in alive]}"


def test_ctrl_c_writes_an_interrupted_report_and_exits_4(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("hang0.txt", "hang1.txt", "later.txt"):
        (docs / name).write_text("x")
    coordinator = subprocess.Popen(
        [sys.executable, "-m", "docbatch", "run", str(docs), "-j", "2", "-q", "--grace", "1s",
         "--processor", "tests.helpers.processors:misbehave"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    wait_started(tmp_path, 2)  # both hang inside their workers; later.txt waits behind them
    coordinator.send_signal(signal.SIGINT)
    assert coordinator.wait(timeout=30) == 4
    report = json.loads((tmp_path / "docbatch-out" / "report.json").read_text())
    assert report["status"] == "interrupted"
    assert (report["counts"]["cancelled"], report["counts"]["pending"]) == (2, 1)


def test_docbatch_toml_sets_defaults_that_flags_override(sample_docs: Path, tmp_path: Path) -> None:
    (tmp_path / "docbatch.toml").write_text('[run]\ntimeout = "7s"\nformat = "txt"\noutput = "from-toml"\n')
    assert run_cli("run", str(sample_docs), "-q", cwd=tmp_path).returncode == 1
    report = json.loads((tmp_path / "from-toml" / "report.json").read_text())
    assert report["config"]["pool"]["timeout_s"] == 7.0 and report["config"]["output"]["format"] == "txt"
    # The broken sample is carried over dead, unchanged: nothing new failed (exit 6).
    assert run_cli("run", str(sample_docs), "-q", "--timeout", "9s", cwd=tmp_path).returncode == 6
    report = json.loads((tmp_path / "from-toml" / "report.json").read_text())
    assert report["config"]["pool"]["timeout_s"] == 9.0


def test_unreadable_docbatch_toml_is_a_usage_error(sample_docs: Path, tmp_path: Path) -> None:
    (tmp_path / "docbatch.toml").write_text("[run]\ntimeout = \n")
    result = run_cli("run", str(sample_docs), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("docbatch: error: docbatch.toml: cannot read configuration")


def test_an_output_or_state_folder_that_cannot_be_made_is_a_one_line_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("text")
    (tmp_path / "taken").write_text("a file, not a folder")
    for flags, named in ((("-o", "taken"), "-o/--output taken"), (("--state", "taken"), "--state taken")):
        result = run_cli("run", "a.txt", *flags, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr == f"docbatch: error: {named}: a file is in the way (a folder is needed there)\n"
