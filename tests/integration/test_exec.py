"""`--exec` runs an external tool per document without a shell, in the supervised workers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import run_cli


def test_exec_output_file_becomes_the_text_and_names_never_reach_a_shell(tmp_path: Path, sample_docs: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(sample_docs / "data" / "notes.md", docs / "$(touch PWNED).md")
    shutil.copy(sample_docs / "data" / "notes.md", docs / "a; touch PWNED2.md")
    result = run_cli("run", str(docs), "-q", "--exec", "cp {in} {out}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "PWNED2").exists()
    assert not list(tmp_path.rglob("PWNED*"))
    output = json.loads((tmp_path / "docbatch-out" / "$(touch PWNED).md.json").read_text())
    assert "Volunteer handbook" in output["text"]
    assert output["processor"]["version"] == "exec/cp {in} {out}"


def test_exec_stdout_is_the_text_when_there_is_no_out(tmp_path: Path, sample_docs: Path) -> None:
    result = run_cli("run", str(sample_docs / "data" / "loans.csv"), "-q", "--exec", "tr a-z A-Z < {in}", cwd=tmp_path)
    # `<` is an argument to tr here, not a redirection: tr fails, and the failure is recorded with stderr.
    assert result.returncode == 1
    report = json.loads((tmp_path / "docbatch-out" / "report.json").read_text())
    (failure,) = report["failures"]
    assert failure["error_kind"] == "corrupt" and "tr exited with status 1" in failure["message"]
    ok = run_cli("run", str(sample_docs / "data" / "loans.csv"), "-q", "--exec", "head -n 1 {in}", cwd=tmp_path)
    assert ok.returncode == 0
    assert json.loads((tmp_path / "docbatch-out" / "loans.csv.json").read_text())["text"] == "isbn,title,loans\n"


def test_exec_template_without_in_is_a_usage_error(tmp_path: Path, sample_docs: Path) -> None:
    result = run_cli("run", str(sample_docs), "--exec", "echo hello", cwd=tmp_path)
    assert result.returncode == 2
    assert "must take the document as {in}" in result.stderr
