"""Quiet means quiet: what `docbatch` prints under cron (no terminal), where a job's stderr goes, and
`--log-format json` on every line. The real CLI in a subprocess, real workers, the real ledger."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from docbatch.errors import ExitCode
from tests.conftest import REPO, run_cli, write_texts

NOISY = "tests.helpers.noisy:noisy"


def _json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` parsed as one JSON object (fails on any line that is not)."""
    return [json.loads(line) for line in text.splitlines()]


def _final_details(state: Path) -> dict[str, dict[str, Any]]:
    """Each document's last event's details in the ledger, by source id."""
    with sqlite3.connect(state / "ledger.sqlite") as ledger:
        rows = ledger.execute("SELECT source_id, details FROM events WHERE state != 'running' ORDER BY id").fetchall()
    return {source_id: json.loads(details) for source_id, details in rows}


def test_q_prints_nothing_for_a_clean_run_nor_for_one_with_failed_documents(tmp_path: Path) -> None:
    clean = write_texts(tmp_path / "clean", "a.txt", "b.txt")
    result = run_cli("run", str(clean), "-q", "-o", "out1", "--state", "s1", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (ExitCode.OK, "", "")
    # Failed documents are the run's result (exit 1, the report, the ledger, --log-file), not mail from cron.
    docs = write_texts(tmp_path / "docs", "raise.txt", "ok.txt")
    result = run_cli("run", str(docs), "-q", "--processor", NOISY, "-o", "out2", "--state", "s2", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (ExitCode.DOCUMENTS_FAILED, "", "")


def test_a_jobs_stderr_stays_off_the_terminal_and_its_tail_is_kept_in_the_ledger_and_the_report(
    tmp_path: Path,
) -> None:
    docs = write_texts(tmp_path / "docs", "chatty.txt", "panics.txt", "plain.txt", "floods.txt")
    result = run_cli(
        "run", str(docs), "-q", "-j", "1", "--retries", "0", "--processor", NOISY, cwd=tmp_path,
        env={"RUST_BACKTRACE": "1"},
    )  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (ExitCode.DOCUMENTS_FAILED, "", "")
    (failure,) = json.loads((tmp_path / "docbatch-out" / "report.json").read_text())["failures"]
    # The panic's own lines, not its backtrace frames; nothing another job of the same worker wrote.
    assert failure["source_id"] == "panics.txt"
    assert failure["stderr"] == (
        "thread '<unnamed>' panicked at src/parser.rs:412:9:\nindex out of bounds: the len is 3 but the index is 7"
    )
    details = _final_details(tmp_path / ".docbatch")
    assert details["panics.txt"]["stderr"] == failure["stderr"]
    # A document that succeeded keeps its stderr in the ledger only, without the terminal's colour codes.
    chatty = details["chatty.txt"]
    assert chatty["stderr"] == "warning: font table of chatty.txt is damaged\npython says: chatty.txt looks odd"
    assert chatty["stderr_bytes"] > len(chatty["stderr"])
    assert "stderr" not in details["plain.txt"]  # nothing written, nothing stored
    flood = details["floods.txt"]["stderr"]
    assert len(flood) <= 2048 and flood.endswith("line 1999 of a library that never stops talking about floods.txt")
    assert details["floods.txt"]["stderr_bytes"] > 100_000


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_what_a_processor_prints_to_stdout_never_reaches_the_commands_stdout(tmp_path: Path, log_format: str) -> None:
    docs = write_texts(tmp_path / "docs", "prints.txt", "ok.txt")
    quiet = run_cli("run", str(docs), "-q", "-j", "1", "--processor", NOISY, "-o", "o1", "--state", "s1", cwd=tmp_path)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (ExitCode.OK, "", "")
    shown = run_cli(
        "run", str(docs), "-j", "1", "--processor", NOISY, "--log-format", log_format, "-o", "o2", "--state", "s2",
        cwd=tmp_path,
    )  # fmt: skip
    said = shown.stdout + shown.stderr
    assert shown.returncode == ExitCode.OK and "python print:" not in said and "native printf:" not in said
    if log_format == "json":
        assert [line["event"] for line in _json_lines(shown.stdout)] == ["summary"]
    # Kept with the job, in the order written.
    assert _final_details(tmp_path / "s1")["prints.txt"]["stderr"] == (
        "python print: reading prints.txt\nnative printf: prints.txt has 3 pages"
    )


def test_a_crash_quotes_only_what_the_crashing_job_wrote(tmp_path: Path) -> None:
    # One worker: the chatty document runs first in it, then the one that segfaults without a word.
    docs = write_texts(tmp_path / "docs", "chatty.txt", "segfault.txt", "abort.txt")
    result = run_cli("run", str(docs), "-q", "-j", "1", "--retries", "0", "--processor", NOISY, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (ExitCode.DOCUMENTS_FAILED, "")
    failures = {
        f["source_id"]: f for f in json.loads((tmp_path / "docbatch-out" / "report.json").read_text())["failures"]
    }
    assert failures["segfault.txt"]["message"] == "worker process died with SIGSEGV"
    assert failures["segfault.txt"]["stderr"] is None
    assert (
        failures["abort.txt"]["message"]
        == "worker process died with SIGABRT: memory allocation of 549742182400 bytes failed"
    )
    assert failures["abort.txt"]["stderr"] == "memory allocation of 549742182400 bytes failed"


def test_on_dask_local_a_jobs_stderr_stays_off_the_terminal_too(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    docs = write_texts(tmp_path / "docs", "chatty.txt", "panics.txt")
    result = run_cli(
        "run", str(docs), "-q", "--retries", "0", "--executor", "dask-local:1", "--processor", NOISY, cwd=tmp_path
    )  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (ExitCode.DOCUMENTS_FAILED, "", "")
    (failure,) = json.loads((tmp_path / "docbatch-out" / "report.json").read_text())["failures"]
    assert failure["stderr"].endswith("index out of bounds: the len is 3 but the index is 7")
    assert "python says: chatty.txt looks odd" in _final_details(tmp_path / ".docbatch")["chatty.txt"]["stderr"]


@pytest.mark.parametrize("quiet", [False, True])
def test_json_log_format_makes_every_line_json(tmp_path: Path, quiet: bool) -> None:
    docs = write_texts(tmp_path / "docs", "raise.txt", "ok.txt")
    result = run_cli(
        "run", str(docs), *(["-q"] if quiet else []), "--log-format", "json", "--log-file", "run.jsonl",
        "--processor", NOISY, "--retries", "0", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == ExitCode.DOCUMENTS_FAILED, result.stderr
    stdout, stderr = _json_lines(result.stdout), _json_lines(result.stderr)
    logged = _json_lines((tmp_path / "run.jsonl").read_text())
    start, failure, summary = logged[0], logged[1], logged[-1]
    assert start["event"] == "start" and start["level"] == "info"
    assert start["run_id"] == summary["run_id"]
    assert start["command"][:2] == ["docbatch", "run"] and "--log-format" in start["command"]
    assert start["config"]["processor_override"] == NOISY and start["config"]["retries"] == 0
    assert (failure["event"], failure["level"], failure["source_id"]) == ("failure", "warning", "raise.txt")
    assert (summary["event"], summary["exit_code"], summary["dead"]) == ("summary", 1, 1)
    if quiet:
        assert (stdout, stderr) == ([], [])
    else:
        assert stdout == [summary]  # the summary line on stdout is the log file's, as JSON
        assert [line["event"] for line in stderr] == ["start", "failure"]


def test_json_log_format_errors_are_json_too(tmp_path: Path) -> None:
    result = run_cli("run", "no/such/folder", "--log-format", "json", "-q", cwd=tmp_path)
    assert result.returncode == ExitCode.USAGE and result.stdout == ""
    (line,) = _json_lines(result.stderr)
    assert (line["event"], line["level"], line["exit_code"]) == ("error", "error", 2)
    assert line["message"] == "PATH: no such file or folder: no/such/folder"


def test_retry_failed_in_json_prints_only_json(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "raise.txt", "ok.txt")
    assert run_cli("run", str(docs), "-q", "--processor", NOISY, cwd=tmp_path).returncode == 1
    result = run_cli("retry-failed", "--log-format", "json", cwd=tmp_path)
    assert result.returncode == ExitCode.DOCUMENTS_FAILED, result.stderr
    stdout = _json_lines(result.stdout)
    assert [line["event"] for line in stdout] == ["retry_plan", "summary", "retry_result"]
    assert (stdout[-1]["retried"], stdout[-1]["succeeded"], stdout[-1]["still_failing"]) == (1, 0, 1)
    assert [line["event"] for line in _json_lines(result.stderr)] == ["start", "failure"]
    quiet = run_cli("retry-failed", "-q", cwd=tmp_path)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (ExitCode.DOCUMENTS_FAILED, "", "")


def test_a_log_file_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    (tmp_path / "logs").mkdir()
    folder = run_cli("run", str(docs), "-q", "--log-file", "logs", cwd=tmp_path)
    assert (folder.returncode, folder.stderr) == (
        ExitCode.USAGE,
        "docbatch: error: --log-file logs: a folder is in the way (a file is needed there)\n",
    )


def test_a_log_file_without_permission_is_one_line_and_exit_5() -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the CLI as a user without permission")
    # pytest's own temporary folders are private to root: this one must be reachable by `nobody`.
    with tempfile.TemporaryDirectory(prefix="docbatch-quiet-") as name:
        place = Path(name)
        place.chmod(0o777)
        docs = write_texts(place / "docs", "a.txt")
        (place / "logs").mkdir(mode=0o555)
        (place / "logs").chmod(0o555)
        denied = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "docbatch", "run",
             str(docs), "-q", "--log-file", "logs/run.log"],
            cwd=place, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
            stdin=subprocess.DEVNULL, timeout=120,
        )  # fmt: skip
        assert denied.returncode == ExitCode.ENVIRONMENT, denied.stderr
        assert denied.stderr == "docbatch: error: --log-file logs/run.log: no permission to create or write it\n"
        assert not (place / "docbatch-out" / "report.json").exists()  # refused before the batch


def test_uv_run_quiet_adds_no_line_of_its_own() -> None:
    """What the README's quick start relies on: `uv run --frozen --quiet` prints nothing of uv's."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed here")
    result = subprocess.run(
        [uv, "run", "--frozen", "--quiet", "docbatch", "--version"],
        cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert result.stdout.startswith("docbatch ")
