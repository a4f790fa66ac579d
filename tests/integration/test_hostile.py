"""A folder of real documents mixed with hostile ones, through the real CLI: every good document is
processed, every bad one gets its precise kind, nothing is written outside the output folder."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

from tests.conftest import run_cli

MiB = 2**20


def _zip_bomb(path: Path) -> None:
    """A .docx whose main part unpacks 50 MiB of zeros from a few tens of KB."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (50 * MiB))


def _xml_bomb(path: Path) -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "lollollollol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><x>&c;</x>'
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", bomb)


def _tree(root: Path, leave_out: set[str]) -> set[str]:
    found = set()
    for folder, subfolders, files in os.walk(root, followlinks=False):
        subfolders[:] = [name for name in subfolders if name not in leave_out]
        found |= {os.path.join(folder, name) for name in files + subfolders}
    return found


def test_hostile_folder(tmp_path: Path, sample_docs: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(sample_docs, docs)
    hostile = docs / "hostile"
    hostile.mkdir()
    for name in ("hang.pdf", "alloc.txt", "segfault.txt", "exit.txt"):
        (hostile / name).write_text("x")
    _zip_bomb(hostile / "bomb.docx")
    _xml_bomb(hostile / "bomb.odt")
    os.mkfifo(hostile / "pipe.pdf")
    (hostile / "loop").symlink_to(hostile)
    (hostile / "dangling.txt").symlink_to(tmp_path / "nowhere")
    (hostile / "$(touch pwned); rm -rf ~.txt").write_text("shell metacharacters in a name")
    (hostile / "new\nline `x` 'q'.txt").write_text("a newline in a name")
    with open(os.fsencode(hostile) + b"/caf\xe9-latin1-name.txt", "wb") as handle:
        handle.write(b"undecodable file name")
    before = _tree(tmp_path, {"out", "state"})

    result = run_cli(
        "run", str(docs), "-o", "out", "--state", "state", "-j", "2", "--timeout", "3s", "--retries", "0",
        "--memory-per-job", "400MB", "--memory-limit", "1GiB", "--processor", "tests.helpers.processors:chaos",
        cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    kinds = {failure["source_id"]: failure["error_kind"] for failure in report["failures"]}
    assert kinds == {
        "broken/quarterly-figures.pdf": "corrupt",
        "hostile/hang.pdf": "timeout",
        "hostile/alloc.txt": "memory",
        "hostile/segfault.txt": "crash",
        "hostile/exit.txt": "crash",
        "hostile/bomb.docx": "too_large",
        "hostile/bomb.odt": "corrupt",
    }
    skipped = {entry["source_id"]: entry["reason"] for entry in report["skipped"]}
    assert skipped["hostile/pipe.pdf"] == "not a regular file (a FIFO)"
    assert skipped["hostile/dangling.txt"] == "dangling symlink"
    assert "symlink loop" in skipped["hostile/loop"]
    counts = report["counts"]
    assert counts["succeeded"] == 15 + 3  # the samples and the three oddly named files
    assert (tmp_path / "out" / "hostile" / "$(touch pwned); rm -rf ~.txt.json").is_file()
    assert (tmp_path / "out" / "hostile" / "caf\\xe9-latin1-name.txt.json").is_file()
    # Nothing new anywhere but the output and state folders; no command ran from a file name.
    assert _tree(tmp_path, {"out", "state"}) == before
    assert not (tmp_path / "pwned").exists()
    # The workers stayed within the memory limit plus the overshoot of one sampling interval.
    assert report["resources"]["peak_workers_total_bytes"] < 1024 * MiB * 1.25
