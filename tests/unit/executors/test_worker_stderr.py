from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from docbatch.executors.worker_stderr import LEFT_BEHIND_AFTER_S, _clear_left_behind, new_capture_folder


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _folder(parent: Path, owner: int, *, age_s: float) -> Path:
    folder = parent / f"docbatch-workers-{owner}-abc123"
    folder.mkdir()
    (folder / "4242-1.stderr").write_text("a worker's last words\n")
    moment = time.time() - age_s
    for path in (folder / "4242-1.stderr", folder):
        os.utime(path, (moment, moment))
    return folder


def test_folders_left_by_a_killed_owner_are_cleared_once_nothing_touches_them(tmp_path: Path) -> None:
    # A coordinator or Dask worker killed with SIGKILL never removes its folder: they piled up in /tmp.
    dead = _dead_pid()
    old = LEFT_BEHIND_AFTER_S + 60
    left_behind = _folder(tmp_path, dead, age_s=old)
    recent = _folder(tmp_path, _dead_pid(), age_s=0)
    alive = _folder(tmp_path, os.getpid(), age_s=old)
    other = tmp_path / "docbatch-workers-notapid"
    other.mkdir()
    _clear_left_behind(str(tmp_path))
    assert not left_behind.exists()
    assert recent.exists()  # its owner may just have died: not yet
    assert alive.exists()  # a live owner's folder is never touched
    assert other.exists()  # not named by an owner pid: not ours to judge


def test_a_new_folder_names_its_owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    folder = Path(new_capture_folder())
    assert folder.parent == tmp_path
    assert folder.name.startswith(f"docbatch-workers-{os.getpid()}-")
