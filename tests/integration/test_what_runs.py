"""Issue 12, items 2 and 3 through the real CLI: what a run reads, counts and writes, and that two
runs never write over each other's outputs."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli, write_texts


def _report(output: Path) -> dict[str, object]:
    report: dict[str, object] = json.loads((output / "report.json").read_text())
    return report


def _counts(output: Path) -> dict[str, int]:
    counts: dict[str, int] = _report(output)["counts"]  # type: ignore[assignment]
    return counts


def _failures(output: Path) -> list[tuple[str, str, str]]:
    failures: list[dict[str, str]] = _report(output)["failures"]  # type: ignore[assignment]
    return [(item["source_id"], item["error_kind"], item["message"]) for item in failures]


def _outputs(output: Path) -> list[str]:
    return sorted(
        path.relative_to(output).as_posix()
        for path in output.rglob("*")
        if path.is_file()
        and path.name not in {"report.json", ".docbatch-output"}
        and path.relative_to(output).parts[0] != "reports"  # each run's own report
    )


def test_nothing_the_run_writes_is_read_back_and_old_docbatch_folders_are_not_counted(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt", "b.txt")
    # A state folder of an earlier run with another --state, and one named without a dot.
    assert run_cli("run", ".", "-q", cwd=docs).returncode == 0
    assert run_cli("run", ".", "-q", "--state", "st", "-o", "out-st", cwd=docs).returncode == 0
    for _ in range(2):
        result = run_cli("run", ".", "-q", "--state", "/tmp/../" + str(tmp_path / "elsewhere"), "-o", "out",
                         "--log-file", "run.log", "--format", "jsonl", cwd=docs)  # fmt: skip
        assert result.returncode == 0, result.stderr
    # The second run found the same two documents, done: not run.log, not documents.jsonl, not the
    # outputs of the earlier runs (docbatch-out/, out-st/), not .docbatch/ or st/ (not even as skipped folders).
    assert _counts(docs / "out") == {"discovered": 2, "succeeded": 0, "skipped": 2, "failed": 0, "dead": 0,
                                     "cancelled": 0, "pending": 0, "dead_carried_over": 0}  # fmt: skip


def test_an_output_or_state_folder_that_holds_the_input_is_refused_before_the_batch(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    for args, message in (
        (["run", "docs", "-o", "docs"], "docs: it is the -o/--output folder docs or inside it"),
        (["run", "docs/a.txt", "-o", "docs"], "docs/a.txt: it is the -o/--output folder docs or inside it"),
        (["run", "docs", "--state", "."], "docs: it is the --state folder . or inside it"),
    ):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(f"docbatch: error: {message}"), line
    assert sorted(path.name for path in docs.iterdir()) == ["a.txt"]


def test_each_document_once_however_the_paths_are_spelled(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "b.txt")
    write_texts(docs / "a", "x.txt")
    (tmp_path / "link").symlink_to(docs)
    result = run_cli("run", "docs", "docs/a", "./docs/", str(docs), "link", "docs/a/x.txt", "-o", "out", "-q",
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert _counts(tmp_path / "out")["discovered"] == 2
    # Ids of the first spelling: one folder, so relative to it.
    assert _outputs(tmp_path / "out") == ["a/x.txt.json", "b.txt.json"]


def test_filters_read_like_gitignore_and_what_they_leave_out_is_not_counted(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "drafts", "notes.txt")
    write_texts(docs / "a" / "drafts", "old.md")
    (docs / "SCAN.PDF").write_bytes((REPO / "sample_docs" / "annual-report-2025.pdf").read_bytes())
    result = run_cli("run", "docs", "--exclude", "drafts/", "--exclude", "*.TXT", "-o", "out", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # The file named drafts is kept (the pattern is for folders), the folder a/drafts pruned; *.TXT
    # leaves out notes.txt, and what the filters leave out is not a discovered document.
    assert _outputs(tmp_path / "out") == ["SCAN.PDF.json", "drafts.json"]
    assert _counts(tmp_path / "out")["discovered"] == 2
    assert _counts(tmp_path / "out")["skipped"] == 0
    included = run_cli("run", "docs", "--include", "*.pdf", "-o", "only-pdf", "-q", cwd=tmp_path)
    assert included.returncode == 0, included.stderr
    assert _outputs(tmp_path / "only-pdf") == ["SCAN.PDF.json"]
    assert _counts(tmp_path / "only-pdf")["discovered"] == 1


def test_manifest_rows_outside_its_folder_get_ids_and_outputs_inside_the_output_folder(tmp_path: Path) -> None:
    write_texts(tmp_path / "shared", "x.txt")
    lists = write_texts(tmp_path / "lists", "here.txt")
    (lists / "batch.csv").write_text("path\n../shared/x.txt\nhere.txt\n./here.txt\n")
    result = run_cli("run", "--manifest", "lists/batch.csv", "-o", "out", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _outputs(tmp_path / "out") == ["%2E%2E/shared/x.txt.json", "here.txt.json"]
    payload = json.loads((tmp_path / "out" / "%2E%2E" / "shared" / "x.txt.json").read_text())
    assert payload["source"]["id"] == "../shared/x.txt"
    assert _counts(tmp_path / "out")["discovered"] == 2  # ./here.txt is here.txt


def test_a_missing_manifest_row_is_a_failure_with_its_reason_and_exit_1(tmp_path: Path) -> None:
    write_texts(tmp_path, "a.txt")
    (tmp_path / "list.txt").write_text("a.txt\nmissing.pdf\n")
    result = run_cli("run", "--manifest", "list.txt", "-o", "out", "-q", "--retries", "2", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert _failures(tmp_path / "out") == [
        ("missing.pdf", "io", "cannot read missing.pdf: no such file or directory (listed in list.txt line 2)")
    ]
    # Dead at once: a missing file does not appear between two tries.
    assert _counts(tmp_path / "out")["dead"] == 1 and _report(tmp_path / "out")["retries"] == 0


def test_a_folder_without_read_permission_fails_the_run_with_its_reason(public_tmp: Path) -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to drop root's permission override")
    locked = public_tmp / "docs" / "locked"
    write_texts(locked, "x.txt")
    (public_tmp / "docs").chmod(0o755)
    locked.chmod(0)
    environment = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(public_tmp)}
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         sys.executable, "-m", "docbatch", "run", "docs", "-o", "out", "-q"],
        cwd=public_tmp, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    locked.chmod(0o755)
    assert result.returncode == 1, result.stderr
    assert _failures(public_tmp / "out") == [("locked", "io", "cannot read folder docs/locked: permission denied")]


def _wait_for_holder(marker: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if marker.is_file() and "pid=" in marker.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{marker} was never taken")


def test_two_runs_from_different_folders_never_write_the_same_outputs_at_once(tmp_path: Path) -> None:
    write_texts(tmp_path / "docs", "a.txt")
    for name in ("cron", "shell"):
        (tmp_path / name).mkdir()
    slow = subprocess.Popen(
        [sys.executable, "-m", "docbatch", "run", "../docs", "-o", "../out", "-q",
         "--exec", "sh -c 'sleep 5; cat \"$0\"' {in}"],
        cwd=tmp_path / "cron", env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for_holder(tmp_path / "out" / ".docbatch-output")
        # Another working directory, so another default state folder: the output folder's lock decides.
        second = run_cli("run", "../docs", "-o", "../out", "-q", cwd=tmp_path / "shell")
    finally:
        _, errors = slow.communicate(timeout=120)
    assert slow.returncode == 0, errors
    assert second.returncode == 3, second.stderr
    (line,) = second.stderr.strip().splitlines()
    assert line.startswith(f"docbatch: error: another run holds ../out: pid {slow.pid} on ")
    # Sequential runs of another ledger are refused: that ledger does not know these outputs.
    third = run_cli("run", "../docs", "-o", "../out", "-q", cwd=tmp_path / "shell")
    assert third.returncode == 2
    (line,) = third.stderr.strip().splitlines()
    assert line == (
        f"docbatch: error: -o/--output ../out: its outputs belong to the ledger in {tmp_path}/cron/.docbatch, "
        f"not to this run's {tmp_path}/shell/.docbatch; run with --state {tmp_path}/cron/.docbatch "
        "(or choose another output folder)"
    )
    assert run_cli("run", "../docs", "-o", "../out", "-q", "--state", "../cron/.docbatch",
                   cwd=tmp_path / "shell").returncode == 0  # fmt: skip


def test_an_output_folder_whose_ledger_is_gone_is_taken_over_with_a_warning(tmp_path: Path) -> None:
    write_texts(tmp_path / "docs", "a.txt")
    assert run_cli("run", "docs", "-o", "out", "--state", "old", "-q", cwd=tmp_path).returncode == 0
    shutil.rmtree(tmp_path / "old")
    result = run_cli("run", "docs", "-o", "out", "--state", "new", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"out belonged to the ledger in {tmp_path}/old, which is gone; it now belongs to {tmp_path}/new" in (
        result.stderr
    )


def test_two_documents_mapping_to_one_output_file_the_later_fails_as_collision(tmp_path: Path) -> None:
    write_texts(tmp_path / "docs", "a.txt", "b.txt")
    # Two ids, one output file: "reports/./q" and "reports/q" are both out/reports/q.json.
    (tmp_path / "list.csv").write_text("path,id\ndocs/a.txt,reports/q\ndocs/b.txt,reports/./q\n")
    result = run_cli("run", "--manifest", "list.csv", "-o", "out", "-q", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert _failures(tmp_path / "out") == [
        ("reports/./q", "collision", f"its output out/reports/q.json is already taken in this run by 'reports/q' "
                                     f"({tmp_path}/docs/a.txt); it is not written over")
    ]  # fmt: skip
    assert json.loads((tmp_path / "out" / "reports" / "q.json").read_text())["source"]["path"].endswith("a.txt")


def test_an_output_recorded_as_another_documents_is_never_written_over(tmp_path: Path) -> None:
    write_texts(tmp_path / "docs", "a.txt", "b.txt")
    (tmp_path / "first.csv").write_text("path,id\ndocs/a.txt,reports/q\n")
    (tmp_path / "second.csv").write_text("path,id\ndocs/b.txt,reports//q\n")
    assert run_cli("run", "--manifest", "first.csv", "-o", "out", "-q", cwd=tmp_path).returncode == 0
    result = run_cli("run", "--manifest", "second.csv", "-o", "out", "-q", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    ((source_id, kind, message),) = _failures(tmp_path / "out")
    assert (source_id, kind) == ("reports//q", "collision")
    assert message.startswith(f"its output out/reports/q.json belongs to 'reports/q' ({tmp_path}/docs/a.txt)")
    assert json.loads((tmp_path / "out" / "reports" / "q.json").read_text())["source"]["path"].endswith("a.txt")
    ledger = sqlite3.connect(tmp_path / ".docbatch" / "ledger.sqlite")
    states = dict(ledger.execute("SELECT source_id, state FROM documents").fetchall())
    assert states == {"reports/q": "succeeded", "reports//q": "dead"}


def test_a_walked_and_a_listed_document_with_one_id_do_not_share_a_ledger_row(tmp_path: Path) -> None:
    write_texts(tmp_path / "docs", "a.txt")
    write_texts(tmp_path / "other", "a.txt")
    (tmp_path / "list.txt").write_text("other/a.txt\n")
    (tmp_path / "docs" / "other").mkdir()
    (tmp_path / "docs" / "other" / "a.txt").write_text("walked\n")
    result = run_cli("run", "docs", "--manifest", "list.txt", "-o", "out", "-q", "--format", "jsonl", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    ((source_id, kind, message),) = _failures(tmp_path / "out")
    assert (source_id, kind) == ("other/a.txt#dup", "collision")
    assert f"already taken in this run by 'other/a.txt' ({tmp_path}/docs/other/a.txt)" in message
    lines = (tmp_path / "out" / "documents.jsonl").read_text().splitlines()
    assert [json.loads(line)["text"].strip() for line in lines if '"other/a.txt"' in line] == ["walked"]


def test_retry_failed_repeats_a_document_from_outside_the_manifest_folder(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "bad.pdf").write_bytes(b"%PDF-1.7 cut short")
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "batch.txt").write_text("../shared/bad.pdf\n")
    assert run_cli("run", "--manifest", "lists/batch.txt", "-o", "out", "-q", cwd=tmp_path).returncode == 1
    result = run_cli("retry-failed", "-q", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    ledger = sqlite3.connect(tmp_path / ".docbatch" / "ledger.sqlite")
    # Tried again as the same document (its id came from docbatch, not from a user's `id` column).
    kinds = ledger.execute("SELECT error_kind FROM events WHERE source_id = '../shared/bad.pdf' AND state = 'dead'")
    assert [kind for (kind,) in kinds] == ["corrupt", "corrupt"]


def test_the_same_file_under_another_id_in_a_later_run_is_no_collision(tmp_path: Path) -> None:
    write_texts(tmp_path / "docs", "a.txt")
    (tmp_path / "first.txt").write_text("./docs/a.txt\n")  # as `find .` lists files
    (tmp_path / "second.txt").write_text("docs/a.txt\n")
    assert run_cli("run", "--manifest", "first.txt", "-o", "out", "-q", cwd=tmp_path).returncode == 0
    result = run_cli("run", "--manifest", "second.txt", "-o", "out", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _counts(tmp_path / "out")["succeeded"] == 1


def test_the_same_id_from_another_source_file_is_a_collision_until_forced(tmp_path: Path) -> None:
    for folder, text in (("a", "AAA\n"), ("b", "BBB\n")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "r.txt").write_text(text)
    os.utime(tmp_path / "b" / "r.txt", ns=(os.stat(tmp_path / "a" / "r.txt").st_mtime_ns,) * 2)  # same fingerprint
    output = tmp_path / "o3"
    assert run_cli("run", "a", "-o", "o3", "--state", "s3", "-q", cwd=tmp_path).returncode == 0

    def text() -> str:
        return str(json.loads((output / "r.txt.json").read_text())["text"]).strip()

    for mtime_ns in (None, 10**18):  # unchanged by size and mtime, then changed: neither replaces a's output
        if mtime_ns is not None:
            os.utime(tmp_path / "b" / "r.txt", ns=(mtime_ns, mtime_ns))
        result = run_cli("run", "b", "-o", "o3", "--state", "s3", "-q", cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        ((source_id, kind, message),) = _failures(output)
        assert (source_id, kind) == ("r.txt#dup", "collision")
        assert message == (
            f"its output o3/r.txt.json belongs to {tmp_path}/a/r.txt, a different file recorded under the id "
            "'r.txt' by an earlier run; it is not written over (--force replaces it, or use another -o)"
        )
        assert text() == "AAA"
    with sqlite3.connect(tmp_path / "s3" / "ledger.sqlite") as ledger:  # a's row is left as it was
        assert ledger.execute("SELECT path, state FROM documents WHERE source_id = 'r.txt'").fetchone() == (
            f"{tmp_path}/a/r.txt",
            "succeeded",
        )
    assert run_cli("run", "a", "-o", "o3", "--state", "s3", "-q", cwd=tmp_path).returncode == 0  # still a's

    forced = run_cli("run", "b", "-o", "o3", "--state", "s3", "-q", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert text() == "BBB" and _counts(output)["succeeded"] == 1


def test_another_runs_output_folder_given_as_a_path_is_refused(tmp_path: Path) -> None:
    docs = write_texts(tmp_path / "docs", "a.txt")
    assert run_cli("run", str(docs), "-q", "-o", "first", cwd=tmp_path).returncode == 0
    result = run_cli("run", "first", "-q", "-o", "second", "--state", "other", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "docbatch: error: first: it is the output folder of a docbatch run (it holds .docbatch-output); its "
        "outputs are not documents: give the folder the documents came from\n"
    )
    assert not (tmp_path / "second").exists()  # refused before anything was made
